package miva

import (
	"context"
	"fmt"
	"strconv"

	"github.com/shopspring/decimal"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
)

// Settle captures (Debit) or refunds (Credit) the settlement amount.
//
// Debit: OrderPayment_Capture {OrderPayment_ID: the authorization chosen
// by ConfirmFunds (RefPaymentID), Amount}. Success → Settled, Ref = the
// new capture record (found by re-reading the list: Miva's answer, an
// OrderPaymentTotal, names no record). A Miva refusal (declined, amount
// beyond available, expired, ...) → Refused with Miva's error_message.
// Failures that may have left a capture behind (timeouts, 5xx, lost
// replies) are transient errors: the pipeline's retry calls Reconcile
// before any new capture.
//
// Credit: OrderPayment_Refund on a capture record (header miva_payment_id,
// else RefPaymentID from Prepare, else ChooseCapture), after checking that
// the order has that much captured and not refunded (Refundable). Unless
// the header named it, a capture Miva refuses as already refunded
// (amount_exceeds_refundable: nothing moved) is followed by the next
// capture that covers the amount (refundTargets).
//
// Settle is not idempotent (Miva has no idempotency key): it must only run
// on a fresh submission or after Reconcile answered found=false.
func (c *Client) Settle(ctx context.Context, req *providers.Request) (providers.Outcome, error) {
	switch req.Type {
	case messages.SettlementDebit:
		return c.capture(ctx, req)
	case messages.SettlementCredit:
		return c.refund(ctx, req)
	}
	return providers.Outcome{}, providers.Permanentf("settlement type %q is not Debit or Credit", req.Type)
}

// capture settles a debit.
func (c *Client) capture(ctx context.Context, req *providers.Request) (providers.Outcome, error) {
	oid, err := orderIDOf(req)
	if err != nil {
		return providers.Outcome{}, err
	}
	amount, text, err := c.amountOf(req)
	if err != nil {
		return providers.Outcome{}, err
	}
	pid, ok := refID(req.Refs, RefPaymentID)
	before, _ := parseIDList(req.Refs)
	if !ok {
		// No funds confirmation recorded (not the pipeline's path for a
		// debit): confirm now.
		cr, err := c.ConfirmFunds(ctx, req)
		if err != nil {
			return providers.Outcome{}, err
		}
		if !cr.Available {
			return providers.Outcome{Kind: providers.Refused, Reason: "funds not available: " + cr.Reason, Refs: cr.Refs}, nil
		}
		pid, _ = refID(cr.Refs, RefPaymentID)
		before, _ = parseIDList(cr.Refs)
	}
	refs := map[string]string{RefOrderID: strconv.FormatInt(oid, 10), RefPaymentID: strconv.FormatInt(pid, 10)}
	if err := c.captureCall(ctx, pid, text); err != nil {
		if reason, ok := refusal(err); ok {
			return providers.Outcome{Kind: providers.Refused, Reason: reason, Refs: refs}, nil
		}
		return providers.Outcome{}, err
	}
	out := providers.Outcome{Kind: providers.Settled, Refs: refs}
	c.identify(ctx, oid, before, isNewCapture, amount, RefCaptureID, &out)
	return out, nil
}

