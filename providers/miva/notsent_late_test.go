package miva_test

import (
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// TestPipelineNotSentAnswerBeforeALateRefundIsNotRefundedTwice: a proxy
// answers 503 while the refund it forwarded is still on its way to Miva,
// which commits it late (after the client's answer: a provider may commit
// after the client gave up, the reason for the settle window). The client
// reads 503 as "refused before acting" (not sent); the retry read the
// payment list at once, before the late commit, found nothing and
// refunded again: two refunds for one credit, and one S. Without an
// idempotency key, a call answered "not sent" is reconciled only once its
// settle window has passed since it was sent.
func TestPipelineNotSentAnswerBeforeALateRefundIsNotRefundedTwice(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, sandbox.OrderSeed{OrderID: 900, Records: []sandbox.RecordSeed{
		{ID: 90, Type: sandbox.TypeAuth, Amount: "50.00", Available: "0"},
		{ID: 91, Type: sandbox.TypeCapture, Amount: "50.00", ParentID: 90},
	}})
	const late = 600 * time.Millisecond
	if err := e.sb.SetFaults(sandbox.EndpointRefund, sandbox.Faults{LateNext: 1, LateMS: int(late / time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	// No slow payment list read: only the refund's 503.
	proxy := notSentProxy(t, e.srv.URL, "OrderPayment_Refund", 0, 0)
	useProxy(t, e, proxy, 2*time.Second)
	p := newPipeline(t, e, "")
	refundOnceAfter503(t, e, p, settlementMessage(t, "credit-503-late", "900", messages.SettlementCredit, "10.00"), 10, time.Second, late)
}
