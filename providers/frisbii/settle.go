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
	"github.com/settlement-worker/settlement-worker/money"
	"github.com/settlement-worker/settlement-worker/providers"
)

// Settle submits a debit (POST /v1/charge/{handle}/settle) or a credit
// (POST /v1/refund) with the idempotency key req.RequestID.
func (c *Client) Settle(ctx context.Context, req *providers.Request) (providers.Outcome, error) {
	return c.submit(ctx, req, false)
}

// Reconcile is called by the pipeline instead of Settle when an earlier
// attempt may have reached Frisbii (a crash or a transient failure after
// the call). Frisbii offers no lookup by idempotency key, but a repeat with
// the same key "will yield the same result": so Reconcile repeats the call
// with the same key and body. If the earlier attempt was performed, Frisbii
// answers its result and moves no money; if it never arrived, the repeat
// performs it, exactly as a new Settle would. Error 79 "Invoice already
// settled" on this repeat is NOT read as success: a settle performed under
// this key would have been replayed, so other settles used the charge; the
// request is parked as providers.Unresolved (see settledByOther). Nor is
// error 1 "Invalid request", Frisbii's answer to a key used before with
// other content, read as a refusal: the settle or refund under that key may
// be this request's, so it is parked too (refundKeyRefused for credits).
// found is true whenever Frisbii answered with a verdict.
func (c *Client) Reconcile(ctx context.Context, req *providers.Request) (providers.Outcome, bool, error) {
	out, err := c.submit(ctx, req, true)
	if err != nil {
		return providers.Outcome{}, false, err
	}
	return out, true, nil
}

// submit dispatches on the settlement type. uncertain marks a call that
// may repeat an earlier one (Reconcile); so does an attempt after the
// first: debit and credit are told either way (repeat).
func (c *Client) submit(ctx context.Context, req *providers.Request, uncertain bool) (providers.Outcome, error) {
	if req == nil {
		return providers.Outcome{}, errors.New("frisbii: no request")
	}
	if req.RequestID == "" {
		return providers.Outcome{}, providers.Permanentf("the request has no requestId to use as Frisbii's idempotency key")
	}
	typ := req.Type
	if typ == "" && req.Message != nil {
		typ = req.Message.SettlementType
	}
	switch typ {
	case messages.SettlementDebit:
		return c.debit(ctx, req, uncertain || req.Attempt > 1)
	case messages.SettlementCredit:
		return c.credit(ctx, req, uncertain || req.Attempt > 1)
	default:
		return providers.Outcome{}, providers.Permanentf("settlement type %q is neither Debit nor Credit", typ)
	}
}

