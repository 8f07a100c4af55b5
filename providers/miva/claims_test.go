package miva_test

import (
	"context"
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/miva"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// TestReconcileClaims: two debits of the same amount on one Miva order
// (hole 3). A record attributed to one settlement is never reported for the
// other, and Reconcile never reports S without a record it can name.
func TestReconcileClaims(t *testing.T) {
	order := sandbox.OrderSeed{OrderID: 700, Records: []sandbox.RecordSeed{
		{ID: 70, Type: sandbox.TypeAuth, Amount: "200.00", Available: "200.00"},
	}}
	tests := []struct {
		name string
		// aFirst: A's capture (reply lost) happens before B's ConfirmFunds,
		// so B's baseline already holds A's record.
		aFirst bool
	}{
		{"B confirmed after A's capture", true},
		{"B confirmed before A's capture (baselines overlap)", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{}, order)
			ctx := context.Background()
			a := request("a", "700", "Debit", "51.21", "USD")
			b := request("b", "700", "Debit", "51.21", "USD")
			a = confirmed(t, e, a)
			if !tc.aFirst {
				b = confirmed(t, e, b)
			}
			if err := e.sb.SetFaults(sandbox.EndpointCapture, sandbox.Faults{DropNext: 1}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.client.Settle(ctx, a); err == nil {
				t.Fatal("A's reply should be lost")
			}
			if tc.aFirst {
				b = confirmed(t, e, b)
			}
			outB, err := e.client.Settle(ctx, b)
			if err != nil || outB.Kind != providers.Settled || outB.Ref == "" {
				t.Fatalf("Settle B = %+v, %v", outB, err)
			}
			cs := captures(e)
			if len(cs) != 2 {
				t.Fatalf("captures %+v", cs)
			}
			// A reconciles with B's record claimed: its own record.
			a.Claimed = []string{outB.Ref}
			outA, found, err := e.client.Reconcile(ctx, a)
			if err != nil || !found || outA.Kind != providers.Settled || outA.Ref == "" || outA.Ref == outB.Ref {
				t.Fatalf("Reconcile A = %+v, %v, %v (B %s)", outA, found, err, outB.Ref)
			}
			if outA.Refs[miva.RefCaptureID] != outA.Ref {
				t.Fatalf("refs %+v", outA.Refs)
			}
			// B reconciled later (say its recorded reply was lost) with A's
			// record claimed: never A's record.
			b.Claimed = []string{outA.Ref}
			out, found, err := e.client.Reconcile(ctx, b)
			if found && out.Ref == outA.Ref {
				t.Fatalf("B reconciled onto A's record %s", outA.Ref)
			}
			if err != nil {
				t.Fatalf("Reconcile B: %v", err)
			}
			// Without claims, overlapping baselines cannot be told apart.
			if !tc.aFirst {
				a.Claimed = nil
				_, found, err := e.client.Reconcile(ctx, a)
				if found {
					t.Fatal("found among two unclaimed records")
				}
				checkErr(t, err, providers.Unresolved, "", "order 700 is ambiguous")
			}
			if len(captures(e)) != 2 {
				t.Fatal("Reconcile moved money")
			}
		})
	}
}
