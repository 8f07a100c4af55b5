package miva_test

import (
	"testing"

	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// TestPipelineOneMivaOrderUnderTwoStoreIDs: a Miva worker sends every
// settlement to its one store (MIVA_STORE_CODE) whatever its store_id
// header, but the order lock and the siblings a reconciliation compares
// go by (store_id, OrderId).
func TestPipelineOneMivaOrderUnderTwoStoreIDs(t *testing.T) {
	order := sandbox.OrderSeed{OrderID: 900, Records: []sandbox.RecordSeed{
		{ID: 90, Type: sandbox.TypeAuth, Amount: "50.00", Available: "0"},
		{ID: 91, Type: sandbox.TypeCapture, Amount: "50.00", ParentID: 90},
	}}
	e := newEnv(t, sandbox.Config{}, order)
	p := newPipeline(t, e, "")
	if err := e.sb.SetFaults(sandbox.EndpointRefund, sandbox.Faults{HangNext: 1}); err != nil {
		t.Fatal(err)
	}
	var sts []*messages.PaymentSettlementStatus
	p.deliver(t, settlementMessage(t, "st-a", "900", messages.SettlementCredit, "10.00"))
	aps := p.pub.take()
	ast := statusOf(t, aps)
	b := settlementMessage(t, "st-b", "900", messages.SettlementCredit, "10.00")
	b.Metadata.Set(handlers.HeaderStoreID, "STORE2")
	p.deliver(t, b)
	sts = append(sts, statusOf(t, p.pub.take()))
	if ast == nil {
		p.deliver(t, retryOf(t, aps))
		ast = statusOf(t, p.pub.take())
	}
	sts = append(sts, ast)
	s := 0
	for _, st := range sts {
		if st != nil && st.SettlementStatus == messages.StatusSettled {
			s++
		}
	}
	if n := len(refunds(e)); s != n {
		t.Fatalf("%d S for %d refund(s) at Miva (B: %+v; A: %+v)", s, n, sts[0], sts[1])
	}
}
