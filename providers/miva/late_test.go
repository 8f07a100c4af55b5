package miva_test

import (
	"context"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/miva"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// TestLateCommitFoundAfterWindow (hole 2): Miva commits a capture after
// the client gave up. A Reconcile right after the timeout finds nothing
// (why the pipeline waits for the settle window); once the late commit has
// happened, Reconcile finds it and names its record.
func TestLateCommitFoundAfterWindow(t *testing.T) {
	for _, typ := range []string{"Debit", "Credit"} {
		t.Run(typ, func(t *testing.T) {
			order := sandbox.OrderSeed{OrderID: 800, Records: []sandbox.RecordSeed{
				{ID: 80, Type: sandbox.TypeAuth, Amount: "50.00", Available: "40.00"},
				{ID: 81, Type: sandbox.TypeCapture, Amount: "10.00", ParentID: 80},
			}}
			e := newEnv(t, sandbox.Config{}, order)
			ctx := context.Background()
			req := request("late-"+typ, "800", typ, "10.00", "USD")
			ep := sandbox.EndpointCapture
			if typ == "Debit" {
				req = confirmed(t, e, req)
			} else {
				refs, err := e.client.Prepare(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				req.Refs = refs
				ep = sandbox.EndpointRefund
			}
			if err := e.sb.SetFaults(ep, sandbox.Faults{LateNext: 1, LateMS: int(timeout/time.Millisecond) + 700}); err != nil {
				t.Fatal(err)
			}
			sent := time.Now()
			_, err := e.client.Settle(ctx, req)
			if err == nil || providers.ClassOf(err) != providers.Transient || providers.WasNotSent(err) {
				t.Fatalf("Settle = %v (want a transient timeout, not NotSent)", err)
			}
			if _, found, err := e.client.Reconcile(ctx, req); found || err != nil {
				t.Fatalf("Reconcile before the late commit: %v %v", found, err)
			}
			deadline := time.Now().Add(10 * time.Second)
			ledger := func() []sandbox.Entry {
				if typ == "Debit" {
					return captures(e)
				}
				return refunds(e)
			}
			for len(ledger()) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("the late commit never happened")
				}
				time.Sleep(50 * time.Millisecond)
			}
			if time.Since(sent) < timeout {
				t.Fatal("committed before the client gave up")
			}
			out, found, err := e.client.Reconcile(ctx, req)
			key := miva.RefCaptureID
			if typ == "Credit" {
				key = miva.RefRefundID
			}
			got := ledger()
			if err != nil || !found || out.Kind != providers.Settled || len(got) != 1 || mustID(out.Ref) != got[0].RecordID || out.Refs[key] != out.Ref {
				t.Fatalf("Reconcile after the late commit = %+v, %v, %v; ledger %+v", out, found, err, got)
			}
			if c := e.sb.Calls(); c.Capture.Late+c.Refund.Late != 1 {
				t.Fatalf("late counter %+v", c)
			}
		})
	}
}
