package paysafe

import (
	"context"
	"fmt"
	"net/http"

	"github.com/settlement-worker/settlement-worker/providers"
)

// Poll re-reads a pending settlement or refund by the id Settle recorded in
// Refs (GET .../settlements/{id} or .../refunds/{id}) and maps its status
// like Settle. Without a recorded id it falls back to the lookup by
// merchantRefNum. Poll errors are transient: a pending transaction is
// never refused because it could not be read. A refund awaiting its
// settlement's batch (3404) is asked for again when the lookup finds none
// (askAgain: an uncertain answer to that call is Unresolved).
func (c *Client) Poll(ctx context.Context, req *providers.Request) (providers.Outcome, error) {
	t, err := c.baseTarget(req, c.recordedAccount)
	if err != nil {
		return providers.Outcome{}, transient(err)
	}
	if k := req.Refs[RefKind]; k == KindSettlement || k == KindRefund {
		t.kind = k
	}
	t.parent = parentOf(req, t.kind)
	id := req.Refs[RefSettlementID]
	if t.kind == KindRefund {
		id = req.Refs[RefRefundID]
	}
	if id == "" {
		out, found, err := c.lookup(ctx, t)
		if err != nil || found {
			return out, err
		}
		if t.kind == KindRefund && req.Refs[refAwaitingBatch] == "true" {
			// The refund waited for the settlement's batch: ask again.
			return c.askAgain(ctx, req, t)
		}
		return providers.Outcome{}, providers.TransientError("", fmt.Sprintf(
			"paysafe poll: no %s id was recorded and none carries merchantRefNum %s", t.kind, t.merchantRefNum), nil)
	}
	op := "poll " + t.kind
	r, err := c.do(ctx, op, http.MethodGet, path(t.account, t.kind+"s", id), nil, nil)
	if err != nil {
		return providers.Outcome{}, err
	}
	if r.notFound() {
		return providers.Outcome{}, providers.TransientError(CodeUnknownID, fmt.Sprintf(
			"paysafe poll: Paysafe account %s does not know %s %s recorded for this request; check PAYSAFE_ACCOUNTS", t.account, t.kind, id), nil)
	}
	if !r.ok() {
		return providers.Outcome{}, transient(classify(op, r, t.secrets...))
	}
	var tx transaction
	if err := decode(op, r, &tx); err != nil {
		return providers.Outcome{}, err
	}
	return c.outcome(t, tx)
}

// askAgain asks again for a refund refused 3404 (its settlement not
// batched yet), after the poll's lookup found none. Nothing of this call
// is recorded before it is made (a poll's refs are not), so after an
// answer that leaves it uncertain (a timeout, a 5xx, 3417) the next poll
// would look the merchantRefNum up at once, before Paysafe's late commit
// of this call lands, and ask a second time; with Paysafe checking the
// merchantRefNum when a call arrives, both commit: two refunds. Such an
// answer is Unresolved (parked for a person, who looks the merchantRefNum
// up; a replay looks it up first). A call proven not sent (a refused
// connection, 401/403/5279, 429) is retried.
func (c *Client) askAgain(ctx context.Context, req *providers.Request, t target) (providers.Outcome, error) {
	out, err := c.Settle(ctx, req)
	if err == nil || providers.ClassOf(err) != providers.Transient || providers.WasNotSent(err) {
		return out, err
	}
	return providers.Outcome{}, providers.UnresolvedError(providers.CodeOf(err), fmt.Sprintf(
		"paysafe refund: asked for again once its settlement was batched (it was refused 3404 before), the refund got no sure answer (%s): "+
			"Paysafe may still commit it, and asking again before the settle window has passed could refund twice; "+
			"check at Paysafe whether account %s holds a refund with merchantRefNum %s, then replay the request (it looks the refund up first) or settle it by hand",
		providers.ReasonOf(err), t.account, t.merchantRefNum), err)
}
