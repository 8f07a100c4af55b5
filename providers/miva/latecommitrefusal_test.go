package miva_test

import (
	"context"
	"strconv"
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
			ownLateCommit{
				function: miva.FunctionCapture,
				order:    authOf50(780),
				header:   header,
				class:    providers.Unresolved,
				reason:   "appeared on order 780",
			}.run(t)
		})
	}
}

// ownLateCommit is a request whose retry meets its own first call's late
// commit: a proxy answered the first call 503 at once (NotSent) while the
// call went on to Miva, which committed it 300ms later, after the retry's
// reconciliation had read the payment list.
type ownLateCommit struct {
	function  string            // miva.FunctionCapture (a debit of 50.00, confirmed) or miva.FunctionRefund (a credit of 50.00, prepared)
	order     sandbox.OrderSeed // seeded
	header    string            // the request's miva.HeaderPaymentID ("" none)
	slowList  int               // notSentProxy's slowList-th payment list read
	slow      time.Duration     // is held this long
	listFails bool              // the payment list read after the late commit fails (a 503)
	retryCode string            // when set, Miva answers the retry's call with this error_code (without acting)
	class     providers.Class   // the retry's error's class
	reason    string            // and a part of its reason
}

// run settles the request (the proxy's 503), reconciles it (nothing yet),
// waits for the late commit and settles it again. The retry must not end
// R; its error must be of lc's class and reason (a Transient one not
// NotSent: the retry must reconcile first); the ledger must hold the one
// record of the request's own first call.
func (lc ownLateCommit) run(t *testing.T) {
	t.Helper()
	e := newEnv(t, sandbox.Config{}, lc.order)
	proxy := notSentProxy(t, e.srv.URL, lc.function, lc.slowList, lc.slow)
	c := newClient(t, e.sb.URL(proxy.URL), token, "")
	order := strconv.FormatInt(lc.order.OrderID, 10)
	what, ledger, endpoint, req := "capture", captures, sandbox.EndpointCapture, debit(order, "50.00")
	if lc.function == miva.FunctionRefund {
		what, ledger, endpoint, req = "refund", refunds, sandbox.EndpointRefund, credit(order, "50.00")
	}
	if err := e.sb.SetFaults(endpoint, sandbox.Faults{LateNext: 1, LateMS: 300}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if lc.header != "" {
		req.Headers[miva.HeaderPaymentID] = lc.header
	}
	if lc.function == miva.FunctionRefund {
		refs, err := c.Prepare(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		req.Refs = refs
	} else {
		req = confirmed(t, e, req)
	}
	if _, err := c.Settle(ctx, req); !uncertain503(err) {
		t.Fatalf("Settle = %v, want the proxy's 503 (uncertain: it may have reached Miva)", err)
	}
	if _, found, err := c.Reconcile(ctx, req); found || err != nil {
		t.Fatalf("Reconcile before the late commit = %v, %v", found, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(ledger(e)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the late commit never happened")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if lc.listFails {
		if err := e.sb.SetFaults(sandbox.EndpointList, sandbox.Faults{FailNext: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if lc.retryCode != "" {
		if err := e.sb.SetFaults(endpoint, sandbox.Faults{ErrorNext: 1, ErrorCode: lc.retryCode}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := c.Settle(ctx, req)
	if err == nil && out.Kind == providers.Refused {
		t.Fatalf("R (%q) with the request's %s in the ledger: %+v", out.Reason, what, ledger(e))
	}
	checkErr(t, err, lc.class, "", lc.reason)
	if lc.class == providers.Transient && providers.WasNotSent(err) {
		t.Errorf("NotSent (%v): the retry must reconcile first", err)
	}
	if n := len(ledger(e)); n != 1 {
		t.Fatalf("%ss %d, want 1", what, n)
	}
}

// authOf50 is an order whose one authorization (record 70) has 50.00, all
// of it available.
func authOf50(id int64) sandbox.OrderSeed {
	return sandbox.OrderSeed{OrderID: id, Records: []sandbox.RecordSeed{
		{ID: 70, Type: sandbox.TypeAuth, Amount: "50.00", Available: "50.00"},
	}}
}

// capturedOf200 is an order whose authorization (record 60) of 200.00 has
// nothing left, captured by record 61 (50.00) and, unless second is "", by
// record 62 (second).
func capturedOf200(id int64, second string) sandbox.OrderSeed {
	rs := []sandbox.RecordSeed{
		{ID: 60, Type: sandbox.TypeAuth, Amount: "200.00", Available: "0"},
		{ID: 61, Type: sandbox.TypeCapture, Amount: "50.00", ParentID: 60},
	}
	if second != "" {
		rs = append(rs, sandbox.RecordSeed{ID: 62, Type: sandbox.TypeCapture, Amount: second, ParentID: 60})
	}
	return sandbox.OrderSeed{OrderID: id, Records: rs}
}
