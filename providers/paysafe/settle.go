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
	return providers.Outcome{}, classify(op, r, c.secrets(req)...)
}
