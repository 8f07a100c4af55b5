package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/money"
	"github.com/settlement-worker/settlement-worker/sandbox/frisbii"
	"github.com/settlement-worker/settlement-worker/sandbox/miva"
	"github.com/settlement-worker/settlement-worker/sandbox/paysafe"
	"github.com/settlement-worker/settlement-worker/sandbox/radial"
)

// sandboxes are the admin clients of the four provider sandboxes, all
// served by the one provider-sandbox process.
type sandboxes struct {
	radial  *radial.AdminClient
	paysafe *paysafe.AdminClient
	frisbii *frisbii.AdminClient
	miva    *miva.AdminClient
}

// sandboxURLs are the worker's *_BASE_URL for a sandbox at base
// (http://host:port).
type sandboxURLs struct {
	radial, paysafe, frisbii, miva, mivaPrefix string
}

func urlsOf(base string) sandboxURLs {
	return sandboxURLs{
		radial: base + "/radial", paysafe: base + "/paysafe", frisbii: base + "/frisbii",
		miva: base + "/miva/mm5/json.mvc", mivaPrefix: base + "/miva",
	}
}

func newSandboxes(u sandboxURLs) (*sandboxes, error) {
	var sb sandboxes
	var err error
	if sb.radial, err = radial.NewAdminClient(u.radial, nil); err != nil {
		return nil, err
	}
	if sb.paysafe, err = paysafe.NewAdminClient(u.paysafe, nil); err != nil {
		return nil, err
	}
	if sb.frisbii, err = frisbii.NewAdminClient(u.frisbii, nil); err != nil {
		return nil, err
	}
	if sb.miva, err = miva.NewAdminClient(u.mivaPrefix, nil); err != nil {
		return nil, err
	}
	return &sb, nil
}

// seed gives the provider's sandbox what the scenario's request draws on
// (an authorization, a charge, an order's payment records) and describes
// it; "" when the scenario needs nothing.
func (sb *sandboxes) seed(ctx context.Context, s *scenario) (string, error) {
	switch {
	case s.radialAuth != nil:
		if _, err := sb.radial.Authorize(ctx, *s.radialAuth); err != nil {
			return "", err
		}
		return fmt.Sprintf("authorization of %s %s for order %s%s", s.radialAuth.Amount, s.radialAuth.Currency, s.radialAuth.OrderID, script(s.radialAuth)), nil
	case s.paysafeAuth != nil:
		a := s.paysafeAuth
		st, err := sb.paysafe.Authorize(ctx, *a)
		if err != nil {
			return "", err
		}
		line := fmt.Sprintf("authorization %s of %s on account %s, %s, availableToSettle %s", a.ID, minorString(a.Amount, a.Currency),
			a.AccountID, st.Status, minorString(st.AvailableToSettle, a.Currency))
		if a.BatchOutcome != "" {
			line += fmt.Sprintf("  — its settlements end %s in the batch: %q", a.BatchOutcome, a.FailureMessage)
		}
		return line, nil
	case s.frisbiiCharge != nil:
		c := s.frisbiiCharge
		ch, err := sb.frisbii.SeedCharge(ctx, *c)
		if err != nil {
			return "", err
		}
		line := fmt.Sprintf("charge %s, state %s, %s authorized", c.Handle, ch.State, minorString(c.Amount, c.Currency))
		if d := c.Decline; d != nil {
			line += fmt.Sprintf("  — settles are %s (%s)", d.ErrorState, d.Error)
		}
		return line, nil
	case s.mivaOrder != nil:
		o := s.mivaOrder
		st, err := sb.miva.SeedOrder(ctx, *o)
		if err != nil {
			return "", err
		}
		var recs []string
		for i, rec := range st.Records {
			d := fmt.Sprintf("record %d (%s) of %s %s, %s available", rec.ID, miva.TypeName(rec.Type),
				rec.Amount.StringFixed(2), st.Currency, rec.Available.StringFixed(2))
			if i < len(o.Records) && o.Records[i].DeclineCapture != "" {
				d += fmt.Sprintf("  — captures are declined: %q", o.Records[i].DeclineCapture)
			}
			recs = append(recs, d)
		}
		return fmt.Sprintf("order %d: %s", o.OrderID, strings.Join(recs, "; ")), nil
	}
	return "", nil
}

// script describes a Radial authorization's scripted behaviour.
func script(a *radial.Authorization) string {
	var parts []string
	if a.FundsOutcome != "" {
		parts = append(parts, "ConfirmFunds answers "+a.FundsOutcome)
	}
	if a.SettleVerdict != "" {
		parts = append(parts, fmt.Sprintf("settlements %s %q", a.SettleVerdict, a.DeclineReason))
	}
	for _, l := range a.LaterStatuses {
		parts = append(parts, fmt.Sprintf("%s %q %dms after an S", l.Status, l.DeclineReason, l.AfterMS))
	}
	if len(parts) == 0 {
		return ""
	}
	return "  — " + strings.Join(parts, ", ")
}

// move is one entry of a provider sandbox's ledger, in common terms.
type move struct {
	provider string
	key      string // the request's key at the provider (requestId, merchantRefNum, key); "" for Miva
	order    string
	credit   bool
	amount   string // decimal, in currency
	currency string
	// history is the entry's history in the sandbox's own words: "S→R",
	// "PENDING→COMPLETED", "settled", "captured".
	history string
	// moved: the money moved for good (S, COMPLETED, settled/refunded,
	// captured/refunded).
	moved bool
	// describe is a one-line description for "unexpected entry" lines.
	describe string
}

