package miva_test

import (
	"context"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/miva"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// TestCaptureRefusedByItsOwnLateCommitIsNeverR: a capture answered 503 by
// a proxy went on to Miva, which committed it after the retry's
// reconciliation had read the payment list (a commit later than the settle
// window). The retry's capture then met an authorization its own first
// call had emptied: Miva refused it (amount_exceeds_available) and the
// request ended R with 50.00 captured in the sandbox's ledger. A refusal
// beside a capture record of exactly the amount, new since the baseline
// and claimed by no other settlement, cannot be told from the request's
// own late commit: parked (Unresolved), never R.
func TestCaptureRefusedByItsOwnLateCommitIsNeverR(t *testing.T) {
	for _, header := range []string{"", "70"} {
		t.Run("header "+header, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{}, sandbox.OrderSeed{OrderID: 780, Records: []sandbox.RecordSeed{
				{ID: 70, Type: sandbox.TypeAuth, Amount: "50.00", Available: "50.00"},
			}})
			proxy := notSentProxy(t, e.srv.URL, miva.FunctionCapture, 0, 0)
			c := newClient(t, e.sb.URL(proxy.URL), token, "")
			if err := e.sb.SetFaults(sandbox.EndpointCapture, sandbox.Faults{LateNext: 1, LateMS: 300}); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			req := debit("780", "50.00")
			if header != "" {
				req.Headers[miva.HeaderPaymentID] = header
			}
			req = confirmed(t, e, req)
			if _, err := c.Settle(ctx, req); !providers.WasNotSent(err) {
				t.Fatalf("Settle = %v, want the proxy's 503 (not sent)", err)
			}
			if _, found, err := c.Reconcile(ctx, req); found || err != nil {
				t.Fatalf("Reconcile before the late commit = %v, %v", found, err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for len(captures(e)) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("the late commit never happened")
				}
				time.Sleep(20 * time.Millisecond)
			}
			out, err := c.Settle(ctx, req)
			if err == nil && out.Kind == providers.Refused {
				t.Fatalf("R (%q) with the request's capture in the ledger: %+v", out.Reason, captures(e))
			}
			checkErr(t, err, providers.Unresolved, "", "appeared on order 780")
			if n := len(captures(e)); n != 1 {
				t.Fatalf("captures %d, want 1", n)
			}
		})
	}
}
