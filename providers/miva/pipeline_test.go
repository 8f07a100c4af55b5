package miva_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
	"github.com/settlement-worker/settlement-worker/store"
)

// published is one message the pipeline published.
type published struct {
	key string
	msg *message.Message
}

// fakePub records what the pipeline publishes (broker confirms assumed).
type fakePub struct {
	mu   sync.Mutex
	msgs []published
}

func (p *fakePub) Publish(_ context.Context, _, key string, msg *message.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, published{key, msg})
	return nil
}

func (p *fakePub) take() []published {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.msgs
	p.msgs = nil
	return out
}

// crash is the panic value of a simulated worker crash.
type crash string

// pipeline is handlers.Settlement over the Miva client, an in-memory
// SQLite store and a recording publisher.
type pipeline struct {
	h   *handlers.Settlement
	pub *fakePub
}

func newPipeline(t *testing.T, e *env, crashAt string) *pipeline {
	t.Helper()
	st, err := store.Open(context.Background(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	p := &pipeline{pub: &fakePub{}}
	crashed := false
	p.h = &handlers.Settlement{
		Provider:    e.client,
		Store:       st,
		Pub:         p.pub,
		Retry:       handlers.RetryPolicy{Delays: []time.Duration{time.Second}, MaxAttempts: 3},
		CallTimeout: 2 * time.Second,
		Log:         zerolog.Nop(),
		Crash: func(point string) {
			if point == crashAt && !crashed {
				crashed = true
				panic(crash(point))
			}
		},
	}
	return p
}

// deliver hands msg to the pipeline; it reports whether the worker "crashed".
func (p *pipeline) deliver(t *testing.T, msg *message.Message) (crashed bool) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(crash); !ok {
				panic(r)
			}
			crashed = true
		}
	}()
	if err := p.h.Handle(msg); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	return false
}

func settlementMessage(t *testing.T, id, order, typ, amount string) *message.Message {
	t.Helper()
	return settlementMessageIn(t, id, order, typ, amount, "USD")
}

// settlementMessageIn is settlementMessage in currency cur.
func settlementMessageIn(t *testing.T, id, order, typ, amount, cur string) *message.Message {
	t.Helper()
	tax := "0.00"
	if cur == "JPY" {
		tax = "0"
	}
	req := &messages.PaymentSettlementRequest{
		RequestID: id,
		PaymentContext: &messages.PaymentContext{
			OrderID:                order,
			PaymentAccountUniqueID: messages.AccountID{IsToken: "true", Value: pan},
		},
		InvoiceID:      "INV-" + id,
		Amount:         messages.Amount{CurrencyCode: cur, Value: amount},
		TaxAmount:      &messages.Amount{CurrencyCode: cur, Value: tax},
		SettlementType: typ,
		ClientContext:  "cc-" + id,
	}
	body, err := messages.Encode(req)
	if err != nil {
		t.Fatal(err)
	}
	msg := message.NewMessage(id, body)
	msg.Metadata.Set(handlers.HeaderStoreID, "STORE1")
	msg.Metadata.Set(handlers.HeaderTenderType, "VC")
	msg.Metadata.Set(broker.MetaContentType, handlers.ContentTypeXML)
	return msg
}

// statusOf decodes the single status event among ps.
func statusOf(t *testing.T, ps []published) *messages.PaymentSettlementStatus {
	t.Helper()
	var found *messages.PaymentSettlementStatus
	for _, p := range ps {
		if st, err := messages.DecodeSettlementStatus(p.msg.Payload); err == nil {
			if found != nil {
				t.Fatalf("two statuses published")
			}
			found = st
		}
	}
	return found
}

// retryOf returns the retried copy of a request among ps.
func retryOf(t *testing.T, ps []published) *message.Message {
	t.Helper()
	for _, p := range ps {
		if p.key == broker.RetryQueue("miva", time.Second) {
			return p.msg
		}
	}
	t.Fatalf("no retry scheduled: %+v", ps)
	return nil
}

// A capture that timed out before Miva acted leaves no trace after the
// settle window: Miva has no idempotency key, so the worker cannot tell
// "never arrived" from "not visible yet" by itself and parks the request
// for a person instead of capturing again.
func TestPipelineTimeoutWithoutTraceIsParked(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, seedExample)
	p := newPipeline(t, e, "")
	if err := e.sb.SetFaults(sandbox.EndpointCapture, sandbox.Faults{LatencyMS: 2500}); err != nil {
		t.Fatal(err)
	}
	msg := settlementMessage(t, "req-timeout", "200102", messages.SettlementDebit, "1.00")
	p.deliver(t, msg)
	next := retryOf(t, p.pub.take())
	if err := e.sb.SetFaults(sandbox.EndpointCapture, sandbox.Faults{}); err != nil {
		t.Fatal(err)
	}
	p.deliver(t, next)
	ps := p.pub.take()
	if st := statusOf(t, ps); st != nil {
		t.Fatalf("status %+v for a capture that may or may not have happened", st)
	}
	var reason string
	for _, m := range ps {
		if m.key == broker.ParkedQueue("miva") {
			reason = m.msg.Metadata.Get(handlers.HeaderParkedReason)
		}
	}
	if !strings.Contains(reason, "settle window") {
		t.Fatalf("not parked for the settle window: %q (published %+v)", reason, ps)
	}
	if cs := captures(e); len(cs) != 0 {
		t.Fatalf("captures %+v", cs)
	}
}

