package main

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/shopspring/decimal"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/sandbox/radial"
)

// results is the evaluated run.
type results struct {
	scs          []*scenario
	runErr       error
	foreign      int // status events of other runs
	ledgerErr    error
	stray        []radial.Entry // ledger entries of this run's orders under unknown requestIds
	calls        *radial.Calls
	statusParked int // Radial statuses the worker parked during the run
	// confirms are the amounts of the ConfirmFunds calls the sandbox
	// processed, by order (from its log); nil when the log was unreadable.
	confirms map[string][]string
}

// ok reports whether every scenario matched.
func (r *results) ok() bool {
	if r == nil || r.ledgerErr != nil || len(r.stray) > 0 {
		return false
	}
	for _, s := range r.scs {
		if len(s.problems) > 0 {
			return false
		}
	}
	return true
}

// setLedger hands each scenario its ledger entries, and keeps the entries of
// this run's orders that belong to no scenario.
func (r *results) setLedger(all []radial.Entry, runID string) {
	byID := map[string]*scenario{}
	orders := map[string]bool{}
	for _, s := range r.scs {
		byID[s.id] = s
		orders[s.order] = true
	}
	for _, e := range all {
		if s := byID[e.RequestID]; s != nil {
			s.ledger = append(s.ledger, e)
		} else if orders[e.OrderID] || strings.Contains(e.RequestID, runID) {
			r.stray = append(r.stray, e)
		}
	}
}

// evaluate compares each scenario with its expectation.
func (r *results) evaluate() {
	for _, s := range r.scs {
		var p []string
		bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
		if s.expect[0] == outParked {
			if s.parked == "" {
				bad("not found in the parked queue")
			}
			if len(s.events) > 0 {
				bad("got status event(s) %s for a message that should be parked", s.gotStatuses())
			}
			for _, pp := range s.parkedProblems {
				bad("parked copy: %s", pp)
			}
		} else {
			if got, want := s.gotStatuses(), strings.Join(s.expect, "→"); got != want {
				bad("status events %s, expected %s", orNone(got), want)
			}
			for _, ev := range s.events {
				if ev.order != s.order {
					bad("status event %s names order %q, expected %q", short(ev.messageID), ev.order, s.order)
				}
				if ev.clientContext != s.clientContext {
					bad("status event %s carries ClientContext %q, expected the request's own %q", short(ev.messageID), ev.clientContext, s.clientContext)
				}
				for _, c := range ev.contract {
					bad("status event %s: %s", short(ev.messageID), c)
				}
				if ev.status != messages.StatusRejected {
					continue
				}
				for _, want := range s.reasons {
					if !strings.Contains(strings.ToLower(ev.reason), strings.ToLower(want)) {
						bad("R reason %q does not mention %q", ev.reason, want)
					}
				}
			}
		}
		if r.ledgerErr == nil {
			d, c := s.ledgerCounts()
			if d != s.want.debits || c != s.want.credits {
				bad("sandbox ledger has %d debit(s) and %d credit(s) for it, expected %d and %d", d, c, s.want.debits, s.want.credits)
			}
			if h := s.ledgerHistory(); h != s.want.history {
				bad("sandbox ledger history %s, expected %s", orNone(h), orNone(s.want.history))
			}
		}
		if s.resend && s.repeats == 0 {
			bad("the second publish produced no event; a duplicate of a finished request should republish its recorded event (same message_id)")
		}
		if r.confirms != nil {
			if got, want := r.confirms[s.order], r.wantConfirms(s.order); s.isFirstOn(r.scs) && strings.Join(got, ",") != strings.Join(want, ",") {
				bad("ConfirmFunds calls for order %s asked for [%s], expected [%s] (the original_authorization_amount, else the Amount; credits skip it)",
					s.order, strings.Join(got, ", "), strings.Join(want, ", "))
			}
		}
		if s.faulty && s.failed5xx != failNext {
			bad("the sandbox answered %d settle call(s) 503 while it ran, expected %d", s.failed5xx, failNext)
		}
		s.problems = p
	}
}