// refund settles a credit.
func (c *Client) refund(ctx context.Context, req *providers.Request) (providers.Outcome, error) {
	oid, err := orderIDOf(req)
	if err != nil {
		return providers.Outcome{}, err
	}
	amount, text, err := c.amountOf(req)
	if err != nil {
		return providers.Outcome{}, err
	}
	override, named, err := overrideID(req)
	if err != nil {
		return providers.Outcome{}, err
	}
	chosen, hasChosen := refID(req.Refs, RefPaymentID)
	ps, err := c.PaymentList(ctx, oid)
	if err != nil {
		return providers.Outcome{}, err
	}
	refs := map[string]string{RefOrderID: strconv.FormatInt(oid, 10)}
	f := func(d decimal.Decimal) string { return fmtAmount(req, d) }
	refused := func(reason string) (providers.Outcome, error) {
		return providers.Outcome{Kind: providers.Refused, Reason: reason, Refs: refs}, nil
	}
	if left := Refundable(ps); left.LessThan(amount) {
		return refused(fmt.Sprintf("refund of %s exceeds what Miva order %d has captured and not refunded (%s)", f(amount), oid, f(decimal.Max(left, decimal.Zero))))
	}
	var targets []Payment
	if named {
		// A person named the capture: it alone is tried.
		p, ok := find(ps, override)
		switch {
		case !ok:
			return refused(fmt.Sprintf("Miva payment record %d is not on order %d", override, oid))
		case !IsCapture(p.Type):
			return refused(fmt.Sprintf("Miva payment record %d (%s) is not a capture that can be refunded", override, typeName(p.Type)))
		}
		targets = []Payment{p}
	} else {
		targets = refundTargets(ps, amount, chosen, hasChosen)
		if len(targets) == 0 {
			if hasChosen {
				// Prepare's choice is gone from the list or is no capture.
				return refused(fmt.Sprintf("Miva payment record %d is not a capture of order %d that can be refunded", chosen, oid))
			}
			return refused(fmt.Sprintf("no single Miva capture record on order %d covers a refund of %s (captures: %s)",
				oid, f(amount), describe(ps, IsCapture, captured, "captured", f)))
		}
	}
	// The list does not say which capture a refund belongs to, so the
	// capture chosen may have been refunded already: Miva's refusal
	// (amount_exceeds_refundable) moved nothing, and the next capture that
	// covers the amount is tried, so that a credit the order can take is
	// never answered R.
	for i, target := range targets {
		refs[RefPaymentID] = strconv.FormatInt(target.ID, 10)
		err := c.refundCall(ctx, target.ID, text)
		if err == nil {
			break
		}
		reason, ok := refusal(err)
		if !ok {
			return providers.Outcome{}, err
		}
		if errorCode(err) != codeExceedsRefundable || i == len(targets)-1 {
			return refused(reason)
		}
		// A refund of the amount that appeared since the list was read
		// could be this request's own earlier call, committed late, which
		// would explain the refusal: refunding another capture could
		// refund twice.
		now, lerr := c.PaymentList(ctx, oid)
		if lerr != nil {
			return refused(reason)
		}
		if rs := newRecords(now, idSet(ps), func(t int) bool { return t == TypeRefund }, amount); len(rs) > 0 {
			return providers.Outcome{}, providers.UnresolvedError("", fmt.Sprintf(
				"miva refund: capture record %d refused the refund of %s as already refunded and refund record %d of that amount appeared on order %d meanwhile: "+
					"it could be this request's own earlier call, so no other capture is refunded; check the order in the Miva admin, then settle the request by hand",
				target.ID, f(amount), rs[0].ID, oid), nil)
		}
	}
	out := providers.Outcome{Kind: providers.Settled, Refs: refs}
	c.identify(ctx, oid, idSet(ps), func(t int) bool { return t == TypeRefund }, amount, RefRefundID, &out)
	return out, nil
}

// idSet is the set of the ids of ps.
func idSet(ps []Payment) map[int64]bool {
	out := make(map[int64]bool, len(ps))
	for _, p := range ps {
		out[p.ID] = true
	}
	return out
}

// identify re-reads the list after a successful capture or refund to name
// the record it created (Outcome.Ref). It is best effort: the money moved,
// so a failure here never turns the outcome into an error.
func (c *Client) identify(ctx context.Context, oid int64, before map[int64]bool, want func(int) bool, amount decimal.Decimal, key string, out *providers.Outcome) {
	ps, err := c.PaymentList(ctx, oid)
	if err != nil {
		return
	}
	if rs := newRecords(ps, before, want, amount); len(rs) > 0 {
		out.Ref = strconv.FormatInt(rs[0].ID, 10)
		out.Refs[key] = out.Ref
	}
}

// Prepare returns the references to record durably before a credit is
// submitted: RefOrderID, RefRecordsBefore (the baseline) and RefPaymentID
// (the capture record chosen). The pipeline records ConfirmResult.Refs for
// debits only, so without these Reconcile cannot tell an earlier attempt's
// refund from an older refund of the same amount (see Reconcile). For a
// debit it returns nil: ConfirmFunds records the baseline.
func (c *Client) Prepare(ctx context.Context, req *providers.Request) (map[string]string, error) {
	if req.Type != messages.SettlementCredit {
		return nil, nil
	}
	oid, err := orderIDOf(req)
	if err != nil {
		return nil, err
	}
	amount, _, err := c.amountOf(req)
	if err != nil {
		return nil, err
	}
	ps, err := c.PaymentList(ctx, oid)
	if err != nil {
		return nil, err
	}
	refs := map[string]string{RefOrderID: strconv.FormatInt(oid, 10), RefRecordsBefore: idList(ps)}
	if _, has, _ := overrideID(req); !has {
		if p, ok := ChooseCapture(ps, amount); ok {
			refs[RefPaymentID] = strconv.FormatInt(p.ID, 10)
		}
	}
	return refs, nil
}