// debit settles (captures) the charge. repeat marks a call that may repeat
// an earlier one under the same key.
func (c *Client) debit(ctx context.Context, req *providers.Request, repeat bool) (providers.Outcome, error) {
	const op = "settle"
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
	if err := c.checkLeft(ctx, req, handle, amount, repeat); err != nil {
		return providers.Outcome{}, err
	}
	if repeat {
		if err := c.keyMayBeForgotten(ctx, req, op, handle); err != nil {
			if err := c.nothingSettledSince(ctx, req, handle, err); err != nil {
				return providers.Outcome{}, err
			}
		}
	}
	body := settleBody{Key: req.RequestID, AcquirerReference: acq}
	refs := map[string]string{RefChargeHandle: handle, RefIdempotencyKey: req.RequestID, RefSettleMode: "order_lines"}
	if lines, lerr := orderLines(req.Message, req.Amount, amount); lerr == nil {
		body.OrderLines = lines
	} else {
		body.Amount, body.OrderText = amount, orderText(req.Message, handle)
		refs[RefSettleMode] = "amount"
	}
	r, err := c.call(ctx, op, http.MethodPost, "/v1/charge/"+url.PathEscape(handle)+"/settle", body)
	if err != nil {
		return providers.Outcome{}, err
	}
	if r.status == http.StatusOK {
		ch, err := c.decodeCharge(r)
		if err != nil {
			return providers.Outcome{}, providers.TransientError("", "frisbii settle: "+err.Error(), nil)
		}
		out, err := settleOutcome(handle, ch, refs)
		if repeat && err == nil && out.Kind == providers.Refused {
			if err := c.refusedRepeat(ctx, req, handle, amount, ch.ErrorState, out.Reason); err != nil {
				return providers.Outcome{}, err
			}
		}
		return out, err
	}
	if eb, ok := parseError(r); ok && repeat {
		switch eb.Code {
		case CodeInvoiceAlreadySettled:
			return providers.Outcome{}, c.settledByOther(ctx, req, handle, amount)
		case codeInvalidRequest:
			// On a possible repeat, error 1 may be Frisbii refusing the key
			// because an earlier use of it carried other content (a body
			// built differently since): that earlier settle may be this
			// request's money, so the answer is no refusal.
			return providers.Outcome{}, providers.UnresolvedError(strconv.Itoa(codeInvalidRequest), fmt.Sprintf(
				"Frisbii refused a repeat of settle key %s on charge %s with error 1 Invalid request (%s): the key may have been used by an earlier attempt "+
					"of this request with other content, whose settle may have moved the money; check in the Frisbii admin whether charge %s holds a settle under key %s before deciding S or R",
				req.RequestID, handle, providers.Quoted(c.redact(eb.Message)), handle, req.RequestID), nil)
		}
	}
	ferr := c.failure(op, r)
	if repeat && providers.ClassOf(ferr) == providers.Permanent {
		if err := c.refusedRepeat(ctx, req, handle, amount, providers.CodeOf(ferr), providers.ReasonOf(ferr)); err != nil {
			return providers.Outcome{}, err
		}
	}
	return providers.Outcome{}, ferr
}

// nothingSettledSince lets a settle past the key's lifetime (forgotten,
// keyMayBeForgotten's error) be sent when the charge shows no more settled
// than when funds were confirmed: then no earlier call of this request
// captured, and a call Frisbii takes for new is the only capture. Otherwise
// (more settled, no confirmed amounts, the charge unread or unknown) the
// error stands: the request is parked, or retried when the read failed.
func (c *Client) nothingSettledSince(ctx context.Context, req *providers.Request, handle string, forgotten error) error {
	_, before, ok := confirmedAmounts(req.Refs, handle)
	if !ok {
		return forgotten
	}
	ch, found, err := c.getCharge(ctx, handle)
	switch {
	case err != nil:
		return providers.TransientError(providers.CodeOf(err), "frisbii: the settle's key may be forgotten by Frisbii, and the charge could not be read "+
			"to tell whether an earlier call of this request settled: "+providers.ReasonOf(err), nil)
	case !found || ch.settledSoFar() > before:
		return forgotten
	}
	return nil
}

// refusedRepeat judges a refusal (a decline, or a permanent error such as
// 102) of a settle that may repeat an earlier call under the same key.
// While Frisbii holds the key the refusal is the answer to the first call
// that was performed, or to this one when none was: R. But Frisbii takes a
// key it no longer holds (its lifetime is not published, and may be
// shorter than FRISBII_KEY_LIFETIME) for a new call, and refuses it when the
// first call took the room, though that call's money moved. So the
// refusal stands (nil) only when the charge shows no more settled than
// when funds were confirmed (or nothing settled at all, without the
// confirmed amounts): then no earlier call of this request captured.
// Otherwise the request is parked (Unresolved) with the charge's figures;
// a failed read is transient (judged again on the retry).
func (c *Client) refusedRepeat(ctx context.Context, req *providers.Request, handle string, amount int64, code, refusal string) error {
	ch, found, err := c.getCharge(ctx, handle)
	if err != nil {
		return providers.TransientError(providers.CodeOf(err), "frisbii: a repeat of settle key "+req.RequestID+" was refused ("+refusal+
			"); the charge could not be read to tell whether an earlier call of this request settled: "+providers.ReasonOf(err), nil)
	}
	if !found {
		return nil
	}
	_, before, ok := confirmedAmounts(req.Refs, handle)
	if !ok {
		before = 0
	}
	if ch.settledSoFar() <= before {
		return nil
	}
	f := func(n int64) string { return minorText(n, req.Amount.Currency) }
	return providers.UnresolvedError(code, fmt.Sprintf(
		"Frisbii refused a repeat of settle key %s on charge %s (%s), but the charge shows %s settled of %s authorized, %s when funds were confirmed: "+
			"this request's %s may be among it (Frisbii answers a key it no longer holds as a new call, and refuses it when the first call took the room); "+
			"check in the Frisbii admin whether charge %s holds a settle under key %s before deciding S or R",
		req.RequestID, handle, refusal, f(ch.settledSoFar()), f(ch.authorized()), f(before), f(amount), handle, req.RequestID), nil)
}

