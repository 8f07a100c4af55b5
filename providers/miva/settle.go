package miva

import (
	"context"
	"fmt"
	"strconv"
	"time"

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
// beyond available, expired, ...) → Refused with Miva's error_message;
// but any refusal (nothing moved) beside a capture record of exactly the
// amount that appeared since the baseline (possibly this request's own
// earlier call, committed late, which would explain amount_exceeds_available,
// authorization_expired or payment_declined) is Unresolved, never Refused
// (lateCommitBeside); and on amount_exceeds_available or
// authorization_expired, when the worker chose the
// authorization (no header) another authorization that covers the amount
// is captured instead (nextAuthorization).
// Failures that may have left a capture behind (timeouts, 5xx, lost
// replies) are transient errors: the pipeline's retry calls Reconcile
// before any new capture.
//
// Credit: OrderPayment_Refund on a capture record (header miva_payment_id,
// else RefPaymentID from Prepare, else ChooseCapture), after checking that
// the order has that much captured and not refunded (Refundable). Unless
// the header named it, a capture Miva refuses as already refunded
// (amount_exceeds_refundable: nothing moved) is followed by the next
// capture that covers the amount (refundTargets); any refusal beside a
// refund record of exactly the amount new since the baseline and unclaimed
// is Unresolved, never Refused, as for a debit.
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
			return providers.Outcome{}, notSentBefore(err, "capture")
		}
		if !cr.Available {
			return providers.Outcome{Kind: providers.Refused, Reason: "funds not available: " + cr.Reason, Refs: cr.Refs}, nil
		}
		pid, _ = refID(cr.Refs, RefPaymentID)
		before, _ = parseIDList(cr.Refs)
	}
	_, named, err := overrideID(req)
	if err != nil {
		return providers.Outcome{}, err
	}
	refs := map[string]string{RefOrderID: strconv.FormatInt(oid, 10)}
	tried := map[int64]bool{}
	for {
		tried[pid] = true
		refs[RefPaymentID] = strconv.FormatInt(pid, 10)
		err := c.captureCall(ctx, pid, text)
		if err == nil {
			break
		}
		reason, ok := refusal(err)
		if !ok {
			return providers.Outcome{}, err
		}
		refused := providers.Outcome{Kind: providers.Refused, Reason: reason, Refs: refs}
		// Nothing moved now, but this request's own earlier call may have
		// committed late (after a "not sent" answer) and be why Miva
		// refuses: the authorization it emptied is beyond its available,
		// expired since, or declined by the gateway. A new capture of the
		// amount cannot be told from the request's own (Unresolved, never
		// R), whatever the refusal.
		ps, uerr := c.lateCommitBeside(ctx, req, oid, pid, reason, amount, before)
		if uerr != nil {
			return providers.Outcome{}, uerr
		}
		if !authorizationSpent(providers.CodeOf(err)) {
			return refused, nil
		}
		// The authorization can no longer be captured: someone captured
		// or voided part of it since the confirmation, or it expired.
		// When the worker chose it, another that covers the amount is
		// captured.
		next, ok := nextAuthorization(ps, amount, tried, c.now())
		if !ok || named {
			return refused, nil
		}
		// The references describe the authorization captured: its
		// available before the capture (Reconcile watches every
		// authorization of the baseline, RefAuthsBefore, whichever).
		pid = next.ID
		refs[RefAvailableBefore] = next.Available.String()
	}
	out := providers.Outcome{Kind: providers.Settled, Refs: refs}
	c.identify(ctx, oid, before, isNewCapture, amount, RefCaptureID, &out)
	return out, nil
}

// lateCommitBeside reads the order's payment list after Miva refused a
// capture on authorization pid (reason is Miva's message), whatever the
// refusal: a capture record of exactly amount created since the baseline
// and claimed by no other settlement could be this request's own earlier
// call committed late (which would explain the refusal: the authorization
// emptied, expired since, or declined by the gateway once captured), so
// capturing elsewhere could capture twice, and R would be wrong: that is
// Unresolved (parked for a person), the authorization named by a header or
// not. A list that cannot be read leaves that unknown: transient, never a
// refusal (the retry reconciles first). Otherwise it returns the list.
func (c *Client) lateCommitBeside(ctx context.Context, req *providers.Request, oid, pid int64, reason string, amount decimal.Decimal, before map[int64]bool) ([]Payment, error) {
	ps, err := c.PaymentList(ctx, oid)
	if err != nil {
		return nil, providers.TransientError("", fmt.Sprintf(
			"miva capture: Miva refused the capture of %s on authorization %d of order %d (%s), and the payment list, which tells this request's own earlier call committed late from another capture, could not be read (%s): not refused, retrying",
			fmtAmount(req, amount), pid, oid, reason, providers.ReasonOf(err)), nil)
	}
	if r, ok := unclaimedNew(ps, req, before, isNewCapture, amount); ok {
		return nil, providers.UnresolvedError("", fmt.Sprintf(
			"miva capture: Miva refused the capture of %s on authorization %d (%s) and capture record %d of that amount appeared on order %d since the funds were confirmed: "+
				"it could be this request's own earlier call, so it is not refused, nor another authorization captured; check the order in the Miva admin, then settle the request by hand",
			fmtAmount(req, amount), pid, reason, r.ID, oid), nil)
	}
	return ps, nil
}