// wantConfirms is the amounts ConfirmFunds must be asked for on an order:
// one per valid debit.
func (r *results) wantConfirms(order string) []string {
	var out []string
	for _, s := range r.scs {
		if s.order == order && s.confirmAmt != "" {
			out = append(out, s.confirmAmt)
		}
	}
	sort.Strings(out)
	return out
}

// isFirstOn reports whether s is the first scenario on its order (which
// carries the order's ConfirmFunds check).
func (s *scenario) isFirstOn(scs []*scenario) bool {
	for _, o := range scs {
		if o.order == s.order {
			return o == s
		}
	}
	return false
}

func (s *scenario) gotStatuses() string {
	var st []string
	for _, ev := range s.events {
		st = append(st, ev.status)
	}
	return strings.Join(st, "→")
}

func (s *scenario) ledgerCounts() (debits, credits int) {
	for _, e := range s.ledger {
		switch e.Type {
		case messages.SettlementDebit:
			debits++
		case messages.SettlementCredit:
			credits++
		}
	}
	return debits, credits
}

// ledgerHistory joins the statuses the sandbox decided for the scenario's
// entries ("S→R"); entries are separated by "|".
func (s *scenario) ledgerHistory() string {
	var hs []string
	for _, e := range s.ledger {
		hs = append(hs, entryHistory(e))
	}
	return strings.Join(hs, "|")
}

