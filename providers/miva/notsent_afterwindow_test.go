package miva_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers/miva"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// TestPipelineProxy503CommittedAfterTheWindowIsNotSettledTwice: a proxy
// (Envoy: "upstream connect error or disconnect/reset before headers")
// answers 503 after it forwarded the capture / refund, and Miva commits
// that call later than the settle window. A bare 503 was read as Miva
// refusing before acting ("not sent"): the retry waited the window, read
// the payment list (nothing yet), called again and published S; then the
// first call landed: two captures (two refunds) in the sandbox's ledger
// for one request. Nothing in a bare 503 tells a proxy's answer from
// Miva's, and Miva has no idempotency key: the call is uncertain, so a list
// that still shows nothing after the window parks the request for a
// person, with a reason that says what to check in the Miva admin; the
// ledger then holds the one late call.
func TestPipelineProxy503CommittedAfterTheWindowIsNotSettledTwice(t *testing.T) {
	const (
		window = 400 * time.Millisecond
		late   = 2500 * time.Millisecond
	)
	tests := []struct {
		name     string
		typ      string
		endpoint sandbox.Endpoint
		function string
		order    sandbox.OrderSeed
		orderID  string
		ledger   func(*env) []sandbox.Entry
	}{
		{"debit", messages.SettlementDebit, sandbox.EndpointCapture, miva.FunctionCapture, sandbox.OrderSeed{OrderID: 902, Records: []sandbox.RecordSeed{
			{ID: 92, Type: sandbox.TypeAuth, Amount: "50.00", Available: "50.00"},
		}}, "902", captures},
		{"credit", messages.SettlementCredit, sandbox.EndpointRefund, miva.FunctionRefund, sandbox.OrderSeed{OrderID: 901, Records: []sandbox.RecordSeed{
			{ID: 90, Type: sandbox.TypeAuth, Amount: "50.00", Available: "0"},
			{ID: 91, Type: sandbox.TypeCapture, Amount: "50.00", ParentID: 90},
		}}, "901", refunds},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{}, tc.order)
			if err := e.sb.SetFaults(tc.endpoint, sandbox.Faults{LateNext: 1, LateMS: int(late / time.Millisecond)}); err != nil {
				t.Fatal(err)
			}
			useProxy(t, e, notSentProxy(t, e.srv.URL, tc.function, 0, 0), window)
			p := newPipeline(t, e, "")
			start := time.Now()
			p.deliver(t, settlementMessage(t, "late-503-"+tc.name, tc.orderID, tc.typ, "1.00"))
			ps := p.pub.take()
			if st := statusOf(t, ps); st != nil {
				t.Fatalf("status %+v after a 503", st)
			}
			next := retryOf(t, ps)
			time.Sleep(window + 200*time.Millisecond) // the retry queue's delay: past the window
			p.deliver(t, next)
			ps = p.pub.take()
			st := statusOf(t, ps)
			parked := ""
			for _, m := range ps {
				if m.key == broker.ParkedQueue("miva") {
					parked = m.msg.Metadata.Get(handlers.HeaderParkedReason)
				}
			}
			if elapsed := time.Since(start); elapsed >= late {
				t.Skipf("the retry ran %s after the first call, after its late commit (%s): the machine is too slow for this test", elapsed, late)
			}
			time.Sleep(time.Until(start.Add(late + 500*time.Millisecond))) // the late commit has landed
			n := len(tc.ledger(e))
			switch {
			case n != 1:
				t.Fatalf("%d %ss in the sandbox's ledger for one request (status %+v, parked %q)", n, tc.function, st, parked)
			case st != nil && st.SettlementStatus != messages.StatusSettled:
				t.Fatalf("status %s with the money moved", st.SettlementStatus)
			case st == nil && parked == "":
				t.Fatalf("neither a status nor a parking after the window: %+v", ps)
			case parked != "" && (!strings.Contains(parked, "no trace of it after its settle window") || !strings.Contains(parked, "check the order with miva")):
				t.Fatalf("parked reason %q does not tell what to check", parked)
			}
		})
	}
}

// TestPipelineParkedAfterABare503IsReplayedOntoTheOneCapture: what the
// runbook tells the operator of a request parked after a bare 503 whose
// call the list never showed. A replay reconciles again before any
// capture: while Miva shows nothing, it parks again (never captures: the
// worker cannot tell "refused" from "not committed yet"); once the capture
// is there (the late commit landed, or the operator made it in the Miva
// admin), the replay reports S for that one capture. Judged from the
// sandbox's ledger: one capture, never two.
func TestPipelineParkedAfterABare503IsReplayedOntoTheOneCapture(t *testing.T) {
	const window = 300 * time.Millisecond
	e := newEnv(t, sandbox.Config{}, sandbox.OrderSeed{OrderID: 903, Records: []sandbox.RecordSeed{
		{ID: 93, Type: sandbox.TypeAuth, Amount: "50.00", Available: "50.00"},
	}})
	c, err := miva.New(miva.Config{BaseURL: e.url, StoreCode: storeCode, APIToken: token, Timeout: timeout, SettleWindow: window}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	// Miva's (or a proxy's) bare 503; nothing captured.
	if err := e.sb.SetFaults(sandbox.EndpointCapture, sandbox.Faults{FailNext: 1}); err != nil {
		t.Fatal(err)
	}
	p := newPipeline(t, e, "")
	msg := settlementMessage(t, "bare-503-replay", "903", messages.SettlementDebit, "1.00")
	p.deliver(t, msg)
	next := retryOf(t, p.pub.take())
	time.Sleep(window + 100*time.Millisecond)
	var parking string // the last parked copy's, which a replay keeps
	parkedOnly := func(step string) {
		t.Helper()
		ps := p.pub.take()
		if st := statusOf(t, ps); st != nil {
			t.Fatalf("%s: status %s (captures %+v)", step, st.SettlementStatus, captures(e))
		}
		for _, m := range ps {
			if m.key == broker.ParkedQueue("miva") {
				parking = m.msg.Metadata.Get(broker.HeaderParking)
				return
			}
		}
		t.Fatalf("%s: not parked: %+v", step, ps)
	}
	p.deliver(t, next)
	parkedOnly("after the window")
	replay := func() {
		m := msg.Copy()
		m.Metadata.Set(broker.HeaderReplayed, time.Now().UTC().Format(time.RFC3339))
		m.Metadata.Set(broker.HeaderParking, parking)
		p.deliver(t, m)
	}
	replay()
	parkedOnly("replayed while Miva shows nothing")
	if cs := captures(e); len(cs) != 0 {
		t.Fatalf("captures %+v after a replay, want none (the worker never captures after an uncertain call)", cs)
	}
	// The operator captures the amount in the Miva admin, then replays.
	if _, err := newClient(t, e.url, token, "").Settle(context.Background(), debit("903", "1.00")); err != nil {
		t.Fatal(err)
	}
	replay()
	st := statusOf(t, p.pub.take())
	if st == nil || st.SettlementStatus != messages.StatusSettled {
		t.Fatalf("status %+v after the operator's capture, want S", st)
	}
	if cs := captures(e); len(cs) != 1 {
		t.Fatalf("captures %+v, want the operator's one", cs)
	}
}
