package miva_test

import (
	"context"
	"testing"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
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

// TestReconcileOfAnOrderSpellingRefusedNowIsUnresolved: a settlement
// recorded with OrderId "0900" before such spellings were refused, whose
// call may have moved money, is parked by Reconcile, never refused.
func TestReconcileOfAnOrderSpellingRefusedNowIsUnresolved(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, sandbox.OrderSeed{OrderID: 900, Records: []sandbox.RecordSeed{
		{ID: 90, Type: sandbox.TypeAuth, Amount: "50.00", Available: "0"},
		{ID: 91, Type: sandbox.TypeCapture, Amount: "50.00", ParentID: 90},
	}})
	for _, order := range []string{"0900", " 900"} {
		req := credit(order, "10.00")
		if _, err := e.client.Settle(context.Background(), req); providers.ClassOf(err) != providers.Permanent {
			t.Fatalf("Settle on %q: %v, want a refusal before any call", order, err)
		}
		_, found, err := e.client.Reconcile(context.Background(), req)
		if found || providers.ClassOf(err) != providers.Unresolved {
			t.Fatalf("Reconcile on %q: found %v, %v; want Unresolved", order, found, err)
		}
	}
	if n := len(refunds(e)); n != 0 {
		t.Fatalf("refunds %d", n)
	}
}