// gotLabel is the GOT column.
func (s *scenario) gotLabel() string {
	if s.expect[0] == outParked && s.parked != "" {
		return fmt.Sprintf("parked %q", shorten(s.parked, 40))
	}
	got := orNone(s.gotStatuses())
	var reasons []string
	for _, ev := range s.events {
		if ev.reason != "" {
			reasons = append(reasons, shorten(ev.reason, 40))
		}
	}
	if len(reasons) > 0 {
		got += fmt.Sprintf(" %q", strings.Join(reasons, "; "))
	}
	if s.repeats > 0 {
		got += fmt.Sprintf(" +%d repeat (same message_id)", s.repeats)
	}
	if s.faulty {
		got += fmt.Sprintf(" after %d×503", s.failed5xx)
	}

	return got
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// report prints the summary table and the totals.
func (d *demo) report(r *results) {
	d.out.section("summary")
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REQUEST\tKIND\tEXPECTED\tGOT\tLEDGER D/C\tRESULT")
	for _, s := range r.scs {
		dc, c := s.ledgerCounts()
		ledger := fmt.Sprintf("%d/%d %s", dc, c, orNone(s.ledgerHistory()))
		if r.ledgerErr != nil {
			ledger = "?"
		}
		verdict := "OK"
		if len(s.problems) > 0 {
			verdict = "MISMATCH"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.id, s.kind, s.expectLabel(), s.gotLabel(), ledger, verdict)
	}
	_ = tw.Flush()
	d.out.raw(b.String())
	for _, s := range r.scs {
		for _, p := range s.problems {
			d.out.say("!! %s (%s): %s", s.id, s.kind, p)
		}
	}
	d.out.say("")
	d.totals(r)
}

func (d *demo) totals(r *results) {
	okN, publishes, events, repeats := 0, 0, 0, 0
	for _, s := range r.scs {
		if len(s.problems) == 0 {
			okN++
		}
		publishes += s.publishes()
		events += len(s.events)
		repeats += s.repeats
	}
	d.out.say("requests   %d (%d publishes): %d OK, %d MISMATCH", len(r.scs), publishes, okN, len(r.scs)-okN)
	line := fmt.Sprintf("events     %d status events for this run", events)
	if repeats > 0 {
		line += fmt.Sprintf(", %d repeat(s) with an already seen message_id dropped", repeats)
	}
	if r.foreign > 0 {
		line += fmt.Sprintf(", %d event(s) of other runs ignored", r.foreign)
	}
	d.out.say("%s", line)

	if r.ledgerErr != nil {
		d.out.say("!! ledger     could not read the sandbox ledger: %v", r.ledgerErr)
	} else {
		d.out.say("ledger     %s", ledgerTotals(r.scs))
	}
	for _, e := range r.stray {
		d.out.say("!! ledger     unexpected entry: requestId %s, order %s, %s %s %s, history %v", e.RequestID, e.OrderID, e.Type, e.Amount, e.Currency, e.History)
	}
	if r.confirms != nil {
		n := 0
		for _, s := range r.scs {
			if s.isFirstOn(r.scs) {
				n += len(r.confirms[s.order])
			}
		}
		seed := r.scs[0]
		d.out.say("confirm    %d ConfirmFunds requests for this run's orders, one per valid debit, none for the credit; %s asked for %s (its original_authorization_amount) to settle %s",
			n, seed.id, strings.Join(r.confirms[seed.order], ","), seed.amount)
	}
	if c := r.calls; c != nil {
		d.out.say("sandbox    confirm funds: %d calls; settlement create: %d calls (%d answered 503 by injection, %d repeated requestIds deduplicated)",
			c.Confirm.Total, c.Settle.Total, c.Settle.Failed5xx, c.Settle.DedupHits)
	}
	parked := 0
	for _, s := range r.scs {
		if s.parked != "" {
			parked++
		}
	}
	d.out.say("parked     %d request(s), read back from %s", parked, "q.Payments.Settlements.Request.radial.parked")
	if r.statusParked > 0 {
		d.out.say("!! %d Radial status(es) could not be matched to a settlement and were parked in q.Payments.Settlements.ProviderStatus.radial.parked", r.statusParked)
	}
}

// ledgerTotals sums the sandbox ledger of the run's requests.
func ledgerTotals(scs []*scenario) string {
	count := map[string]map[string]int{messages.SettlementDebit: {}, messages.SettlementCredit: {}}
	moved := map[string]decimal.Decimal{}
	for _, s := range scs {
		for _, e := range s.ledger {
			h := entryHistory(e)
			if count[e.Type] == nil {
				count[e.Type] = map[string]int{}
			}
			count[e.Type][h]++
			if e.State == messages.StatusSettled {
				a, err := decimal.NewFromString(e.Amount)
				if err == nil {
					moved[e.Type+" "+e.Currency] = moved[e.Type+" "+e.Currency].Add(a)
				}
			}
		}
	}
	describe := func(typ, noun string) string {
		total := 0
		var parts []string
		keys := make([]string, 0, len(count[typ]))
		for k := range count[typ] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			total += count[typ][k]
			parts = append(parts, fmt.Sprintf("%d %s", count[typ][k], k))
		}
		s := fmt.Sprintf("%d %s", total, noun)
		if len(parts) > 0 {
			s += " (" + strings.Join(parts, ", ") + ")"
		}
		return s
	}
	out := describe(messages.SettlementDebit, "debit entries") + ", " + describe(messages.SettlementCredit, "credit entries")
	var money []string
	for _, k := range []string{messages.SettlementDebit + " " + currency, messages.SettlementCredit + " " + currency} {
		if v, ok := moved[k]; ok {
			typ, cur, _ := strings.Cut(k, " ")
			verb := "captured"
			if typ == messages.SettlementCredit {
				verb = "refunded"
			}
			money = append(money, fmt.Sprintf("%s %s %s", verb, v.StringFixed(2), cur))
		}
	}
	if len(money) > 0 {
		out += "; standing: " + strings.Join(money, ", ")
	}
	return out
}

// entryHistory joins the statuses of a ledger entry ("S→R"), or gives its
// state when none was decided yet.
func entryHistory(e radial.Entry) string {
	var st []string
	for _, h := range e.History {
		st = append(st, h.Status)
	}
	if len(st) == 0 {
		return e.State
	}
	return strings.Join(st, "→")
}