// nextAuthorization picks, after Miva refused a capture as beyond the
// authorization's available or as expired (authorizationSpent) and
// lateCommitBeside read ps, another authorization of the order (not in
// tried) that covers amount (ChooseAuthorization); ok is false when none
// does (the refusal stands).
func nextAuthorization(ps []Payment, amount decimal.Decimal, tried map[int64]bool, now time.Time) (Payment, bool) {
	var rest []Payment
	for _, p := range ps {
		if !tried[p.ID] {
			rest = append(rest, p)
		}
	}
	return ChooseAuthorization(rest, amount, now)
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
		return providers.Outcome{}, notSentBefore(err, "refund")
	}
	refs := map[string]string{RefOrderID: strconv.FormatInt(oid, 10)}
	f := func(d decimal.Decimal) string { return fmtAmount(req, d) }
	refused := func(reason string) (providers.Outcome, error) {
		return providers.Outcome{Kind: providers.Refused, Reason: reason, Refs: refs}, nil
	}
	// A refund of the amount new since the baseline (Prepare's; else this
	// read) and claimed by no other settlement could be this request's own
	// earlier call, committed late (after a "not sent" answer): a refusal
	// beside it is never R.
	base, ok := parseIDList(req.Refs)
	if !ok {
		base = idSet(ps)
	}
	unresolvedBeside := func(ps []Payment, refusal string) error {
		r, ok := unclaimedNew(ps, req, base, isNewRefund, amount)
		if !ok {
			return nil
		}
		return providers.UnresolvedError("", fmt.Sprintf(
			"miva refund: %s, and refund record %d of %s appeared on order %d since the baseline: "+
				"it could be this request's own earlier call, so it is not refused, nor another capture refunded; check the order in the Miva admin, then settle the request by hand",
			refusal, r.ID, f(amount), oid), nil)
	}
	if left := Refundable(ps); left.LessThan(amount) {
		reason := fmt.Sprintf("refund of %s exceeds what Miva order %d has captured and not refunded (%s)", f(amount), oid, f(decimal.Max(left, decimal.Zero)))
		if err := unresolvedBeside(ps, reason); err != nil {
			return providers.Outcome{}, err
		}
		return refused(reason)
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
		// Nothing was refunded now. A refund of the amount that appeared
		// since the baseline explains the refusal if it is this request's
		// own, committed late (the capture it refunded is refused as
		// already refunded, or declined by the gateway): neither R nor
		// another capture then, whatever the refusal.
		what := "refused the refund"
		if providers.CodeOf(err) == codeExceedsRefundable {
			what = "refused the refund as already refunded"
		}
		now, lerr := c.PaymentList(ctx, oid)
		if lerr != nil {
			// Whether the refund is the request's own is unknown: never
			// a refusal (the retry reconciles first).
			return providers.Outcome{}, providers.TransientError("", fmt.Sprintf(
				"miva refund: capture record %d %s (%s), and the payment list, which tells this request's own earlier call committed late from another refund, could not be read (%s): not refused, retrying",
				target.ID, what, reason, providers.ReasonOf(lerr)), nil)
		}
		if err := unresolvedBeside(now, fmt.Sprintf("capture record %d %s (%s)", target.ID, what, reason)); err != nil {
			return providers.Outcome{}, err
		}
		if providers.CodeOf(err) != codeExceedsRefundable || i == len(targets)-1 {
			return refused(reason)
		}
	}
	out := providers.Outcome{Kind: providers.Settled, Refs: refs}
	c.identify(ctx, oid, idSet(ps), isNewRefund, amount, RefRefundID, &out)
	return out, nil
}

// notSentBefore marks a transient failure of a read made before the
// capture or refund (what) as NotSent: that call was not made, whatever
// the read's answer (a bare 503 is uncertain only for a call that moves
// money). Other failures are returned as they are.
func notSentBefore(err error, what string) error {
	if providers.ClassOf(err) != providers.Transient || providers.WasNotSent(err) {
		return err
	}
	return providers.NotSentError(providers.CodeOf(err), providers.ReasonOf(err)+"; the "+what+" was not sent", nil)
}

// unclaimedNew returns a record of the wanted kind and exactly amount that
// is not in before (the baseline) and that no other settlement claimed
// (req.Claimed): after a "not sent" answer, one could be the request's own
// earlier call, committed late.
func unclaimedNew(ps []Payment, req *providers.Request, before map[int64]bool, want func(int) bool, amount decimal.Decimal) (Payment, bool) {
	taken := claimedSet(req)
	for _, r := range newRecords(ps, before, want, amount) {
		if !taken[strconv.FormatInt(r.ID, 10)] {
			return r, true
		}
	}
	return Payment{}, false
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
