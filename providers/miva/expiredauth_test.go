package miva_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/miva"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// TestCaptureOnAnAuthorizationThatExpired: a debit of 50.00 was confirmed
// against authorization 70 (60.00 available, the smallest that covered
// it; it expires in an hour), and the capture was sent after 70 had
// expired (a retry, a queue backlog). Miva refused it
// (authorization_expired, nothing moved) and the request ended R although
// authorization 75 on the same order still held 100.00: a wrong verdict.
// Judged from the sandbox's ledger: the capture lands on 75 and S names it.
// As for amount_exceeds_available, an authorization named by a person
// (header miva_payment_id) is tried alone; a capture record of exactly the
// amount new since the baseline (the request's own earlier call, committed
// late before the expiry?) is parked, never R nor a second capture; and a
// payment list that cannot be read is transient.
func TestCaptureOnAnAuthorizationThatExpired(t *testing.T) {
	const order = 771
	expires := time.Now().Add(time.Hour).Unix()
	seed := func(left75 string, extra ...sandbox.RecordSeed) sandbox.OrderSeed {
		left70 := "60.00"
		if len(extra) > 0 {
			left70 = "10.00"
		}
		return sandbox.OrderSeed{OrderID: order, Records: append([]sandbox.RecordSeed{
			{ID: 70, Type: sandbox.TypeAuth, Amount: "60.00", Available: left70, Expires: expires},
			{ID: 75, Type: sandbox.TypeAuth, Amount: "100.00", Available: left75},
		}, extra...)}
	}
	// ownLate is the capture of 50.00 on 70 that the request's own first
	// call could have committed late, before 70 expired.
	ownLate := sandbox.RecordSeed{ID: 76, Type: sandbox.TypeCapture, Amount: "50.00", ParentID: 70}
	tests := []struct {
		name      string
		after     sandbox.OrderSeed // reseeded after the confirmation (zero: unchanged)
		header    string
		listFails bool
		kind      providers.Kind // "": an error of class
		class     providers.Class
		reason    string
		target    int64 // the authorization captured (0: nothing captured)
	}{
		{name: "chosen by the worker: the other authorization is captured", kind: providers.Settled, target: 75},
		{name: "named by a person: tried alone", header: "70", kind: providers.Refused, reason: "Authorization 70 expired"},
		{name: "no other authorization covers: the refusal stands", after: seed("40.00"), kind: providers.Refused, reason: "Authorization 70 expired"},
		// A new capture of exactly the amount could be this request's own
		// earlier call, committed late: capturing elsewhere could take the
		// money twice, and R would be wrong.
		{name: "a new capture of the amount: parked, nothing captured", after: seed("100.00", ownLate),
			class: providers.Unresolved, reason: "capture record 76 of that amount appeared"},
		{name: "named, a new capture of the amount: parked, nothing captured", after: seed("100.00", ownLate), header: "70",
			class: providers.Unresolved, reason: "capture record 76 of that amount appeared"},
		{name: "the payment list cannot be read: transient, nothing captured", listFails: true,
			class: providers.Transient, reason: "could not be read"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var skew atomic.Int64 // the sandbox clock's lead on the real one
			e := newEnv(t, sandbox.Config{Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }}, seed("100.00"))
			req := debit(strconv.Itoa(order), "50.00")
			if tc.header != "" {
				req.Headers[miva.HeaderPaymentID] = tc.header
			}
			req = confirmed(t, e, req)
			if req.Refs[miva.RefPaymentID] != "70" {
				t.Fatalf("confirmed against %s, want 70", req.Refs[miva.RefPaymentID])
			}
			if tc.after.OrderID != 0 {
				if _, err := e.sb.SeedOrder(tc.after); err != nil {
					t.Fatal(err)
				}
			}
			skew.Store(int64(2 * time.Hour)) // 70 has expired at Miva
			if tc.listFails {
				if err := e.sb.SetFaults(sandbox.EndpointList, sandbox.Faults{FailNext: 1}); err != nil {
					t.Fatal(err)
				}
			}
			out, err := e.client.Settle(context.Background(), req)
			checkCaptureAnswer(t, e, out, err, tc.kind, tc.class, tc.reason, tc.target)
		})
	}
}
