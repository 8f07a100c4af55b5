package miva_test

import (
	"context"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/miva"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// TestCaptureRefusedWithTheListUnreadIsNeverR: as in
// TestCaptureRefusedByItsOwnLateCommitIsNeverR, the retry's capture meets
// an authorization the request's own late-committed first call emptied,
// and Miva refuses it (amount_exceeds_available). The payment list read
// that tells such a late commit from someone else's capture failed (a
// 503), and the refusal stood: R with 50.00 captured. A refusal that could
// not be checked is transient (the retry reconciles first), never R.
func TestCaptureRefusedWithTheListUnreadIsNeverR(t *testing.T) {
	for _, header := range []string{"", "70"} {
		t.Run("header "+header, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{}, sandbox.OrderSeed{OrderID: 781, Records: []sandbox.RecordSeed{
				{ID: 70, Type: sandbox.TypeAuth, Amount: "50.00", Available: "50.00"},
			}})
			proxy := notSentProxy(t, e.srv.URL, miva.FunctionCapture, 0, 0)
			c := newClient(t, e.sb.URL(proxy.URL), token, "")
			if err := e.sb.SetFaults(sandbox.EndpointCapture, sandbox.Faults{LateNext: 1, LateMS: 300}); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			req := debit("781", "50.00")
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
			if err := e.sb.SetFaults(sandbox.EndpointList, sandbox.Faults{FailNext: 1}); err != nil {
				t.Fatal(err)
			}
			out, err := c.Settle(ctx, req)
			if err == nil && out.Kind == providers.Refused {
				t.Fatalf("R (%q) with the request's capture in the ledger: %+v", out.Reason, captures(e))
			}
			checkErr(t, err, providers.Transient, "", "could not be read")
			if providers.WasNotSent(err) {
				t.Errorf("NotSent (%v): the retry must reconcile first", err)
			}
			if n := len(captures(e)); n != 1 {
				t.Fatalf("captures %d, want 1", n)
			}
		})
	}
}

// TestRefundRefusedWithTheListUnreadIsNeverR: the refund counterpart. The
// retry's refund meets a capture the request's own late-committed first
// call refunded (amount_exceeds_refundable); the payment list read that
// tells that from someone else's refund timed out, and the refusal stood.
func TestRefundRefusedWithTheListUnreadIsNeverR(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, sandbox.OrderSeed{OrderID: 791, Records: []sandbox.RecordSeed{
		{ID: 60, Type: sandbox.TypeAuth, Amount: "200.00", Available: "0"},
		{ID: 61, Type: sandbox.TypeCapture, Amount: "50.00", ParentID: 60},
		{ID: 62, Type: sandbox.TypeCapture, Amount: "80.00", ParentID: 60},
	}})
	// List reads: Prepare, Settle, Reconcile, the retry's Settle, then the
	// one after Miva's refusal, which outlasts the client's timeout.
	proxy := notSentProxy(t, e.srv.URL, miva.FunctionRefund, 5, timeout+500*time.Millisecond)
	c := newClient(t, e.sb.URL(proxy.URL), token, "")
	if err := e.sb.SetFaults(sandbox.EndpointRefund, sandbox.Faults{LateNext: 1, LateMS: 300}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	req := credit("791", "50.00")
	req.Headers[miva.HeaderPaymentID] = "61"
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
	checkErr(t, err, providers.Transient, "", "could not be read")
	if providers.WasNotSent(err) {
		t.Errorf("NotSent (%v): the retry must reconcile first", err)
	}
	if n := len(refunds(e)); n != 1 {
		t.Fatalf("refunds %d, want 1", n)
	}
}