// settledByOther answers error 79 "Invoice already settled" on a possible
// repeat. It never reports S. The rule:
//
// Every settle is sent with the idempotency key req.RequestID, and Frisbii
// keeps the result under that key: "multiple requests with the same key will
// yield the same result" (seed 002). So when an earlier attempt of THIS
// request was performed, the repeat is answered with that attempt's result
// (HTTP 200, the settled charge) and settleOutcome reports S from it. Error
// 79 on a keyed repeat therefore means Frisbii holds no performed settle
// under this key: the charge was filled by other settles ("If two settle
// attempts are attempted and the first succeeds the second will fail
// because charge is already settled", seed 002). Frisbii's advice to read 79
// as success on a retry holds for key-less retries only. The charge object
// exposes the total settled (amount), not who settled it, so it cannot prove
// otherwise; the only case it cannot rule out is a key Frisbii has expired,
// which a person must check (a repeat past Config.KeyLifetime is not even
// sent: keyMayBeForgotten). The request is parked (providers.Unresolved)
// with the charge's figures, read with GET /v1/charge/{handle}.
func (c *Client) settledByOther(ctx context.Context, req *providers.Request, handle string, amount int64) error {
	f := func(n int64) string { return minorText(n, req.Amount.Currency) }
	want := f(amount)
	facts := "the charge could not be read"
	if ch, found, err := c.getCharge(ctx, handle); err == nil && found {
		facts = fmt.Sprintf("Frisbii shows %s settled of %s authorized (state %s, last transaction %s)",
			f(ch.settledSoFar()), f(ch.authorized()), ch.State, orUnknown(ch.Transaction))
	}
	return providers.UnresolvedError(strconv.Itoa(CodeInvoiceAlreadySettled), fmt.Sprintf(
		"Frisbii error 79 Invoice already settled on a repeat of settle key %s: charge %s was settled by another settlement; "+
			"this request's %s was not settled (a settle performed under this key would have been replayed); %s; "+
			"check in the Frisbii admin which settlements moved the money before deciding S or R",
		req.RequestID, handle, want, facts), nil)
}

// checkLeft refuses, before any money moves, a settle larger than what is
// left of the authorization (authorized − settled). It uses the amounts
// ConfirmFunds recorded; without them it reads the charge, but only on a
// first, certain attempt: on a repeat the charge may already include this
// very settle, and only Frisbii, asked with the same key, can tell
// (Frisbii enforces the limit itself with error 102).
func (c *Client) checkLeft(ctx context.Context, req *providers.Request, handle string, amount int64, repeat bool) error {
	authorized, settled, ok := confirmedAmounts(req.Refs, handle)
	if !ok {
		if repeat {
			return nil
		}
		ch, found, err := c.getCharge(ctx, handle)
		if err != nil {
			return err
		}
		if !found {
			return providers.Permanentf("%s (handle %s)", ReasonChargeNotFound, handle)
		}
		if ch.State != stateAuthorized && ch.State != stateSettled {
			return nil // Frisbii answers with the precise error
		}
		authorized, settled = ch.authorized(), ch.settledSoFar()
	}
	if left := authorized - settled; left < amount {
		if left <= 0 {
			return providers.Permanentf("%s: nothing left of the authorization to settle", ReasonFullySettled)
		}
		return providers.Permanentf("settle refused before calling Frisbii: %s", onlyLeft(left, authorized, amount, req.Amount.Currency))
	}
	return nil
}

