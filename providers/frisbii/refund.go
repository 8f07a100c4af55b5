package frisbii

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
)

// credit refunds the charge (POST /v1/refund {invoice, key, amount, text}),
// after checkRefundCurrency. Every path that sends the refund (Settle,
// Reconcile, Poll without a refund id) comes through here. repeat marks
// a call that may repeat an earlier one: error 1 then is no refusal
// (refundKeyRefused).
func (c *Client) credit(ctx context.Context, req *providers.Request, repeat bool) (providers.Outcome, error) {
	const op = "refund"
	handle, err := chargeHandle(req)
	if err != nil {
		return providers.Outcome{}, err
	}
	amount, err := minorUnits(req.Amount)
	if err != nil {
		return providers.Outcome{}, err
	}
	acq, err := acquirerReference(req)
	if err != nil {
		return providers.Outcome{}, err
	}
	if repeat {
		if err := c.keyMayBeForgotten(ctx, req, op, handle); err != nil {
			return providers.Outcome{}, err
		}
	}
	if err := c.checkRefundCurrency(ctx, req, handle); err != nil {
		return providers.Outcome{}, err
	}
	body := refundBody{Invoice: handle, Key: req.RequestID, Amount: amount, Text: refundText(req.Message, handle), AcquirerReference: acq}
	r, err := c.call(ctx, op, http.MethodPost, "/v1/refund", body)
	if err != nil {
		return providers.Outcome{}, err
	}
	if r.status != http.StatusOK {
		if eb, ok := parseError(r); ok && repeat {
			switch eb.Code {
			case codeInvalidRequest:
				return providers.Outcome{}, c.refundKeyRefused(ctx, req, handle, amount, eb)
			case codeRefundAmountTooHigh, codeMultipleRefunds:
				return providers.Outcome{}, c.refundRoomRefused(ctx, req, handle, amount, eb)
			}
		}
		return providers.Outcome{}, c.failure(op, r)
	}
	rf, err := c.decodeRefund(r)
	if err != nil {
		return providers.Outcome{}, providers.TransientError("", "frisbii refund: "+err.Error(), nil)
	}
	known := req.Refs[RefRefundID]
	if known != "" && rf.ID != "" && rf.ID != known && strings.EqualFold(rf.Invoice, handle) {
		return providers.Outcome{}, c.anotherRefund(req, handle, known, rf)
	}
	out, err := c.refundOutcome(handle, req.RequestID, rf)
	if err == nil && out.Kind == providers.Refused && repeat && known == "" {
		return providers.Outcome{}, c.declinedRepeat(req, handle, amount, out)
	}
	return out, err
}

// declinedRepeat answers a refund declined on a possible repeat whose
// earlier call's refund is not known (its answer was lost). While Frisbii
// holds the key the decline is that earlier refund's, replayed: R. But a key
// Frisbii no longer holds (its lifetime is not published) makes the repeat
// a new refund, whose decline says nothing of the first, which may have
// refunded; the charge shows only the total refunded, not by which key nor
// the refunds processing. So the credit is parked (Unresolved), never R.
func (c *Client) declinedRepeat(req *providers.Request, handle string, amount int64, out providers.Outcome) error {
	return providers.UnresolvedError("", fmt.Sprintf(
		"%s, answering a repeat of refund key %s on charge %s (refund %s): an earlier attempt of this request, whose answer was lost, may have refunded its %s "+
			"(Frisbii answers a key it no longer holds as a new refund); check in the Frisbii admin whether charge %s holds another refund under key %s before deciding S or R",
		out.Reason, req.RequestID, handle, providers.Quoted(out.Ref), minorText(amount, req.Amount.Currency), handle, req.RequestID), nil)
}

