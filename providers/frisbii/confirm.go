package frisbii

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/settlement-worker/settlement-worker/money"
	"github.com/settlement-worker/settlement-worker/providers"
)

// Reasons of a ConfirmFunds refusal.
const (
	ReasonChargeNotFound = "charge not found"
	ReasonFullySettled   = "charge is already fully settled"
)

// getCharge reads a charge. found is false on Frisbii's error 31 (or 8).
// A 200 whose body is not that charge (another handle, none) is a
// transient error.
func (c *Client) getCharge(ctx context.Context, handle string) (ch charge, found bool, err error) {
	const op = "charge read"
	r, err := c.call(ctx, op, http.MethodGet, "/v1/charge/"+url.PathEscape(handle), nil)
	if err != nil {
		return charge{}, false, err
	}
	if r.status == http.StatusNotFound {
		// Only Frisbii's own answer means "no such charge"; a bare 404 is
		// more likely a wrong FRISBII_BASE_URL and stays transient.
		if eb, ok := parseError(r); ok && (eb.Code == codeInvoiceNotFound || eb.Code == codeNotFound) {
			return charge{}, false, nil
		}
	}
	if r.status != http.StatusOK {
		return charge{}, false, c.failure(op, r)
	}
	if ch, err = c.decodeCharge(r); err != nil {
		return charge{}, false, providers.TransientError("", "frisbii charge read: "+err.Error(), nil)
	}
	if !strings.EqualFold(ch.Handle, handle) {
		// JSON, but not the charge asked for (null, {}, another charge: a
		// gateway or a stub at a wrong FRISBII_BASE_URL, a cache): read
		// as the charge, its zero or foreign fields would refuse funds.
		return charge{}, false, providers.TransientError("", fmt.Sprintf(
			"frisbii charge read: HTTP %d answer is not charge %s (another handle, or none): not Frisbii's charge object; check FRISBII_BASE_URL", r.status, handle), nil)
	}
	return ch, true, nil
}

// ConfirmFunds reads the charge (GET /v1/charge/{handle}) and confirms that
// what is left of its authorization covers the debit: the charge is
// authorized, or settled with money left (Frisbii allows "multiple settles
// ... up to the authorized amount"), and authorized − settled ≥ amount.
// Otherwise the debit is withheld with a reason: charge not found, cancelled,
// failed, fully settled, or "only X of Y left". The authorized and settled
// amounts are recorded in Refs for Settle's own check.
func (c *Client) ConfirmFunds(ctx context.Context, req *providers.Request) (providers.ConfirmResult, error) {
	if req == nil {
		return providers.ConfirmResult{}, errors.New("frisbii ConfirmFunds: no request")
	}
	handle, err := chargeHandle(req)
	if err != nil {
		return providers.ConfirmResult{}, err
	}
	want, err := minorUnits(req.Amount)
	if err != nil {
		return providers.ConfirmResult{}, err
	}
	ch, found, err := c.getCharge(ctx, handle)
	if err != nil {
		return providers.ConfirmResult{}, err
	}
	if !found {
		return providers.ConfirmResult{Reason: ReasonChargeNotFound + " (handle " + handle + ")"}, nil
	}
	if ch.Currency != req.Amount.Currency {
		return providers.ConfirmResult{Reason: fmt.Sprintf("charge %s is in %s, the settlement in %s", handle, ch.Currency, req.Amount.Currency)}, nil
	}
	if ch.Processing {
		return providers.ConfirmResult{}, providers.TransientError("80", "frisbii: charge "+handle+" has a transaction still processing; confirming again later", nil)
	}
	refs := map[string]string{
		RefChargeHandle:     handle,
		RefAuthorizedAmount: strconv.FormatInt(ch.authorized(), 10),
		RefSettledAmount:    strconv.FormatInt(ch.settledSoFar(), 10),
		// The settle call follows this confirmation, recorded with it.
		RefKeyFirstUsed: keyTime(c.now(ctx)),
	}
	switch ch.State {
	case stateAuthorized, stateSettled:
	case stateFailed:
		reason := "charge failed"
		if ch.ErrorState != "" || ch.Error != "" {
			reason += " (" + providers.QuotedCode(ch.ErrorState) + ": " + providers.Quoted(c.redact(ch.Error)) + ")"
		}
		return providers.ConfirmResult{Reason: reason, Refs: refs}, nil
	case stateCancelled:
		return providers.ConfirmResult{Reason: "charge was cancelled", Refs: refs}, nil
	default:
		return providers.ConfirmResult{Reason: "charge is " + ch.State + ", not authorized", Refs: refs}, nil
	}
	left := ch.authorized() - ch.settledSoFar()
	switch {
	case left <= 0:
		return providers.ConfirmResult{Reason: ReasonFullySettled, Refs: refs}, nil
	case left < want:
		return providers.ConfirmResult{Reason: onlyLeft(left, ch.authorized(), want, ch.Currency), Refs: refs}, nil
	}
	return providers.ConfirmResult{Available: true, Refs: refs}, nil
}

// onlyLeft words an authorization too small for the debit.
func onlyLeft(left, authorized, want int64, currency string) string {
	f := func(n int64) string {
		m, err := money.FromMinor(n, currency)
		if err != nil {
			return strconv.FormatInt(n, 10) + " minor units"
		}
		return m.String() + " " + currency
	}
	return fmt.Sprintf("only %s of %s left to settle; %s requested", f(left), f(authorized), f(want))
}
