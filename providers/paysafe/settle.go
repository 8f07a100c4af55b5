package paysafe

import (
	"context"
	"fmt"
	"net/http"

	"github.com/settlement-worker/settlement-worker/providers"
)

// Settle creates the settlement (debit) or refund (credit) with the
// requestId as merchantRefNum, dupCheck on and the amount in minor units.
// Paysafe's answer maps to an outcome (see outcome). When Paysafe says the
// merchantRefNum was already used (5031: an earlier attempt whose reply was
// lost did reach it), the earlier transaction is looked up and its outcome
// returned instead of failing; it is never submitted a second time.
func (c *Client) Settle(ctx context.Context, req *providers.Request) (providers.Outcome, error) {
	t, err := c.target(req)
	if err != nil {
		return providers.Outcome{}, err
	}
	op, p := "settlement", path(t.account, "auths", t.parent, "settlements")
	if t.kind == KindRefund {
		op, p = "refund", path(t.account, "settlements", t.parent, "refunds")
		if err := c.checkRefundCurrency(ctx, req, t); err != nil {
			return providers.Outcome{}, err
		}
	}
	body := createRequest{MerchantRefNum: t.merchantRefNum, Amount: t.amount, DupCheck: true}
	r, err := c.do(ctx, op, http.MethodPost, p, nil, body)
	if err != nil {
		return providers.Outcome{}, err
	}
	if r.ok() {
		var tx transaction
		if err := decode(op, r, &tx); err != nil {
			return providers.Outcome{}, err
		}
		return c.outcome(t, tx)
	}
	code, _ := r.errorCode()
	if code == CodeRefundNotBatched && t.kind == KindRefund {
		// The settlement is refunded only after Paysafe's daily batch:
		// the refund is pending, re-tried (through Poll) on the pending
		// schedule and bounded by PENDING_DEADLINE, not by the attempts.
		return providers.Outcome{Kind: providers.Pending, RecheckAfter: c.cfg.RecheckAfter,
			Refs: map[string]string{RefKind: KindRefund, RefAccountID: t.account, refAwaitingBatch: "true"}}, nil
	}
	if rule, ok := ErrorClasses[code]; ok && rule.Reconcile {
		out, found, err := c.lookup(ctx, t)
		if err != nil {
			return providers.Outcome{}, err
		}
		if found {
			return out, nil
		}
		return providers.Outcome{}, providers.TransientError(code, fmt.Sprintf(
			"paysafe %s: Paysafe reports merchantRefNum %s as already used (error %s) but no %s with it was found; retrying",
			op, t.merchantRefNum, code, t.kind), nil)
	}
	refusal := classify(op, r, c.secrets(req)...)
	if providers.ClassOf(refusal) != providers.Permanent || code == CodeUnknownID {
		return providers.Outcome{}, refusal
	}
	return c.beforeRefusing(ctx, t, refusal)
}

// beforeRefusing looks the transaction up by merchantRefNum before a
// permanent refusal of a settlement or refund call becomes an R. The call
// may repeat an earlier attempt of the request that Paysafe created with
// its answer lost (the pipeline's next attempt, a poll of a refund
// awaiting the batch), and Paysafe's order of checks is not documented: it
// may answer the state that attempt left (3203 the authorization is fully
// settled, 3204 or 3406 the rest no longer covers the amount, 3202 its
// last settlement, a code the client does not know) rather than 5031. A
// transaction found is the request's outcome; none found leaves the
// refusal, an ambiguous lookup is Unresolved, and a failed lookup is
// transient: the refusal may be over money that moved. 5269 (an account,
// authorization or settlement Paysafe does not know) needs no lookup:
// nothing of the request can have been created against it.
func (c *Client) beforeRefusing(ctx context.Context, t target, refusal error) (providers.Outcome, error) {
	out, found, err := c.lookup(ctx, t)
	switch {
	case err != nil && providers.ClassOf(err) == providers.Unresolved:
		return providers.Outcome{}, err
	case err != nil:
		return providers.Outcome{}, providers.TransientError(providers.CodeOf(refusal), fmt.Sprintf(
			"%s; it is not refused until a lookup of merchantRefNum %s shows no earlier attempt of this request (one may have moved the money), and the lookup failed: %s",
			providers.ReasonOf(refusal), t.merchantRefNum, providers.ReasonOf(err)), nil)
	case found:
		return out, nil
	}
	return providers.Outcome{}, refusal
}

// checkRefundCurrency refuses (Permanent), before the refund is sent, a
// credit in another currency than the account's: a refund has no currency
// field, its amount is taken in minor units of the account's currency, and
// credits skip ConfirmFunds. Paysafe's settlement object has no currency,
// so the refunded settlement cannot tell; the account's currency comes from
// PAYSAFE_CURRENCIES (compared by minorUnits, nothing to do here), else
// from the authorization the credit names (authorization_id header or
// AuthorizationResponseCode), read with GET .../auths/{id}: an account
// settles in one currency. A failed read is transient and NotSent (the
// refund was not sent); an authorization Paysafe does not know, or one
// without a currencyCode, leaves the refund unchecked, as is a credit that
// names none on an account PAYSAFE_CURRENCIES does not name.
func (c *Client) checkRefundCurrency(ctx context.Context, req *providers.Request, t target) error {
	if c.cfg.Currencies[t.account] != "" {
		return nil
	}
	authID, err := authorizationID(req)
	if err != nil {
		return nil
	}
	const op = "authorization read"
	notSent := func(err error) error {
		return providers.NotSentError(providers.CodeOf(err), "paysafe: the authorization could not be read to check the currency before the refund; "+
			"the refund was not sent: "+providers.ReasonOf(err), nil)
	}
	r, err := c.do(ctx, op, http.MethodGet, path(t.account, "auths", authID), nil, nil)
	if err != nil {
		return notSent(err)
	}
	if r.notFound() {
		return nil
	}
	if !r.ok() {
		return notSent(classify(op, r, t.secrets...))
	}
	var a authorization
	if err := decode(op, r, &a); err != nil {
		return notSent(err)
	}
	if err := isAuthorization(a, authID, op); err != nil {
		return notSent(err)
	}
	if a.CurrencyCode != "" && a.CurrencyCode != t.money.Currency {
		return providers.MismatchBeforeCall(req.Attempt, fmt.Sprintf("refund refused before calling Paysafe: authorization %s of account %s is in %s, the credit in %s "+
			"(Paysafe refunds minor units of the account's currency; set PAYSAFE_CURRENCIES); this call was not sent",
			authID, t.account, a.CurrencyCode, t.money.Currency))
	}
	return nil
}
