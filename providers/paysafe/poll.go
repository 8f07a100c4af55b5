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
// settlement's batch (3404) that the lookup does not find is answered
// providers.Resubmit once the settlement is batched (awaitingBatch): the
// pipeline records the call before it asks for the refund again (Settle),
// so that a crash or an uncertain answer is looked up after the settle
// window, never asked again at once.
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
			// The refund waited for the settlement's batch: to be asked
			// again, by the pipeline, once it has recorded the call.
			return c.awaitingBatch(ctx, t), nil
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

// awaitingBatch answers the poll of a refund refused 3404 that the lookup
// by merchantRefNum did not find. While the refunded settlement is before
// its batch (read with GET .../settlements/{id}: RECEIVED, PENDING or
// PROCESSING), Pending: asked again now, the refund would only be refused
// 3404 again, a refund call and two store writes (the call recorded, then
// pending again) every RecheckAfter until the daily batch. Otherwise
// (batched, or the read does not tell: failed, another answer, no
// settlement id known) Resubmit: the refund's own answer decides.
func (c *Client) awaitingBatch(ctx context.Context, t target) providers.Outcome {
	resubmit := providers.Outcome{Kind: providers.Resubmit}
	if t.parent == "" {
		return resubmit
	}
	const op = "refunded settlement read"
	r, err := c.do(ctx, op, http.MethodGet, path(t.account, "settlements", t.parent), nil, nil)
	if err != nil || !r.ok() {
		return resubmit
	}
	var tx transaction
	if err := decode(op, r, &tx); err != nil || tx.ID != t.parent {
		return resubmit
	}
	switch tx.Status {
	case StatusReceived, StatusPending, StatusProcessing:
		return providers.Outcome{Kind: providers.Pending, RecheckAfter: c.cfg.RecheckAfter}
	}
	return resubmit
}
