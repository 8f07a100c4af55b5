package frisbii_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/frisbii"
)

// waitFor polls cond until it holds or 5 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func refunded(t *testing.T, e *env, handle string) int64 {
	t.Helper()
	ci, ok := e.sb.ChargeInfo(handle)
	if !ok {
		t.Fatalf("no charge %s", handle)
	}
	return ci.RefundedAmount
}

// TestLateCommit is hole 2 (Frisbii part): the sandbox commits after the
// client gave up; a repeat with the same key never moves money twice,
// whether it arrives after the commit or while the first call is in flight.
func TestLateCommit(t *testing.T) {
	ctx := context.Background()
	lateMS := int(timeout/time.Millisecond) + 700 // commits after the client's timeout
	notSent := func(err error) bool {
		var pe *providers.Error
		return errors.As(err, &pe) && pe.NotSent
	}
	t.Run("settle commits late, repeat after the commit replays it", func(t *testing.T) {
		e := newEnv(t)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000})
		e.faults(t, sandbox.EndpointSettle, sandbox.Faults{LateNext: 1, LateMS: lateMS})
		_, err := e.client.Settle(ctx, debit("A", "O1", "40.00"))
		if providers.ClassOf(err) != providers.Transient || notSent(err) {
			t.Fatalf("first = %v; want transient, not NotSent", err)
		}
		waitFor(t, "the late commit", func() bool { return e.settled(t, "O1") == 4000 })
		a := debit("A", "O1", "40.00")
		a.Attempt = 2
		out, found, err := e.client.Reconcile(ctx, a)
		if err != nil || !found || out.Kind != providers.Settled {
			t.Fatalf("Reconcile = %+v, %v, %v", out, found, err)
		}
		if got := e.settled(t, "O1"); got != 4000 {
			t.Fatalf("settled %d, want 4000 (once)", got)
		}
	})
	t.Run("settle repeat while the first is in flight is transient, then replays", func(t *testing.T) {
		e := newEnv(t)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000})
		e.faults(t, sandbox.EndpointSettle, sandbox.Faults{LateNext: 1, LateMS: lateMS + 1500})
		if _, err := e.client.Settle(ctx, debit("A", "O1", "40.00")); providers.ClassOf(err) != providers.Transient {
			t.Fatalf("first = %v", err)
		}
		a := debit("A", "O1", "40.00")
		a.Attempt = 2
		out, _, err := e.client.Reconcile(ctx, a)
		if out.Kind == providers.Settled || providers.ClassOf(err) != providers.Transient || notSent(err) {
			t.Fatalf("in-flight repeat = %+v, %v; want transient, not NotSent", out, err)
		}
		if got := e.settled(t, "O1"); got != 0 {
			t.Fatalf("settled %d before the late commit", got)
		}
		waitFor(t, "the late commit", func() bool { return e.settled(t, "O1") == 4000 })
		a.Attempt = 3
		out, found, err := e.client.Reconcile(ctx, a)
		if err != nil || !found || out.Kind != providers.Settled || e.settled(t, "O1") != 4000 {
			t.Fatalf("Reconcile = %+v, %v, %v; settled %d", out, found, err, e.settled(t, "O1"))
		}
	})
	t.Run("refund commits late, repeat after the commit refunds once", func(t *testing.T) {
		e := newEnv(t)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled})
		e.faults(t, sandbox.EndpointRefund, sandbox.Faults{LateNext: 1, LateMS: lateMS})
		if _, err := e.client.Settle(ctx, credit("R", "O1", "30.00")); providers.ClassOf(err) != providers.Transient || notSent(err) {
			t.Fatalf("first = %v", err)
		}
		waitFor(t, "the late refund", func() bool { return refunded(t, e, "O1") == 3000 })
		r := credit("R", "O1", "30.00")
		r.Attempt = 2
		out, _, err := e.client.Reconcile(ctx, r)
		if err != nil || out.Kind != providers.Settled || refunded(t, e, "O1") != 3000 {
			t.Fatalf("Reconcile = %+v, %v; refunded %d", out, err, refunded(t, e, "O1"))
		}
	})
	t.Run("refund repeat while the first is in flight is transient", func(t *testing.T) {
		e := newEnv(t)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled})
		e.faults(t, sandbox.EndpointRefund, sandbox.Faults{LateNext: 1, LateMS: lateMS + 1500})
		if _, err := e.client.Settle(ctx, credit("R", "O1", "30.00")); providers.ClassOf(err) != providers.Transient {
			t.Fatalf("first = %v", err)
		}
		r := credit("R", "O1", "30.00")
		r.Attempt = 2
		out, _, err := e.client.Reconcile(ctx, r)
		if out.Kind == providers.Settled || providers.ClassOf(err) != providers.Transient || notSent(err) {
			t.Fatalf("in-flight repeat = %+v, %v", out, err)
		}
		waitFor(t, "the late refund", func() bool { return refunded(t, e, "O1") == 3000 })
		time.Sleep(50 * time.Millisecond)
		if got := refunded(t, e, "O1"); got != 3000 {
			t.Fatalf("refunded %d, want 3000 (once)", got)
		}
	})
}

// TestNotSent: only answers that prove Frisbii did not act are NotSent.
func TestNotSent(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		faults sandbox.Faults
		want   bool
	}{
		{"503 before acting", sandbox.Faults{FailNext: 1}, true},
		{"500 may have acted", sandbox.Faults{FailNext: 1, FailStatus: 500}, false},
		{"502 after acting (dropped reply)", sandbox.Faults{DropNext: 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000})
			e.faults(t, sandbox.EndpointSettle, tc.faults)
			_, err := e.client.Settle(ctx, debit("A", "O1", "40.00"))
			if providers.ClassOf(err) != providers.Transient || providers.WasNotSent(err) != tc.want {
				t.Fatalf("err = %v; NotSent %v, want %v", err, providers.WasNotSent(err), tc.want)
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		e := newEnv(t)
		e.srv.Close()
		_, err := e.client.Settle(ctx, debit("A", "O1", "40.00"))
		if providers.ClassOf(err) != providers.Transient || !providers.WasNotSent(err) {
			t.Fatalf("err = %v; want NotSent", err)
		}
	})
}
