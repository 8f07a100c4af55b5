package miva_test

import (
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// TestPipelineSettleWindowCountsFromTheCallNotItsRecord: the settle window
// is how long after a call was sent Miva may still commit it, but the
// pipeline counted it from call_sent_at, recorded before Settle runs, and
// Settle may send the call up to the call timeout later: a refund first
// reads the order's payment list. Here that read takes 1.2s, the refund
// is answered 503 by a proxy while it goes on to Miva, which commits it
// 1.5s later (within the 2s window), and the retry read the payment list
// 2s after call_sent_at, only 0.8s after the refund was sent: it found
// nothing and refunded again. Two refunds in Miva's ledger for one credit.
// The call was sent before its answer: the answer's time (recorded with
// the mark "not sent") starts the window.
func TestPipelineSettleWindowCountsFromTheCallNotItsRecord(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, sandbox.OrderSeed{OrderID: 900, Records: []sandbox.RecordSeed{
		{ID: 90, Type: sandbox.TypeAuth, Amount: "50.00", Available: "0"},
		{ID: 91, Type: sandbox.TypeCapture, Amount: "50.00", ParentID: 90},
	}})
	const late = 1500 * time.Millisecond
	if err := e.sb.SetFaults(sandbox.EndpointRefund, sandbox.Faults{LateNext: 1, LateMS: int(late / time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	// List reads: 1 Prepare's baseline (before call_sent_at), 2 the
	// refund's own read (after it): the slow one.
	proxy := notSentProxy(t, e.srv.URL, "OrderPayment_Refund", 2, 1200*time.Millisecond)
	// The window (2s) > late: it covers Miva's commit after the call was sent.
	useProxy(t, e, proxy, 2*time.Second)
	p := newPipeline(t, e, "")
	refundOnceAfter503(t, e, p, settlementMessage(t, "credit-slowread", "900", messages.SettlementCredit, "10.00"), 12, 500*time.Millisecond, late)
}
