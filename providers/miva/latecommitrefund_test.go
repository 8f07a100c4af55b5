package miva_test

import (
	"context"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/miva"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// TestRefundRefusedByItsOwnLateCommitIsNeverR: a refund answered 503 by a
// proxy went on to Miva, which committed it after the retry's
// reconciliation had read the payment list. The retry's Settle then found
// the order refunded by its own first call and ended the request R
// ("exceeds what Miva order 790 has captured and not refunded", or Miva's
// amount_exceeds_refundable) with the refund in the sandbox's ledger. A
// refund record of exactly the amount, new since Prepare's baseline and
// claimed by no other settlement, cannot be told from the request's own:
// parked (Unresolved), never R.
func TestRefundRefusedByItsOwnLateCommitIsNeverR(t *testing.T) {
	tests := []struct {
		name   string
		header string
		second string // a second capture record's amount ("" none)
	}{
		{"the order has nothing left (the worker's check)", "", ""},
		{"the capture has nothing left (Miva's refusal)", "61", "80.00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := []sandbox.RecordSeed{
				{ID: 60, Type: sandbox.TypeAuth, Amount: "200.00", Available: "0"},
				{ID: 61, Type: sandbox.TypeCapture, Amount: "50.00", ParentID: 60},
			}
			if tc.second != "" {
				rs = append(rs, sandbox.RecordSeed{ID: 62, Type: sandbox.TypeCapture, Amount: tc.second, ParentID: 60})
			}
			e := newEnv(t, sandbox.Config{}, sandbox.OrderSeed{OrderID: 790, Records: rs})
			proxy := notSentProxy(t, e.srv.URL, miva.FunctionRefund, 0, 0)
			c := newClient(t, e.sb.URL(proxy.URL), token, "")
			if err := e.sb.SetFaults(sandbox.EndpointRefund, sandbox.Faults{LateNext: 1, LateMS: 300}); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			req := credit("790", "50.00")
			if tc.header != "" {
				req.Headers[miva.HeaderPaymentID] = tc.header
			}
			refs, err := c.Prepare(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			req.Refs = refs
			if _, err := c.Settle(ctx, req); !providers.WasNotSent(err) {
				t.Fatalf("Settle = %v, want the proxy's 503 (not sent)", err)
			}
			if _, found, err := c.Reconcile(ctx, req); found || err != nil {
				t.Fatalf("Reconcile before the late commit = %v, %v", found, err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for len(refunds(e)) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("the late commit never happened")
				}
				time.Sleep(20 * time.Millisecond)
			}
			out, err := c.Settle(ctx, req)
			if err == nil && out.Kind == providers.Refused {
				t.Fatalf("R (%q) with the request's refund in the ledger: %+v", out.Reason, refunds(e))
			}
			checkErr(t, err, providers.Unresolved, "", "appeared on order 790")
			if n := len(refunds(e)); n != 1 {
				t.Fatalf("refunds %d, want 1", n)
			}
		})
	}
}
