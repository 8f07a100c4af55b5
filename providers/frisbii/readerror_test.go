package frisbii_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/frisbii"
)

// TestRefundReadErrorWhileProcessingIsNoVerdict: a refund left processing
// is polled with GET /v1/refund/{id}; Frisbii answering that read with an
// error (8 "Not found", 404, before its read model holds the refund, or 1
// "Invalid request") is no verdict on the refund, which goes on and
// refunds. Poll must not answer Permanent (an R published over a refund
// that moves): the sandbox's ledger shows the money refunded.
func TestRefundReadErrorWhileProcessingIsNoVerdict(t *testing.T) {
	ctx := context.Background()
	for _, code := range []int{sandbox.CodeNotFound, sandbox.CodeInvalidRequest, sandbox.CodeInvoiceNotFound} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			e, req, out := pendingRefund(t)
			e.faults(t, sandbox.EndpointRefundGet, sandbox.Faults{ErrorNext: 1, ErrorCode: code})
			p, err := e.client.Poll(ctx, req)
			if err == nil && p.Kind == providers.Refused || err != nil && providers.ClassOf(err) == providers.Permanent {
				e.refundedAfterAMinute(t)
				t.Fatalf("Poll = %+v, %v: an R over a refund Frisbii is processing (the sandbox refunds 100.00 USD)", p, err)
			}
			if p.Kind == providers.Settled || p.Kind == providers.Refused {
				t.Fatalf("Poll = %+v: a verdict from an error answer", p)
			}
			e.clock.Add(time.Minute)
			e.pollSettles(t, req, out.Ref)
		})
	}
}

// TestPipelineRefundReadNotFoundWhileProcessingPublishesNoR: the same
// through the settlement handler: a credit whose refund is processing is
// polled; the poll's read answered 8 "Not found" must not publish R, and
// the next poll, after the refund completed, publishes S; the sandbox's
// ledger holds one refund of 100.00 USD.
func TestPipelineRefundReadNotFoundWhileProcessingPublishesNoR(t *testing.T) {
	e, h, rec := pollThroughPipeline(t, sandbox.Faults{})
	if err := h.Handle(rec.last(t, handlers.HeaderPoll)); err != nil {
		t.Fatal(err)
	}
	if st := statusOf(t, rec.last(t, handlers.HeaderSettlementStatus)); st.SettlementStatus != messages.StatusSettled {
		t.Fatalf("status %s %q, want S", st.SettlementStatus, st.DeclineReason)
	}
	if got := refunded(t, e, "O1"); got != 10000 {
		t.Fatalf("refunded %d, want 10000 once", got)
	}
}