// anotherRefund answers a refund call under this request's key that
// Frisbii answered with a refund other than the one it created for the key
// earlier (known, recorded when it was answered processing). A repeat of a
// known key is answered its refund; another one means Frisbii took the
// call for a new refund (it no longer held the key): a second refund of
// this credit's money, whose state says nothing of the first, which may
// still be processing. It is no verdict: the request is parked
// (Unresolved) naming both refunds.
func (c *Client) anotherRefund(req *providers.Request, handle, known string, rf refund) error {
	return providers.UnresolvedError("", fmt.Sprintf(
		"Frisbii answered the repeat of refund key %s on charge %s with refund %s (state %s, %s), not refund %s that it created for the key "+
			"(answered processing): it took the repeat for a new refund, so this credit may be refunded twice; "+
			"check both refunds in the Frisbii admin before deciding S or R",
		req.RequestID, handle, providers.Quoted(c.redact(rf.ID)), providers.QuotedCode(rf.State), minorText(rf.Amount, req.Amount.Currency), providers.Quoted(known)), nil)
}

// refundKeyRefused answers error 1 "Invalid request" on a refund that may
// repeat an earlier attempt (attempt > 1, Reconcile or Poll). It never
// reports R. Frisbii answers error 1 to a key used before with other
// content ("Only one refund can be performed for the same key"): a body
// built otherwise since the first attempt (a worker upgraded between
// attempts) meets it, and that first attempt may have refunded this
// request's money, which only Frisbii's records can tell. Frisbii offers no
// lookup of a refund by key, and the charge shows only the total refunded,
// not by which key, so the client cannot decide: the request is parked
// (providers.Unresolved) with the charge's figures, read with
// GET /v1/charge/{handle}.
func (c *Client) refundKeyRefused(ctx context.Context, req *providers.Request, handle string, amount int64, eb errorBody) error {
	f := func(n int64) string { return minorText(n, req.Amount.Currency) }
	facts := "the charge could not be read"
	if ch, found, err := c.getCharge(ctx, handle); err == nil && found {
		facts = fmt.Sprintf("Frisbii shows %s refunded of %s settled on the charge (state %s)",
			f(ch.RefundedAmount), f(ch.settledSoFar()), ch.State)
	}
	return providers.UnresolvedError(strconv.Itoa(codeInvalidRequest), fmt.Sprintf(
		"Frisbii refused a repeat of refund key %s on charge %s with error 1 Invalid request (%s): the key may have been used by an earlier attempt "+
			"of this request with other content, whose refund of %s may have been performed; %s; "+
			"check in the Frisbii admin whether charge %s holds a refund under key %s before deciding S or R",
		req.RequestID, handle, providers.Quoted(c.redact(eb.Message)), f(amount), facts, handle, req.RequestID), nil)
}

// refundRoomRefused answers error 65 "Refund amount too high" (or 131
// "Multiple refunds not allowed") on a refund that may repeat an earlier
// attempt. While Frisbii holds the key the repeat would have been answered
// the earlier refund; but a key Frisbii no longer holds (its lifetime is
// not published) makes the repeat a new refund, refused because the first
// one took the room: its money moved. The charge shows only the total
// refunded, not processing refunds nor by which key, so the refusal cannot
// be told from that case: the request is parked (Unresolved) with the
// charge's figures, never R.
func (c *Client) refundRoomRefused(ctx context.Context, req *providers.Request, handle string, amount int64, eb errorBody) error {
	f := func(n int64) string { return minorText(n, req.Amount.Currency) }
	facts := "the charge could not be read"
	if ch, found, err := c.getCharge(ctx, handle); err == nil && found {
		facts = fmt.Sprintf("Frisbii shows %s refunded of %s settled on the charge", f(ch.RefundedAmount), f(ch.settledSoFar()))
	}
	return providers.UnresolvedError(strconv.Itoa(eb.Code), fmt.Sprintf(
		"Frisbii refused a repeat of refund key %s on charge %s with error %d %s: an earlier attempt of this request may have refunded its %s "+
			"(Frisbii answers a key it no longer holds as a new refund, and refuses it when the first took the room); %s; "+
			"check in the Frisbii admin whether charge %s holds a refund under key %s before deciding S or R",
		req.RequestID, handle, eb.Code, providers.Quoted(c.redact(eb.Error)), f(amount), facts, handle, req.RequestID), nil)
}

