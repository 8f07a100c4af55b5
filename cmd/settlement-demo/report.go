package main

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
)

// results is the evaluated run.
type results struct {
	scs       []*scenario
	runErr    error
	foreign   int // status events of other runs
	ledgerErr error
	// stray are ledger entries of this run that belong to no scenario.
	stray        []move
	calls        map[string]string // provider → call counters, in words
	statusParked int               // Radial statuses the worker parked during the run
	// confirms are the amounts of the ConfirmFunds calls the Radial
	// sandbox processed, by order (from its log); nil when the log was
	// unreadable.
	confirms map[string][]string
	// The webhook receiver's counts.
	webhookBatches, webhookRefused, webhookForeign int
	// leaks names the secrets found in the worker's log.
	leaks []string
}

// ok reports whether every scenario matched.
func (r *results) ok() bool {
	if r == nil || r.ledgerErr != nil || len(r.stray) > 0 || len(r.leaks) > 0 || r.webhookRefused > 0 {
		return false
	}
	for _, s := range r.scs {
		if len(s.problems) > 0 {
			return false
		}
	}
	return true
}

// setLedger hands each scenario its ledger entries, and keeps the entries
// of this run that belong to no scenario. Radial, Paysafe and Frisbii
// entries carry the request's key (requestId, merchantRefNum, key); Miva's
// do not (Miva has no idempotency key): they go to the scenario of their
// order and type. The Radial sandbox may hold other runs' entries (its
// ledger lives as long as the sandbox, and other runs use the same
// broker, not the same sandbox — but be safe); the other sandboxes hold
// only this run's.
func (r *results) setLedger(all map[string][]move, runID string) {
	byKey := map[string]*scenario{}
	mivaBy := map[string]*scenario{}
	radialOrders := map[string]bool{}
	for _, s := range r.scs {
		if s.provider == provMiva {
			mivaBy[mivaKey(s.order, s.typ == messages.SettlementCredit)] = s
		} else {
			byKey[s.provider+"|"+s.id] = s
		}
		if s.provider == provRadial {
			radialOrders[s.order] = true
		}
	}
	for _, p := range allProviders {
		for _, m := range all[p] {
			var s *scenario
			if p == provMiva {
				s = mivaBy[mivaKey(m.order, m.credit)]
			} else {
				s = byKey[p+"|"+m.key]
			}
			switch {
			case s != nil:
				s.ledger = append(s.ledger, m)
			case p != provRadial || radialOrders[m.order] || strings.Contains(m.key, runID):
				r.stray = append(r.stray, m)
			}
		}
	}
}

func mivaKey(order string, credit bool) string {
	if credit {
		return order + "|credit"
	}
	return order + "|debit"
}