// confirmedAmounts reads the amounts ConfirmFunds recorded for handle.
func confirmedAmounts(refs map[string]string, handle string) (authorized, settled int64, ok bool) {
	if refs[RefChargeHandle] != handle {
		return 0, 0, false
	}
	a, err1 := strconv.ParseInt(refs[RefAuthorizedAmount], 10, 64)
	s, err2 := strconv.ParseInt(refs[RefSettledAmount], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return a, s, true
}

// settleOutcome reads a settle's HTTP 200 answer, which must be the
// charge settled (its handle; another is a transient error). Frisbii: "Use the
// error_state, error and state parameters to determine if the operation was
// successful ... For multiple settles the state is already settled so the
// error and/or error_state parameter must be used to determine success."
func settleOutcome(handle string, ch charge, refs map[string]string) (providers.Outcome, error) {
	if !strings.EqualFold(ch.Handle, handle) {
		// Not Frisbii's answer about this charge (none, or another's): no
		// verdict on it, whatever its state says.
		return providers.Outcome{}, providers.TransientError("", fmt.Sprintf(
			"frisbii settle: HTTP 200 answer is not about charge %s (another handle, or none): not Frisbii's charge object; retried with the same idempotency key; check FRISBII_BASE_URL", handle), nil)
	}
	switch ch.ErrorState {
	case "":
	case errorStateHard:
		return providers.Outcome{Kind: providers.Refused, Ref: handle, Refs: refs,
			Reason: fmt.Sprintf("Frisbii declined the settle (hard_declined: %s)", orUnknown(ch.Error))}, nil
	case errorStateSoft:
		// A soft decline is "possibly recoverable", but retrying with the
		// same key would replay it: the request ends R, and a new request
		// (new requestId) may be sent later.
		return providers.Outcome{Kind: providers.Refused, Ref: handle, Refs: refs,
			Reason: fmt.Sprintf("Frisbii declined the settle (soft_declined: %s); the decline may be temporary: a new settlement request may succeed later", orUnknown(ch.Error))}, nil
	case errorStateProcessing:
		return providers.Outcome{}, providers.TransientError(errorStateProcessing, fmt.Sprintf(
			"Frisbii processing error on settle (%s); retried with the same idempotency key", orUnknown(ch.Error)), nil)
	default:
		return providers.Outcome{}, providers.TransientError(providers.QuotedCode(ch.ErrorState), fmt.Sprintf(
			"frisbii settle: unknown error_state %q (%s); retried with the same idempotency key", providers.QuotedCode(ch.ErrorState), orUnknown(ch.Error)), nil)
	}
	switch {
	case ch.State == stateSettled && !ch.Processing:
		ref := ch.Transaction
		if ref == "" {
			ref = handle
		}
		refs[RefTransaction] = ch.Transaction
		return providers.Outcome{Kind: providers.Settled, Ref: ref, Refs: refs}, nil
	case ch.State == stateFailed:
		return providers.Outcome{Kind: providers.Refused, Ref: handle, Refs: refs,
			Reason: "Frisbii declined the settle: charge failed (" + orUnknown(ch.Error) + ")"}, nil
	default:
		return providers.Outcome{}, providers.TransientError("", fmt.Sprintf(
			"frisbii settle: answered state %q (processing %v) without an error; asking again with the same idempotency key", ch.State, ch.Processing), nil)
	}
}

// minorText words n minor units of currency as an amount ("40.00 USD"),
// or as minor units when the currency is unknown.
func minorText(n int64, currency string) string {
	m, err := money.FromMinor(n, currency)
	if err != nil {
		return strconv.FormatInt(n, 10) + " minor units"
	}
	return m.String() + " " + currency
}

// orUnknown is Frisbii's error text s, quoted (providers.Quoted), or "no
// error given".
func orUnknown(s string) string {
	if s == "" {
		return "no error given"
	}
	return providers.Quoted(s)
}