func TestPipelineNeverCapturesTwice(t *testing.T) {
	tests := []struct {
		name    string
		faults  *sandbox.Faults
		crashAt string
	}{
		{"capture reply lost (502), retried", &sandbox.Faults{DropNext: 1}, ""},
		{"worker crashed right after the capture, redelivered", nil, handlers.CrashAfterSettleCall},
		{"worker crashed after confirming funds, redelivered", nil, handlers.CrashAfterConfirm},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{}, seedExample)
			p := newPipeline(t, e, tc.crashAt)
			if tc.faults != nil {
				if err := e.sb.SetFaults(sandbox.EndpointCapture, *tc.faults); err != nil {
					t.Fatal(err)
				}
			}
			msg := settlementMessage(t, "req-"+strconv.Itoa(len(tc.name)), "200102", messages.SettlementDebit, "1.00")
			crashed := p.deliver(t, msg)
			first := p.pub.take()
			next := msg
			if !crashed {
				if st := statusOf(t, first); st != nil {
					t.Fatalf("status after an uncertain capture: %+v", st)
				}
				next = retryOf(t, first)
			}
			if err := e.sb.SetFaults(sandbox.EndpointCapture, sandbox.Faults{}); err != nil {
				t.Fatal(err)
			}
			if p.deliver(t, next) {
				t.Fatal("crashed twice")
			}
			st := statusOf(t, p.pub.take())
			if st == nil || st.SettlementStatus != messages.StatusSettled {
				t.Fatalf("status %+v", st)
			}
			if cs := captures(e); len(cs) != 1 || cs[0].Amount != "1.00" || cs[0].PaymentID != 4 {
				t.Fatalf("captures %+v", cs)
			}
			// A duplicate delivery republishes, never touches Miva.
			calls := e.sb.Calls()
			p.deliver(t, msg)
			if e.sb.Calls() != calls || len(captures(e)) != 1 {
				t.Fatal("a duplicate reached Miva")
			}
		})
	}
}

func TestPipelineRefusals(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, seedExample,
		sandbox.OrderSeed{OrderID: 600, Records: []sandbox.RecordSeed{{ID: 60, Type: sandbox.TypeAuth, Amount: "10.00", DeclineCapture: "This transaction has been declined."}}})
	p := newPipeline(t, e, "")
	tests := []struct {
		order, amount, reason string
	}{
		{"200102", "7.01", "funds not available: no Miva authorization on order 200102 has 7.01 USD available"},
		{"600", "5.00", "This transaction has been declined."},
		{"ORD-1", "1.00", "Miva Order_ID must be numeric"},
	}
	for i, tc := range tests {
		p.deliver(t, settlementMessage(t, "ref-"+strconv.Itoa(i), tc.order, messages.SettlementDebit, tc.amount))
		st := statusOf(t, p.pub.take())
		if st == nil || st.SettlementStatus != messages.StatusRejected || len(st.DeclineReason) < len(tc.reason) || st.DeclineReason[:len(tc.reason)] != tc.reason {
			t.Fatalf("%s: status %+v", tc.order, st)
		}
	}
	if len(e.sb.Ledger()) != 0 {
		t.Fatal("money moved")
	}
}

func TestPipelineCreditLostReplyIsReconciledNotRefundedTwice(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, sandbox.OrderSeed{OrderID: 900, Records: []sandbox.RecordSeed{
		{ID: 90, Type: sandbox.TypeAuth, Amount: "50.00", Available: "0"},
		{ID: 91, Type: sandbox.TypeCapture, Amount: "50.00", ParentID: 90},
	}})
	p := newPipeline(t, e, "")
	if err := e.sb.SetFaults(sandbox.EndpointRefund, sandbox.Faults{DropNext: 1}); err != nil {
		t.Fatal(err)
	}
	// The pipeline records Prepare's baseline before the refund, so the
	// retry after the lost reply finds the refund instead of guessing.
	msg := settlementMessage(t, "credit-1", "900", messages.SettlementCredit, "10.00")
	p.deliver(t, msg)
	ps := p.pub.take()
	if st := statusOf(t, ps); st != nil {
		t.Fatalf("attempt 1: status %+v", st)
	}
	p.deliver(t, retryOf(t, ps))
	st := statusOf(t, p.pub.take())
	if st == nil || st.SettlementStatus != messages.StatusSettled {
		t.Fatalf("attempt 2: want S, got %+v", st)
	}
	if len(refunds(e)) != 1 {
		t.Fatalf("refunds %+v", refunds(e))
	}
}