// evaluate compares each scenario with its expectation.
func (r *results) evaluate() {
	for _, s := range r.scs {
		var p []string
		bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
		if !s.wantsStatus() {
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
					bad("status event %s carries ClientContext %q, expected %q", short(ev.messageID), ev.clientContext, s.clientContext)
				}
				if a, _, _ := strings.Cut(ev.amount, " "); !sameAmount(a, s.amount) {
					bad("status event %s is for %s, the request for %s %s", short(ev.messageID), ev.amount, s.amount, currency)
				}
				for _, c := range ev.contract {
					bad("status event %s: %s", short(ev.messageID), c)
				}
				if strings.Contains(ev.reason, testAccount) {
					bad("status event %s: the decline reason carries the card number unmasked", short(ev.messageID))
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
			// The webhook gets every status event once (the deliverer
			// drops republished duplicates on their message_id).
			if got, want := sortedJoin(s.webhook), sortedJoin(s.gotStatusList()); !covers(s.webhook, s.gotStatusList()) {
				bad("the webhook received %s, expected %s (each status event of the request)", orNone(got), orNone(want))
			}
		}
		p = append(p, s.httpProblems...)
		if r.ledgerErr == nil {
			d, c := s.ledgerCounts()
			if d != s.want.debits || c != s.want.credits {
				bad("%s sandbox ledger has %d debit(s) and %d credit(s) for it, expected %d and %d", s.provider, d, c, s.want.debits, s.want.credits)
			}
			if h := s.ledgerHistory(); h != s.want.history {
				bad("%s sandbox ledger history %s, expected %s", s.provider, orNone(h), orNone(s.want.history))
			}
			for _, m := range s.ledger {
				if !sameAmount(m.amount, s.amount) {
					bad("%s sandbox ledger entry is for %s %s, the request for %s %s", s.provider, m.amount, m.currency, s.amount, currency)
				}
			}
		}
		if s.resend != resendNone && s.repeats == 0 {
			bad("the second send produced no event; a duplicate of a finished request should republish its recorded event (same message_id)")
		}
		if r.confirms != nil && s.provider == provRadial {
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

// covers reports whether got holds every element of want (as many times).
func covers(got, want []string) bool {
	n := map[string]int{}
	for _, g := range got {
		n[g]++
	}
	for _, w := range want {
		if n[w] == 0 {
			return false
		}
		n[w]--
	}
	return true
}

func sortedJoin(xs []string) string {
	c := append([]string(nil), xs...)
	sort.Strings(c)
	return strings.Join(c, ",")
}

// wantConfirms is the amounts ConfirmFunds must be asked for on a Radial
// order: one per valid debit.
func (r *results) wantConfirms(order string) []string {
	var out []string
	for _, s := range r.scs {
		if s.provider == provRadial && s.order == order && s.confirmAmt != "" {
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
		if o.provider == s.provider && o.order == s.order {
			return o == s
		}
	}
	return false
}

func (s *scenario) gotStatusList() []string {
	var st []string
	for _, ev := range s.events {
		st = append(st, ev.status)
	}
	return st
}

func (s *scenario) gotStatuses() string { return strings.Join(s.gotStatusList(), "→") }

func (s *scenario) ledgerCounts() (debits, credits int) {
	for _, m := range s.ledger {
		if m.credit {
			credits++
		} else {
			debits++
		}
	}
	return debits, credits
}

// ledgerHistory joins the histories of the scenario's entries; entries
// are separated by "|".
func (s *scenario) ledgerHistory() string {
	var hs []string
	for _, m := range s.ledger {
		hs = append(hs, m.history)
	}
	return strings.Join(hs, "|")
}

// gotLabel is the GOT column.
func (s *scenario) gotLabel() string {
	if !s.wantsStatus() && s.parked != "" {
		return fmt.Sprintf("parked %q", shorten(s.parked, 40))
	}
	got := orNone(s.gotStatuses())
	var reasons []string
	for _, ev := range s.events {
		if ev.reason != "" {
			reasons = append(reasons, shorten(ev.reason, 44))
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

// report prints the summary, grouped per provider and intake, and the
// totals.
func (d *demo) report(r *results) {
	d.out.section("summary (LEDGER: debit/credit entries in the provider sandbox for the request, and their history)")
	head := []string{"REQUEST", "KIND", "EXPECTED", "GOT", "LEDGER D/C", "RESULT"}
	rows := map[string][][]string{}
	widths := make([]int, len(head))
	for i, h := range head {
		widths[i] = utf8.RuneCountInString(h)
	}
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
		row := []string{s.id, s.kind, s.expectLabel(), s.gotLabel(), ledger, verdict}
		for i, c := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
		rows[s.group] = append(rows[s.group], row)
	}
	line := func(cells []string) string {
		var b strings.Builder
		for i, c := range cells {
			b.WriteString(c)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
			}
		}
		return "  " + strings.TrimRight(b.String(), " ")
	}
	d.out.say("%s", line(head))
	for _, g := range groupOrder {
		if len(rows[g]) == 0 {
			continue
		}
		d.out.say("%s", groupTitle(g))
		for _, row := range rows[g] {
			d.out.say("%s", line(row))
		}
		if r.ledgerErr == nil {
			d.out.say("    %s", groupLedger(r.scs, g))
		}
	}
	d.out.say("")
	for _, s := range r.scs {
		for _, p := range s.problems {
			d.out.say("!! %s (%s, %s): %s", s.id, s.provider, s.kind, p)
		}
	}
	d.totals(r)
}

// groupLedger sums the ledger entries of a group's requests and says
// whether every debit request has the debit entries it should (one when
// the provider was asked to settle, none when the funds check, validation
// or parsing stopped it).
func groupLedger(scs []*scenario, g string) string {
	var debits, credits []string
	moved := map[string]decimal.Decimal{}
	debitReqs, okReqs := 0, 0
	for _, s := range scs {
		if s.group != g {
			continue
		}
		if s.typ != messages.SettlementCredit {
			debitReqs++
			if d, _ := s.ledgerCounts(); d == s.want.debits && d <= 1 {
				okReqs++
			}
		}
		for _, m := range s.ledger {
			if m.credit {
				credits = append(credits, m.history)
			} else {
				debits = append(debits, m.history)
			}
			if m.moved {
				verb := "captured"
				if m.credit {
					verb = "refunded"
				}
				a, err := decimal.NewFromString(m.amount)
				if err == nil {
					k := verb + " " + m.currency
					moved[k] = moved[k].Add(a)
				}
			}
		}
	}
	out := fmt.Sprintf("ledger  %s, %s", countHist(debits, "debit"), countHist(credits, "credit"))
	var money []string
	for _, k := range []string{"captured " + currency, "refunded " + currency} {
		if v, ok := moved[k]; ok {
			verb, cur, _ := strings.Cut(k, " ")
			money = append(money, fmt.Sprintf("%s %s %s", verb, v.StringFixed(2), cur))
		}
	}
	if len(money) > 0 {
		out += " · " + strings.Join(money, ", ")
	}
	verdict := "OK"
	if okReqs != debitReqs {
		verdict = "MISMATCH"
	}
	return out + fmt.Sprintf(" · debit entries as expected (1 if the provider was asked, 0 if stopped before) for %d of %d debit requests: %s",
		okReqs, debitReqs, verdict)
}

// countHist renders "2 debits (1 S, 1 S→R)".
func countHist(hs []string, noun string) string {
	n := map[string]int{}
	for _, h := range hs {
		n[h]++
	}
	keys := make([]string, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", n[k], k))
	}
	s := fmt.Sprintf("%d %s", len(hs), noun)
	if len(hs) != 1 {
		s += "s"
	}
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

func (d *demo) totals(r *results) {
	okN, events, repeats, publishes, posts := 0, 0, 0, 0, 0
	hooked := 0
	lists := map[string]bool{}
	for _, s := range r.scs {
		if len(s.problems) == 0 {
			okN++
		}
		switch s.via {
		case viaAMQP:
			publishes += s.publishes()
		case viaRetailOPS:
			posts += s.publishes()
		case viaRadialHTTP:
			lists[s.group] = true
		}
		events += len(s.events)
		repeats += s.repeats
		hooked += len(s.webhook)
	}
	posts += len(lists)
	d.out.say("requests   %d (%d AMQP publishes, %d POSTs to the HTTP intake): %d OK, %d MISMATCH", len(r.scs), publishes, posts, okN, len(r.scs)-okN)
	line := fmt.Sprintf("events     %d status events for this run on %s", events, d.opt.statusQueue)
	if repeats > 0 {
		line += fmt.Sprintf(", %d repeat(s) with an already seen message_id dropped", repeats)
	}
	if r.foreign > 0 {
		line += fmt.Sprintf(", %d event(s) of other runs ignored", r.foreign)
	}
	d.out.say("%s", line)
	wl := fmt.Sprintf("webhook    %d PaymentSettlementStatusList batch(es) POSTed to the demo's receiver with basic auth, %d statuses of this run", r.webhookBatches, hooked)
	if r.webhookForeign > 0 {
		wl += fmt.Sprintf(" (+%d of earlier runs)", r.webhookForeign)
	}
	d.out.say("%s", wl)
	if r.webhookRefused > 0 {
		d.out.say("!! webhook    %d POST(s) refused by the receiver (wrong auth or not a PaymentSettlementStatusList)", r.webhookRefused)
	}
	if r.ledgerErr != nil {
		d.out.say("!! ledger     could not read a sandbox ledger: %v", r.ledgerErr)
	}
	for _, m := range r.stray {
		d.out.say("!! ledger     unexpected %s entry: %s", m.provider, m.describe)
	}
	if r.confirms != nil {
		n := 0
		seen := map[string]bool{}
		for _, s := range r.scs {
			if s.provider == provRadial && !seen[s.order] {
				seen[s.order] = true
				n += len(r.confirms[s.order])
			}
		}
		seed := r.scs[0]
		d.out.say("confirm    radial: %d ConfirmFunds requests for this run's orders, one per valid debit, none for the credit; %s asked for %s (its original_authorization_amount) to settle %s",
			n, seed.id, strings.Join(r.confirms[seed.order], ","), seed.amount)
	}
	for i, p := range allProviders {
		label := "sandbox   "
		if i > 0 {
			label = "          "
		}
		if c, ok := r.calls[p]; ok {
			d.out.say("%s %-8s %s", label, p, c)
		}
	}
	parked := 0
	for _, s := range r.scs {
		if s.parked != "" {
			parked++
		}
	}
	d.out.say("parked     %d request(s), read back from %s", parked, broker.ParkedQueue(provRadial))
	if r.statusParked > 0 {
		d.out.say("!! %d Radial status(es) could not be matched to a settlement and were parked in %s", r.statusParked, broker.ProviderStatusParkedQueue(provRadial))
	}
	if len(r.leaks) > 0 {
		d.out.say("!! logs       the worker's log contains %s", strings.Join(r.leaks, ", "))
	} else {
		d.out.say("logs       the worker's log holds no card number and none of the %d credentials of the run", len(secrets)-1)
	}
}