// checkRefundCurrency reads the charge (GET /v1/charge/{handle}) before
// the refund is sent and refuses (Permanent) a credit in another currency
// than the charge's: a refund has no currency field, its amount is taken in
// minor units of the charge's currency (a JPY 700 credit on a USD charge
// would refund 7.00 USD), and credits skip ConfirmFunds. A failed read is
// transient and NotSent: the refund was not sent. An unknown charge is left
// to the refund call, which Frisbii answers with error 31 as before.
func (c *Client) checkRefundCurrency(ctx context.Context, req *providers.Request, handle string) error {
	ch, found, err := c.getCharge(ctx, handle)
	if err != nil {
		return providers.NotSentError(providers.CodeOf(err), "frisbii: the charge could not be read to check its currency before the refund; "+
			"the refund was not sent: "+providers.ReasonOf(err), nil)
	}
	if !found {
		return nil
	}
	if ch.Currency == "" {
		return providers.NotSentError("", fmt.Sprintf("frisbii: charge %s was read without a currency; the refund was not sent", handle), nil)
	}
	if ch.Currency != req.Amount.Currency {
		return providers.MismatchBeforeCall(req.Attempt, fmt.Sprintf("refund refused before calling Frisbii: charge %s is in %s, the credit in %s "+
			"(Frisbii refunds minor units of the charge's currency); this call was not sent", handle, ch.Currency, req.Amount.Currency))
	}
	return nil
}

// refundText is the credit note text: the RefundReason, else the order text.
func refundText(m *messages.PaymentSettlementRequest, handle string) string {
	if m != nil && strings.TrimSpace(m.RefundReason) != "" {
		return truncate(strings.TrimSpace(m.RefundReason), maxOrderText)
	}
	return truncate("Refund: "+orderText(m, handle), maxOrderText)
}

// refundOutcome reads a refund object, which must be a refund (an id) of
// the charge (invoice = handle; otherwise a transient error): refunded → Settled; processing
// (asynchronous payment methods) → Pending, polled after RefundRecheck;
// failed → Refused, except a processing_error, which is transient (no
// money moved; Frisbii recommends retrying "later ... but only a few
// times", which the retry policy bounds).
func (c *Client) refundOutcome(handle, key string, rf refund) (providers.Outcome, error) {
	if rf.ID == "" || !strings.EqualFold(rf.Invoice, handle) {
		// Not Frisbii's refund of this charge (no id, another invoice):
		// no verdict on it, whatever its state says.
		return providers.Outcome{}, providers.TransientError("", fmt.Sprintf(
			"frisbii refund: HTTP 200 answer is not about charge %s (a refund without an id, or of another invoice): not Frisbii's refund object; retried with the same idempotency key; check FRISBII_BASE_URL", handle), nil)
	}
	refs := map[string]string{RefChargeHandle: handle, RefIdempotencyKey: key, RefRefundID: rf.ID, RefTransaction: rf.Transaction}
	switch rf.State {
	case refundRefunded:
		return providers.Outcome{Kind: providers.Settled, Ref: rf.ID, Refs: refs}, nil
	case refundProcessing:
		return providers.Outcome{Kind: providers.Pending, Ref: rf.ID, Refs: refs, RecheckAfter: c.cfg.RefundRecheck}, nil
	case refundFailed:
		if rf.ErrorState == errorStateProcessing {
			return providers.Outcome{}, providers.TransientError(errorStateProcessing, fmt.Sprintf(
				"Frisbii processing error on refund (%s); retried with the same idempotency key", orUnknown(rf.Error)), nil)
		}
		reason := fmt.Sprintf("Frisbii declined the refund (%s: %s)", orUnknown(providers.QuotedCode(rf.ErrorState)), orUnknown(rf.Error))
		if rf.AcquirerMessage != "" {
			reason += "; acquirer: " + providers.Quoted(c.redact(rf.AcquirerMessage))
		}
		return providers.Outcome{Kind: providers.Refused, Ref: rf.ID, Refs: refs, Reason: reason}, nil
	default:
		return providers.Outcome{}, providers.TransientError("", fmt.Sprintf("frisbii refund: unknown state %q; asking again with the same idempotency key", rf.State), nil)
	}
}

