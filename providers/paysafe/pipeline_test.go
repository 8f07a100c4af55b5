package paysafe_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/paysafe"
	settlestore "github.com/settlement-worker/settlement-worker/store"
)

// published is one message the pipeline published.
type published struct {
	exchange, key string
	msg           *message.Message
}

// recorder is a handlers.Publisher keeping what was published.
type recorder struct {
	mu   sync.Mutex
	msgs []published
}

func (r *recorder) Publish(_ context.Context, exchange, key string, msg *message.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, published{exchange, key, msg})
	return nil
}

// take returns and forgets what was published.
func (r *recorder) take() []published {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.msgs
	r.msgs = nil
	return out
}

// pipeline is the real settlement handler over a SQLite store, the
// Paysafe client and the sandbox.
type pipeline struct {
	h   *handlers.Settlement
	pub *recorder
}

func newPipeline(t *testing.T, e *env) *pipeline {
	t.Helper()
	st, err := settlestore.Open(context.Background(), "sqlite:"+t.TempDir()+"/settlements.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	pub := &recorder{}
	h := &handlers.Settlement{
		Provider:    e.client,
		Store:       st,
		Pub:         pub,
		Retry:       handlers.RetryPolicy{Delays: []time.Duration{time.Second, recheck}, MaxAttempts: 5},
		CallTimeout: 2 * time.Second,
		Log:         zerolog.Nop(),
	}
	return &pipeline{h: h, pub: pub}
}

// requestMessage is a PaymentSettlementRequest message for the pipeline.
func requestMessage(t *testing.T, id, typ, amount string, headers map[string]string) *message.Message {
	t.Helper()
	return requestMessageIn(t, id, typ, amount, "USD", headers)
}

// requestMessageIn is requestMessage in currency cur.
func requestMessageIn(t *testing.T, id, typ, amount, cur string, headers map[string]string) *message.Message {
	t.Helper()
	tax := "0.00"
	if cur == "JPY" {
		tax = "0"
	}
	req := &messages.PaymentSettlementRequest{
		RequestID: id,
		PaymentContext: &messages.PaymentContext{
			OrderID:                "ORD-" + id,
			PaymentAccountUniqueID: messages.AccountID{IsToken: "false", Value: pan},
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
	msg := message.NewMessage("m-"+id, body)
	msg.Metadata.Set(broker.MetaContentType, "application/xml")
	msg.Metadata.Set("store_id", store)
	msg.Metadata.Set("tender_type", "VC")
	for k, v := range headers {
		msg.Metadata.Set(k, v)
	}
	return msg
}

// deliver hands msg to the pipeline and returns what it published: the
// retry/poll copy to deliver next, or the final status.
func (p *pipeline) deliver(t *testing.T, msg *message.Message) (next *message.Message, status *messages.PaymentSettlementStatus) {
	t.Helper()
	if err := p.h.Handle(msg); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	for _, m := range p.pub.take() {
		switch {
		case m.exchange == broker.StatusExchange:
			st, err := messages.DecodeSettlementStatus(m.msg.Payload)
			if err != nil {
				t.Fatal(err)
			}
			status = st
		case strings.Contains(m.key, ".retry."):
			next = m.msg
		default:
			t.Fatalf("unexpected publish to %q %q: %s", m.exchange, m.key, m.msg.Metadata.Get(handlers.HeaderParkedReason))
		}
	}
	return next, status
}

// TestPipelineDebitPendingThenSettled runs the real pipeline: confirm,
// settle (PENDING), a delayed poll before the batch, one after, status S.
func TestPipelineDebitPendingThenSettled(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	authID := e.authorize(t, sandbox.Authorization{Amount: 5000})
	p := newPipeline(t, e)

	next, st := p.deliver(t, requestMessage(t, "pipe-1", messages.SettlementDebit, "50.00", map[string]string{"authorization_id": authID}))
	if st != nil || next == nil || next.Metadata.Get(handlers.HeaderPoll) != "true" {
		t.Fatalf("first delivery: next=%v status=%+v", next, st)
	}
	next, st = p.deliver(t, next)
	if st != nil || next == nil {
		t.Fatalf("poll before the batch: next=%v status=%+v", next, st)
	}
	e.sb.RunBatch()
	next, st = p.deliver(t, next)
	if next != nil || st == nil || st.SettlementStatus != messages.StatusSettled || st.StoreID != store {
		t.Fatalf("poll after the batch: next=%v status=%+v", next, st)
	}
	settlementID := e.sb.Ledger()[0].ID

	// The credit skips confirm funds and refunds the settlement.
	next, st = p.deliver(t, requestMessage(t, "pipe-1-refund", messages.SettlementCredit, "12.50", map[string]string{"settlement_id": settlementID}))
	if st != nil || next == nil {
		t.Fatalf("credit: next=%v status=%+v", next, st)
	}
	e.sb.RunBatch()
	if _, st = p.deliver(t, next); st == nil || st.SettlementStatus != messages.StatusSettled || st.SettlementType != messages.SettlementCredit {
		t.Fatalf("credit status %+v", st)
	}
	refunds := e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: sandbox.KindRefund})
	if len(refunds) != 1 || refunds[0].Amount != 1250 || refunds[0].SettlementID != settlementID || e.sb.Calls().Auth.Total != 1 {
		t.Fatalf("refunds = %+v", refunds)
	}
}

// TestPipelineLostReplyIsReconciled: Paysafe creates the settlement but
// the reply is lost; the retry reconciles by merchantRefNum and never
// settles twice. A refused amount ends R with Paysafe's reason.
func TestPipelineLostReplyIsReconciled(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	authID := e.authorize(t, sandbox.Authorization{Amount: 5000})
	p := newPipeline(t, e)
	if err := e.sb.SetFaults(sandbox.EndpointSettle, sandbox.Faults{DropNext: 1}); err != nil {
		t.Fatal(err)
	}
	next, st := p.deliver(t, requestMessage(t, "pipe-2", messages.SettlementDebit, "30.00", map[string]string{"authorization_id": authID}))
	if st != nil || next == nil || next.Metadata.Get(handlers.HeaderPoll) == "true" {
		t.Fatalf("dropped reply: next=%v status=%+v", next, st)
	}
	next, st = p.deliver(t, next) // Reconcile finds the PENDING settlement
	if st != nil || next == nil || next.Metadata.Get(handlers.HeaderPoll) != "true" {
		t.Fatalf("retry: next=%v status=%+v", next, st)
	}
	e.sb.RunBatch()
	if _, st = p.deliver(t, next); st == nil || st.SettlementStatus != messages.StatusSettled {
		t.Fatalf("final status %+v", st)
	}
	if c := e.sb.Calls().Settle; len(e.sb.Ledger()) != 1 || c.Processed != 1 || c.Total != 1 {
		t.Fatalf("ledger %d, settle calls %+v", len(e.sb.Ledger()), c)
	}

	// 20.01 of the remaining 20.00: confirm funds withholds it.
	_, st = p.deliver(t, requestMessage(t, "pipe-3", messages.SettlementDebit, "20.01", map[string]string{"authorization_id": authID}))
	if st == nil || st.SettlementStatus != messages.StatusRejected ||
		st.DeclineReason != "funds not available: only 20.00 USD of 20.01 USD still available to settle" {
		t.Fatalf("status %+v", st)
	}
}

// TestPipelinePendingPollFailuresBetweenAnswersDoNotPark: a settlement
// pending until Paysafe's batch is polled, and every other poll fails
// (503): far more failed polls in all than the retry budget, but never two
// in a row, each followed by an answer (still pending). Failed polls spent
// the budget whatever came between them, so the settlement was parked
// "retries exhausted" with its money moved (seen in a chaos run); only
// consecutive failures may park it. It settles: S, one capture in the
// sandbox's ledger, never a second settle call.
func TestPipelinePendingPollFailuresBetweenAnswersDoNotPark(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	authID := e.authorize(t, sandbox.Authorization{Amount: 5000})
	p := newPipeline(t, e)

	next, st := p.deliver(t, requestMessage(t, "pipe-flaky-poll", messages.SettlementDebit, "50.00", map[string]string{"authorization_id": authID}))
	if st != nil || next == nil || next.Metadata.Get(handlers.HeaderPoll) != "true" {
		t.Fatalf("first delivery: next=%v status=%+v, want a poll copy (pending)", next, st)
	}
	rounds := 2 * p.h.Retry.MaxAttempts
	for i := range rounds {
		if err := e.sb.SetFaults(sandbox.EndpointGet, sandbox.Faults{FailNext: 1}); err != nil {
			t.Fatal(err)
		}
		if next, st = p.deliver(t, next); st != nil || next == nil || next.Metadata.Get(handlers.HeaderPoll) == "true" {
			t.Fatalf("failed poll %d of %d: next=%v status=%+v, want a retry copy", i+1, rounds, next, st)
		}
		if next, st = p.deliver(t, next); st != nil || next == nil || next.Metadata.Get(handlers.HeaderPoll) != "true" {
			t.Fatalf("poll after failed poll %d: next=%v status=%+v, want a poll copy (still pending)", i+1, next, st)
		}
	}
	e.sb.RunBatch()
	if next, st = p.deliver(t, next); next != nil || st == nil || st.SettlementStatus != messages.StatusSettled {
		t.Fatalf("poll after the batch: next=%v status=%+v, want S", next, st)
	}
	ledger := e.sb.Ledger()
	if c := e.sb.Calls(); len(ledger) != 1 || ledger[0].Amount != 5000 || ledger[0].Kind != sandbox.KindSettlement || c.Settle.Total != 1 {
		t.Fatalf("ledger %+v, settle calls %+v: want exactly one capture of 50.00", ledger, c.Settle)
	}
	if c := e.sb.Calls().Get; c.Total != 2*rounds+1 {
		t.Errorf("%d polls reached Paysafe, want %d", c.Total, 2*rounds+1)
	}
}
