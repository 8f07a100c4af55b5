package miva_test

import (
	"testing"

	"github.com/settlement-worker/settlement-worker/messages"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// TestPipelineOneMivaOrderUnderTwoSpellings: Miva reads OrderId "0900" as
// Order_ID 900, but the worker's order lock and the sibling settlements a
// reconciliation compares (claimedRefs) go by the OrderId text. Credit A
// (10.00 on one spelling) hangs at Miva, which never acts; credit B (10.00
// on another spelling) refunds and settles. A's reconciliation did not see
// B as a sibling, took B's refund as the only new unclaimed one of its
// amount and published S for A: two S for one refund (an S without the
// refund). Judged from the sandbox's ledger.
func TestPipelineOneMivaOrderUnderTwoSpellings(t *testing.T) {
	for _, tc := range []struct{ name, a, b string }{
		{"canonical, then a leading zero", "900", "0900"},
		{"two spellings with leading zeros", "00900", "0900"},
	} {
		t.Run(tc.name, func(t *testing.T) {
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
			p.deliver(t, settlementMessage(t, "sp-a", tc.a, messages.SettlementCredit, "10.00"))
			aps := p.pub.take()
			ast := statusOf(t, aps)
			p.deliver(t, settlementMessage(t, "sp-b", tc.b, messages.SettlementCredit, "10.00"))
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
		})
	}
}
