package paysafe

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/settlement-worker/settlement-worker/providers"
)

// Reconcile looks the request's settlement (debit) or refund (credit) up by
// merchantRefNum (GET .../settlements?merchantRefNum= or .../refunds?...)
// before any new attempt after a timeout or crash. found=true returns the
// outcome of the transaction found; found=false means no earlier attempt
// reached Paysafe and Settle may run. Lookup failures are transient: they
// never refuse a request.
func (c *Client) Reconcile(ctx context.Context, req *providers.Request) (providers.Outcome, bool, error) {
	t, err := c.baseTarget(req, c.recordedAccount)
	if err != nil {
		return providers.Outcome{}, false, err
	}
	t.parent = parentOf(req, t.kind)
	return c.lookup(ctx, t)
}

// parentOf is the authorization or settlement id the request names or an
// earlier step recorded, "" when unknown (it only decorates Refs).
func parentOf(req *providers.Request, kind string) string {
	if kind == KindRefund {
		if v := req.Refs[RefRefundedSettlementID]; v != "" {
			return v
		}
		v, _ := settlementID(req)
		return v
	}
	if v := req.Refs[RefAuthorizationID]; v != "" {
		return v
	}
	v, _ := authorizationID(req)
	return v
}

// lookup finds the transaction of kind with t's merchantRefNum. With
// several, the one still holding money wins; two such are a duplicate an
// operator must resolve (transient, so the request is parked, not refused).
func (c *Client) lookup(ctx context.Context, t target) (providers.Outcome, bool, error) {
	op := "lookup " + t.kind
	r, err := c.do(ctx, op, http.MethodGet, path(t.account, t.kind+"s"), url.Values{"merchantRefNum": {t.merchantRefNum}}, nil)
	if err != nil {
		return providers.Outcome{}, false, err
	}
	if !r.ok() {
		return providers.Outcome{}, false, transient(classify(op, r, t.secrets...))
	}
	var list transactionList
	if err := decode(op, r, &list); err != nil {
		return providers.Outcome{}, false, err
	}
	txs := list.Settlements
	if t.kind == KindRefund {
		txs = list.Refunds
	}
	var match, alive []transaction
	for _, tx := range txs {
		if tx.MerchantRefNum == t.merchantRefNum {
			match = append(match, tx)
			if tx.Status != StatusFailed && tx.Status != StatusCancelled {
				alive = append(alive, tx)
			}
		}
	}
	switch {
	case len(match) == 0:
		return providers.Outcome{}, false, nil
	case len(alive) > 1:
		ids := make([]string, len(alive))
		for i, tx := range alive {
			ids[i] = tx.ID
		}
		return providers.Outcome{}, false, providers.TransientError("", fmt.Sprintf(
			"paysafe: %d live %ss carry merchantRefNum %s (%s); cancel or refund the duplicates at Paysafe, then replay",
			len(alive), t.kind, t.merchantRefNum, strings.Join(ids, ", ")), nil)
	case len(alive) == 1:
		out, err := c.outcome(t, alive[0])
		return out, err == nil, err
	default:
		// Every attempt failed or was cancelled: the latest one speaks.
		out, err := c.outcome(t, match[len(match)-1])
		return out, err == nil, err
	}
}
