package miva_test

import (
	"testing"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers/miva"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// TestPipelineNotSentSiblingIsNotAnotherRequestsCapture: two debits of
// 50.00 on one Miva order, B naming authorization 75 (header
// miva_payment_id), A taking authorization 70. B's capture was answered 503
// before Miva acted; A's capture was answered 503 by a proxy after Miva
// captured (record 76 on authorization 70). Both are "not sent" to the
// worker, and a sibling whose last call was answered "not sent" was taken
// for one that moved nothing, although that answer is exactly what a
// retry reads the payment list for. B's retry read first, found A's record
// as the only new unclaimed capture of 50.00 and published S over it (B
// captured nothing on authorization 75); A's retry then found its record
// claimed and captured again: authorization 70 captured twice in Miva's
// ledger, 75 never. Neither record can be told apart from the list, so
// whichever retries first is parked for a person, and nothing is captured
// again.
func TestPipelineNotSentSiblingIsNotAnotherRequestsCapture(t *testing.T) {
	order := sandbox.OrderSeed{OrderID: 740, Records: []sandbox.RecordSeed{
		{ID: 70, Type: sandbox.TypeAuth, Amount: "100.00", Available: "100.00"},
		{ID: 75, Type: sandbox.TypeAuth, Amount: "100.00", Available: "100.00"},
	}}
	e := newEnv(t, sandbox.Config{}, order)
	p := newPipeline(t, e, "")

	if err := e.sb.SetFaults(sandbox.EndpointCapture, sandbox.Faults{FailNext: 1}); err != nil {
		t.Fatal(err)
	}
	bMsg := settlementMessage(t, "ns-b", "740", messages.SettlementDebit, "50.00")
	bMsg.Metadata.Set(miva.HeaderPaymentID, "75")
	p.deliver(t, bMsg)
	bNext := retryOf(t, p.pub.take())
	if n := len(captures(e)); n != 0 {
		t.Fatalf("captures after B's 503: %d, want 0", n)
	}
	if err := e.sb.SetFaults(sandbox.EndpointCapture, sandbox.Faults{DropNext: 1, DropStatus: 503}); err != nil {
		t.Fatal(err)
	}
	p.deliver(t, settlementMessage(t, "ns-a", "740", messages.SettlementDebit, "50.00"))
	aNext := retryOf(t, p.pub.take())
	if cs := captures(e); len(cs) != 1 || cs[0].PaymentID != 70 {
		t.Fatalf("captures after A's 503: %+v, want A's on 70", cs)
	}

	p.deliver(t, bNext)
	ps := p.pub.take()
	if st := statusOf(t, ps); st != nil {
		t.Errorf("B: status %s while the only capture is A's (on 70; B names 75): ledger %+v", st.SettlementStatus, captures(e))
	}
	p.deliver(t, aNext)
	ps = p.pub.take()
	if st := statusOf(t, ps); st != nil && st.SettlementStatus != messages.StatusSettled {
		t.Errorf("A: status %s", st.SettlementStatus)
	}
	cs := captures(e)
	on := map[int64]int{}
	for _, c := range cs {
		on[c.PaymentID]++
	}
	if len(cs) != 1 || on[70] != 1 {
		t.Fatalf("captures %+v: authorization 70 captured %d times, 75 %d times; want A's one capture only", cs, on[70], on[75])
	}
}
