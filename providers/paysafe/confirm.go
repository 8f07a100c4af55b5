package paysafe

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/settlement-worker/settlement-worker/providers"
)

// Reasons of a ConfirmFunds refusal (the pipeline prefixes them with
// "funds not available: ").
const (
	ReasonAuthNotFound = "authorization not found"
)

// ConfirmFunds reads the authorization (GET .../auths/{authId}) before a
// debit: it is available when its status is COMPLETED, its currency is the
// request's and availableToSettle (minor units, less every earlier partial
// settlement) covers the debit's Amount. An unknown authorization (404), a
// FAILED or a CANCELLED one is not available; one Paysafe has not decided
// yet (RECEIVED, HELD for review, an unknown status) is a transient error,
// never a refusal. Other failures are classified like any Paysafe error.
func (c *Client) ConfirmFunds(ctx context.Context, req *providers.Request) (providers.ConfirmResult, error) {
	const op = "ConfirmFunds"
	t, err := c.target(req)
	if err != nil {
		return providers.ConfirmResult{}, err
	}
	if t.kind != KindSettlement {
		return providers.ConfirmResult{}, providers.Permanentf("confirm funds applies to debits only")
	}
	r, err := c.do(ctx, op, http.MethodGet, path(t.account, "auths", t.parent), nil, nil)
	if err != nil {
		return providers.ConfirmResult{}, err
	}
	refs := map[string]string{RefAccountID: t.account, RefAuthorizationID: t.parent}
	if r.notFound() {
		return providers.ConfirmResult{Available: false, Reason: ReasonAuthNotFound, Refs: refs}, nil
	}
	if !r.ok() {
		return providers.ConfirmResult{}, classify(op, r, c.secrets(req)...)
	}
	var a authorization
	if err := decode(op, r, &a); err != nil {
		return providers.ConfirmResult{}, err
	}
	if err := isAuthorization(a, t.parent, op); err != nil {
		return providers.ConfirmResult{}, err
	}
	if a.AvailableToSettle == nil || a.Status == "" {
		return providers.ConfirmResult{}, providers.TransientError("", "paysafe ConfirmFunds: the authorization reply has no status or availableToSettle", nil)
	}
	refs[RefStatus] = a.Status
	res := providers.ConfirmResult{Refs: refs}
	avail := *a.AvailableToSettle
	switch {
	case a.Status == StatusFailed || a.Status == StatusCancelled:
		res.Reason = "authorization is " + a.Status
	case a.Status != StatusCompleted:
		// RECEIVED (being processed), HELD (Paysafe's risk review) or a
		// status the client does not know: Paysafe has not decided, and
		// the authorization may still complete with the whole amount.
		return providers.ConfirmResult{}, providers.TransientError("", fmt.Sprintf(
			"paysafe ConfirmFunds: authorization %s is %s, not final yet (processing or under Paysafe's review): asked again, then parked for a person; it is not refused while Paysafe may still complete it",
			t.parent, a.Status), nil)
	case a.CurrencyCode != "" && a.CurrencyCode != t.money.Currency:
		res.Reason = fmt.Sprintf("authorization is in %s, the settlement in %s", a.CurrencyCode, t.money.Currency)
	case avail < t.amount:
		res.Reason = fmt.Sprintf("only %s of %s still available to settle", t.format(avail), t.format(t.amount))
	default:
		res.Available = true
	}
	return res, nil
}

// isAuthorization checks that a, read with GET .../auths/{id}, is that
// authorization: a 200 naming another id, or none (a gateway or a stub at
// a wrong PAYSAFE_BASE_URL, a cache), says nothing of it, and its status
// or amounts would refuse the debit. Ids compare without case (UUIDs).
func isAuthorization(a authorization, id, op string) error {
	if strings.EqualFold(a.ID, id) {
		return nil
	}
	return providers.TransientError("", fmt.Sprintf(
		"paysafe %s: HTTP 200 answer is not authorization %s (another id, or none): not Paysafe's authorization object; check PAYSAFE_BASE_URL", op, id), nil)
}