// Poll re-checks a settlement left Pending: a refund still processing is
// read with GET /v1/refund/{id}. Without a refund id (or if Frisbii does
// not know it: error 107, or 8 before its read model holds the refund),
// and for debits, the call is repeated with the same idempotency key,
// which answers its current result without moving money twice. Only the
// refund's own record (state failed) ends a polled credit R: an error
// answer of the read or of the repeat is no verdict (see pollFailure).
func (c *Client) Poll(ctx context.Context, req *providers.Request) (providers.Outcome, error) {
	const op = "refund read"
	if req == nil {
		return providers.Outcome{}, fmt.Errorf("frisbii Poll: no request")
	}
	id := req.Refs[RefRefundID]
	if req.Type != messages.SettlementCredit {
		return c.submit(ctx, req, true)
	}
	if id == "" {
		return c.repeatRefund(ctx, req)
	}
	handle, err := chargeHandle(req)
	if err != nil {
		return providers.Outcome{}, err
	}
	r, err := c.call(ctx, op, http.MethodGet, "/v1/refund/"+url.PathEscape(id), nil)
	if err != nil {
		return providers.Outcome{}, err
	}
	if eb, ok := parseError(r); ok && (eb.Code == codeRefundNotFound || eb.Code == codeNotFound) {
		return c.repeatRefund(ctx, req)
	}
	if r.status != http.StatusOK {
		return providers.Outcome{}, readFailure(c.failure(op, r))
	}
	rf, err := c.decodeRefund(r)
	if err != nil {
		return providers.Outcome{}, providers.TransientError("", "frisbii refund read: "+err.Error(), nil)
	}
	if rf.ID != id {
		// Not the refund asked for (another refund, none): no verdict
		// on this one, whatever its state says.
		return providers.Outcome{}, providers.TransientError("", fmt.Sprintf(
			"frisbii refund read: HTTP 200 answer is not refund %s (another refund, or none): not Frisbii's refund object; read again later; check FRISBII_BASE_URL", providers.Quoted(id)), nil)
	}
	return c.refundOutcome(handle, req.RequestID, rf)
}

// readFailure classifies a refund read's error answer: a read refused is
// no verdict on the refund, which may be processing and refund later, so a
// Permanent class becomes Unresolved (parked for a person), never R.
func readFailure(err error) error {
	return noVerdict(err, "the refund's read was refused, not the refund, which may still be processing")
}

// repeatRefund repeats a polled credit's refund with its idempotency key
// (Poll without a refund id, or whose read Frisbii answered 8 or 107). The
// refund was created (it was answered processing), so the repeat is
// answered its record, whose state decides; an error answer of the repeat
// (1 for the key, 64, 65, 66, 31, 8, ...) is Frisbii refusing this call,
// not the refund, which may still be processing and refund: pollFailure.
func (c *Client) repeatRefund(ctx context.Context, req *providers.Request) (providers.Outcome, error) {
	out, err := c.credit(ctx, req, true)
	if err != nil {
		return providers.Outcome{}, pollFailure(err)
	}
	return out, nil
}

// pollFailure classifies an error answer of the repeat of a refund left
// processing: a Permanent class becomes Unresolved (parked for a person),
// never R; transient errors stay transient (polled again, then parked when
// the retries are spent).
func pollFailure(err error) error {
	return noVerdict(err, "Frisbii refused this repeat of a refund it had answered processing (same idempotency key), "+
		"not the refund, which may still be processing")
}

// noVerdict turns a Permanent error into Unresolved with why (what was
// refused) and what a person does; other classes are returned as they are.
func noVerdict(err error, why string) error {
	var pe *providers.Error
	if errors.As(err, &pe) && pe.Class == providers.Permanent {
		return &providers.Error{Class: providers.Unresolved, Code: pe.Code, Err: pe.Err,
			Reason: pe.Reason + "; " + why + ": check it in the Frisbii admin before deciding S or R"}
	}
	return err
}
