package paysafe_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/paysafe"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/paysafe"
)

// TestLateCommitFoundAfterWindow (hole 2): Paysafe creates the settlement
// after the client gave up. A lookup right after the timeout finds nothing
// (why the pipeline waits for the settle window); after the late commit the
// lookup by merchantRefNum finds it; a second Settle with the same
// merchantRefNum is refused (5031) and answers the first settlement.
func TestLateCommitFoundAfterWindow(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	authID := e.authorize(t, sandbox.Authorization{Amount: 5000})
	if err := e.sb.SetFaults(sandbox.EndpointSettle, sandbox.Faults{LateNext: 1, LateMS: int(timeout/time.Millisecond) + 700}); err != nil {
		t.Fatal(err)
	}
	req := debit("late-1", authID, "20.00", "USD")
	_, err := e.client.Settle(ctx(t), req)
	if err == nil || providers.ClassOf(err) != providers.Transient || providers.WasNotSent(err) {
		t.Fatalf("Settle = %v (want a transient timeout, not NotSent)", err)
	}
	if _, found, err := e.client.Reconcile(ctx(t), req); found || err != nil {
		t.Fatalf("Reconcile before the late commit: %v %v", found, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(e.sb.Ledger()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the late commit never happened")
		}
		time.Sleep(50 * time.Millisecond)
	}
	out, found, err := e.client.Reconcile(ctx(t), req)
	mustOutcome(t, out, err, providers.Pending)
	if !found || out.Ref != e.sb.Ledger()[0].ID {
		t.Fatalf("Reconcile after the late commit: found=%v %+v", found, out)
	}
	again := expect(t, providers.Pending)(e.client.Settle(ctx(t), req))
	if again.Ref != out.Ref || len(e.sb.Ledger()) != 1 {
		t.Fatalf("second Settle %+v, ledger %+v", again, e.sb.Ledger())
	}
	e.sb.RunBatch()
	out, found, err = e.client.Reconcile(ctx(t), req)
	mustOutcome(t, out, err, providers.Settled)
	if !found || out.Refs[paysafe.RefSettlementID] != out.Ref {
		t.Fatalf("after the batch: %v %+v", found, out)
	}
}

// TestReconcileAmbiguousIsUnresolved: the lookup by merchantRefNum is
// trusted only when it finds one transaction of the request's amount.
func TestReconcileAmbiguousIsUnresolved(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, e *env, authID string, req *providers.Request)
		amount string
		reason string
	}{
		{"two live settlements with the merchantRefNum", func(t *testing.T, e *env, authID string, req *providers.Request) {
			expect(t, providers.Pending)(e.client.Settle(ctx(t), req))
			e.settleWithoutDupCheck(t, authID, req.RequestID, 1)
		}, "10.00", "2 settlements carry merchantRefNum amb-1"},
		{"a cancelled and a live settlement with the merchantRefNum", func(t *testing.T, e *env, authID string, req *providers.Request) {
			out := expect(t, providers.Pending)(e.client.Settle(ctx(t), req))
			if _, err := e.sb.CancelSettlement(acct, out.Ref); err != nil {
				t.Fatal(err)
			}
			e.settleWithoutDupCheck(t, authID, req.RequestID, 1000)
		}, "10.00", "2 settlements carry merchantRefNum amb-1"},
		{"the settlement found is of another amount", func(t *testing.T, e *env, authID string, req *providers.Request) {
			e.settleWithoutDupCheck(t, authID, req.RequestID, 500)
		}, "10.00", "is for 5.00 USD but this request is for 10.00 USD"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{})
			authID := e.authorize(t, sandbox.Authorization{Amount: 5000})
			req := debit("amb-1", authID, tc.amount, "USD")
			tc.setup(t, e, authID, req)
			_, found, err := e.client.Reconcile(ctx(t), req)
			if found {
				t.Fatal("found")
			}
			checkErr(t, err, providers.Unresolved, "", tc.reason)
		})
	}
}

// TestNotSent: only failures that prove the call did not reach Paysafe, or
// was refused before it acted, are NotSent.
func TestNotSent(t *testing.T) {
	status := func(code int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	tests := []struct {
		name    string
		faults  *sandbox.Faults
		base    string
		pass    string
		notSent bool
	}{
		{"503 (a proxy's, while the call may go on)", &sandbox.Faults{FailNext: 1}, "", pass, false},
		{"429", &sandbox.Faults{FailNext: 1, FailStatus: 429}, "", pass, true},
		{"401 credentials refused", nil, "", "wrong-password", true},
		{"connection refused", nil, "http://127.0.0.1:1/paysafe", pass, true},
		{"500", &sandbox.Faults{FailNext: 1, FailStatus: 500}, "", pass, false},
		{"502", nil, status(http.StatusBadGateway), pass, false},
		{"504", nil, status(http.StatusGatewayTimeout), pass, false},
		{"lost reply (drop_next)", &sandbox.Faults{DropNext: 1}, "", pass, false},
		{"timeout (hang_next)", &sandbox.Faults{HangNext: 1}, "", pass, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{})
			authID := e.authorize(t, sandbox.Authorization{Amount: 5000})
			base := tc.base
			if base == "" {
				base = e.srv.URL + "/paysafe"
			}
			c := newClient(t, base, user, tc.pass)
			if tc.faults != nil {
				if err := e.sb.SetFaults(sandbox.EndpointSettle, *tc.faults); err != nil {
					t.Fatal(err)
				}
			}
			_, err := c.Settle(ctx(t), debit("ns-1", authID, "10.00", "USD"))
			if err == nil || providers.ClassOf(err) != providers.Transient {
				t.Fatalf("Settle: %v", err)
			}
			if got := providers.WasNotSent(err); got != tc.notSent {
				t.Fatalf("WasNotSent = %v, want %v: %v", got, tc.notSent, err)
			}
		})
	}
}

func itoa(n int) string {
	s := ""
	for {
		s = string(rune('0'+n%10)) + s
		n /= 10
		if n == 0 {
			return s
		}
	}
}
