package miva_test

import (
	"context"
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/miva"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// TestCaptureAfterAnOperatorTookTheChosenAuthorization: a debit of 50.00
// was confirmed against authorization 70 (60.00 available, the smallest
// that covered it), then an operator captured 30.00 of it in the Miva
// admin before the capture was sent (a retry after a "not sent" answer).
// Miva refused the capture on 70 (amount_exceeds_available, nothing moved)
// and the request ended R although authorization 75 on the same order
// still held 100.00: a wrong verdict. Judged from the sandbox's ledger: the
// capture lands on 75 and S names it. An authorization named by a person
// (header miva_payment_id) is tried alone.
func TestCaptureAfterAnOperatorTookTheChosenAuthorization(t *testing.T) {
	before := sandbox.OrderSeed{OrderID: 770, Records: []sandbox.RecordSeed{
		{ID: 70, Type: sandbox.TypeAuth, Amount: "60.00", Available: "60.00"},
		{ID: 75, Type: sandbox.TypeAuth, Amount: "100.00", Available: "100.00"},
	}}
	operator := func(amount, left string) sandbox.OrderSeed {
		return sandbox.OrderSeed{OrderID: 770, Records: []sandbox.RecordSeed{
			{ID: 70, Type: sandbox.TypeAuth, Amount: "60.00", Available: left},
			{ID: 75, Type: sandbox.TypeAuth, Amount: "100.00", Available: "100.00"},
			{ID: 76, Type: sandbox.TypeCapture, Amount: amount, ParentID: 70},
		}}
	}
	tests := []struct {
		name   string
		after  sandbox.OrderSeed
		header string
		kind   providers.Kind
		reason string
		target int64
	}{
		{"chosen by the worker: the other authorization is captured", operator("30.00", "30.00"), "", providers.Settled, "", 75},
		{"named by a person: tried alone", operator("30.00", "30.00"), "70", providers.Refused, "exceeds the amount available for capture", 0},
		// A new capture of exactly the amount could be this request's own
		// earlier call, committed late: capturing elsewhere could take the
		// money twice.
		{"a new capture of the amount: parked, nothing captured", operator("50.00", "10.00"), "", "", "capture record 76 of that amount appeared", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{}, before)
			req := debit("770", "50.00")
			if tc.header != "" {
				req.Headers[miva.HeaderPaymentID] = tc.header
			}
			req = confirmed(t, e, req)
			if req.Refs[miva.RefPaymentID] != "70" {
				t.Fatalf("confirmed against %s, want 70", req.Refs[miva.RefPaymentID])
			}
			if _, err := e.sb.SeedOrder(tc.after); err != nil { // the operator's capture
				t.Fatal(err)
			}
			out, err := e.client.Settle(context.Background(), req)
			checkCaptureAnswer(t, e, out, err, tc.kind, providers.Unresolved, tc.reason, tc.target)
		})
	}
}