// ledgers reads every sandbox's ledger as moves.
func (sb *sandboxes) ledgers(ctx context.Context) (map[string][]move, error) {
	out := map[string][]move{}
	rs, err := sb.radial.Ledger(ctx, radial.LedgerFilter{})
	if err != nil {
		return nil, err
	}
	for _, e := range rs {
		out[provRadial] = append(out[provRadial], move{provider: provRadial, key: e.RequestID, order: e.OrderID,
			credit: e.Type == messages.SettlementCredit, amount: e.Amount, currency: e.Currency,
			history: radialHistory(e), moved: e.State == messages.StatusSettled,
			describe: fmt.Sprintf("requestId %s, order %s, %s %s %s, state %s", e.RequestID, e.OrderID, e.Type, e.Amount, e.Currency, radialHistory(e))})
	}
	ps, err := sb.paysafe.Ledger(ctx, paysafe.LedgerFilter{})
	if err != nil {
		return nil, err
	}
	for _, e := range ps {
		var hs []string
		for _, h := range e.History {
			hs = append(hs, h.Status)
		}
		out[provPaysafe] = append(out[provPaysafe], move{provider: provPaysafe, key: e.MerchantRefNum,
			credit: e.Kind == paysafe.KindRefund, amount: minorAmount(e.Amount, e.Currency), currency: e.Currency,
			history: strings.Join(hs, "→"), moved: e.Status == paysafe.StatusCompleted,
			describe: fmt.Sprintf("%s %s, merchantRefNum %s, account %s, %s, %s", e.Kind, short(e.ID), e.MerchantRefNum, e.AccountID, minorString(e.Amount, e.Currency), strings.Join(hs, "→"))})
	}
	fs, err := sb.frisbii.Ledger(ctx, frisbii.LedgerFilter{})
	if err != nil {
		return nil, err
	}
	for _, e := range fs {
		out[provFrisbii] = append(out[provFrisbii], move{provider: provFrisbii, key: e.Key, order: e.Handle,
			credit: e.Kind == frisbii.EntryRefund, amount: minorAmount(e.Amount, e.Currency), currency: e.Currency,
			history: e.State, moved: e.State == frisbii.EntrySettled || e.State == frisbii.EntryRefunded,
			describe: fmt.Sprintf("%s of charge %s, key %s, %s, %s", e.Kind, e.Handle, e.Key, minorString(e.Amount, e.Currency), e.State)})
	}
	ms, err := sb.miva.Ledger(ctx, miva.LedgerFilter{})
	if err != nil {
		return nil, err
	}
	for _, e := range ms {
		h := map[string]string{miva.FunctionCapture: "captured", miva.FunctionRefund: "refunded", miva.FunctionVoid: "voided"}[e.Function]
		out[provMiva] = append(out[provMiva], move{provider: provMiva, order: strconv.FormatInt(e.OrderID, 10),
			credit: e.Function == miva.FunctionRefund, amount: e.Amount, currency: e.Currency, history: h, moved: true,
			describe: fmt.Sprintf("%s on order %d, payment record %d, %s %s", e.Function, e.OrderID, e.PaymentID, e.Amount, e.Currency)})
	}
	return out, nil
}

// radialHistory joins the statuses of a Radial ledger entry ("S→R"), or
// gives its state when none was decided yet.
func radialHistory(e radial.Entry) string {
	var st []string
	for _, h := range e.History {
		st = append(st, h.Status)
	}
	if len(st) == 0 {
		return e.State
	}
	return strings.Join(st, "→")
}

// minorAmount renders minor units as a decimal ("4000" USD → "40.00").
func minorAmount(n int64, cur string) string {
	m, err := money.FromMinor(n, cur)
	if err != nil {
		return strconv.FormatInt(n, 10) + " minor units"
	}
	return m.String()
}

func minorString(n int64, cur string) string { return minorAmount(n, cur) + " " + cur }

// sameAmount compares two decimal strings ("35" = "35.00").
func sameAmount(a, b string) bool {
	x, err1 := decimal.NewFromString(a)
	y, err2 := decimal.NewFromString(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	return x.Equal(y)
}

// callsLine summarizes a provider sandbox's call counters.
func (sb *sandboxes) callsLine(ctx context.Context, p string) (string, error) {
	switch p {
	case provRadial:
		c, err := sb.radial.Calls(ctx)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("confirm funds %d calls; settlement create %d calls (%d answered 503 by injection, %d repeated requestIds deduplicated)",
			c.Confirm.Total, c.Settle.Total, c.Settle.Failed5xx, c.Settle.DedupHits), nil
	case provPaysafe:
		c, err := sb.paysafe.Calls(ctx)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("auth reads %d; settlements %d created; refunds %d created; re-checks by id %d, lookups by merchantRefNum %d",
			c.Auth.Total, c.Settle.Processed, c.Refund.Processed, c.Get.Total, c.Lookup.Total), nil
	case provFrisbii:
		c, err := sb.frisbii.Calls(ctx)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("charge reads %d; settle calls %d (%d declined, %d key replays); refunds %d",
			c.Charge.Total, c.Settle.Total, c.Settle.Declined, c.Settle.Replays, c.Refund.Total), nil
	case provMiva:
		c, err := sb.miva.Calls(ctx)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("OrderPaymentList_Load %d; OrderPayment_Capture %d (%d declined); OrderPayment_Refund %d",
			c.List.Total, c.Capture.Total, c.Capture.Declined, c.Refund.Total), nil
	}
	return "", nil
}
