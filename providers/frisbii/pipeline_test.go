package frisbii_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/frisbii"
	"github.com/settlement-worker/settlement-worker/store"
)

// recorder is a handlers.Publisher that keeps what was published.
type recorder struct {
	mu   sync.Mutex
	msgs []published
}

type published struct {
	exchange, key string
	msg           *message.Message
}

func (r *recorder) Publish(_ context.Context, exchange, key string, msg *message.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, published{exchange, key, msg})
	return nil
}

// last returns the last message published with a settlement_status header
// (a status event), or with a settlement_attempt header (a retry).
func (r *recorder) last(t *testing.T, header string) *message.Message {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.msgs) - 1; i >= 0; i-- {
		if r.msgs[i].msg.Metadata.Get(header) != "" {
			return r.msgs[i].msg
		}
	}
	t.Fatalf("nothing published with header %s", header)
	return nil
}

// pipeline runs the real settlement handler (SQLite store) with the client.
func pipeline(t *testing.T, e *env) (*handlers.Settlement, *recorder) {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite:"+t.TempDir()+"/settlements.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	rec := &recorder{}
	return &handlers.Settlement{
		Provider:    e.client,
		Store:       st,
		Pub:         rec,
		Retry:       handlers.RetryPolicy{Delays: []time.Duration{time.Second}, MaxAttempts: 5},
		CallTimeout: 2 * time.Second,
		Log:         zerolog.Nop(),
	}, rec
}

func requestMessage(t *testing.T, id, order, typ, amount string) *message.Message {
	t.Helper()
	return requestMessageIn(t, id, order, typ, amount, "USD")
}

// requestMessageIn is requestMessage in currency cur.
func requestMessageIn(t *testing.T, id, order, typ, amount, cur string) *message.Message {
	t.Helper()
	tax := "0.00"
	if cur == "JPY" {
		tax = "0"
	}
	body, err := messages.Encode(&messages.PaymentSettlementRequest{
		RequestID: id,
		PaymentContext: &messages.PaymentContext{
			OrderID:                order,
			PaymentAccountUniqueID: messages.AccountID{IsToken: "false", Value: pan},
		},
		InvoiceID:      "INV-" + order,
		Amount:         messages.Amount{CurrencyCode: cur, Value: amount},
		TaxAmount:      &messages.Amount{CurrencyCode: cur, Value: tax},
		SettlementType: typ,
		ClientContext:  "cc-" + id,
	})
	if err != nil {
		t.Fatal(err)
	}
	msg := message.NewMessage("m-"+id, body)
	msg.Metadata.Set(handlers.HeaderStoreID, "STORE1")
	msg.Metadata.Set(handlers.HeaderTenderType, "VC")
	return msg
}

func statusOf(t *testing.T, msg *message.Message) *messages.PaymentSettlementStatus {
	t.Helper()
	st, err := messages.DecodeSettlementStatus(msg.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestPipelineNeverSettlesTwice runs the worker's handler against the
// sandbox through the failures that could lose or double money.
func TestPipelineNeverSettlesTwice(t *testing.T) {
	t.Run("reply lost: the retry reconciles with the same key", func(t *testing.T) {
		e := newEnv(t)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000})
		h, rec := pipeline(t, e)
		e.faults(t, sandbox.EndpointSettle, sandbox.Faults{DropNext: 1})
		if err := h.Handle(requestMessage(t, "p1", "O1", messages.SettlementDebit, "100.00")); err != nil {
			t.Fatal(err)
		}
		retry := rec.last(t, handlers.HeaderAttempt)
		if retry.Metadata.Get(handlers.HeaderAttempt) != "2" {
			t.Fatalf("retry attempt %q", retry.Metadata.Get(handlers.HeaderAttempt))
		}
		if err := h.Handle(retry); err != nil {
			t.Fatal(err)
		}
		if st := statusOf(t, rec.last(t, handlers.HeaderSettlementStatus)); st.SettlementStatus != messages.StatusSettled {
			t.Fatalf("status = %+v", st)
		}
		if es := e.sb.Ledger(); len(es) != 1 || es[0].Replays != 1 || e.settled(t, "O1") != 10000 {
			t.Fatalf("ledger = %+v", es)
		}
	})

	t.Run("crash after the settle call: redelivery reconciles", func(t *testing.T) {
		e := newEnv(t)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000})
		h, rec := pipeline(t, e)
		crashed := false
		h.Crash = func(point string) {
			if point == handlers.CrashAfterSettleCall && !crashed {
				crashed = true
				panic("crash")
			}
		}
		msg := requestMessage(t, "p2", "O1", messages.SettlementDebit, "40.00")
		func() {
			defer func() { _ = recover() }()
			_ = h.Handle(msg)
		}()
		if !crashed || e.settled(t, "O1") != 4000 {
			t.Fatalf("crashed %v, settled %d", crashed, e.settled(t, "O1"))
		}
		if err := h.Handle(msg); err != nil { // the broker redelivers
			t.Fatal(err)
		}
		if st := statusOf(t, rec.last(t, handlers.HeaderSettlementStatus)); st.SettlementStatus != messages.StatusSettled {
			t.Fatalf("status = %+v", st)
		}
		// A duplicate after the end republishes without calling Frisbii.
		before := e.sb.Calls().Settle.Total
		if err := h.Handle(msg); err != nil {
			t.Fatal(err)
		}
		if e.sb.Calls().Settle.Total != before || e.settled(t, "O1") != 4000 || len(e.sb.Ledger()) != 1 {
			t.Fatalf("calls %+v, ledger %+v", e.sb.Calls().Settle, e.sb.Ledger())
		}
	})

	t.Run("decline and withheld debit end R with a reason", func(t *testing.T) {
		e := newEnv(t)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, Decline: &sandbox.Decline{ErrorState: sandbox.ErrorStateHardDeclined, Error: "credit_card_expired"}})
		e.seed(t, sandbox.ChargeSeed{Handle: "O2", Amount: 1000})
		h, rec := pipeline(t, e)
		for i, tc := range []struct{ order, amount, reason string }{
			{"O1", "10.00", "Frisbii declined the settle (hard_declined: credit_card_expired)"},
			{"O2", "10.01", "funds not available: only 10.00 USD of 10.00 USD left to settle; 10.01 USD requested"},
		} {
			if err := h.Handle(requestMessage(t, "d"+strconv.Itoa(i), tc.order, messages.SettlementDebit, tc.amount)); err != nil {
				t.Fatal(err)
			}
			st := statusOf(t, rec.last(t, handlers.HeaderSettlementStatus))
			if st.SettlementStatus != messages.StatusRejected || st.DeclineReason != tc.reason {
				t.Fatalf("status = %+v, want R %q", st, tc.reason)
			}
		}
		if e.settled(t, "O2") != 0 {
			t.Fatal("a withheld debit moved money")
		}
	})

	t.Run("credit", func(t *testing.T) {
		e := newEnv(t)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled})
		h, rec := pipeline(t, e)
		if err := h.Handle(requestMessage(t, "c1", "O1", messages.SettlementCredit, "25.00")); err != nil {
			t.Fatal(err)
		}
		if st := statusOf(t, rec.last(t, handlers.HeaderSettlementStatus)); st.SettlementStatus != messages.StatusSettled {
			t.Fatalf("status = %+v", st)
		}
		if ci, _ := e.sb.ChargeInfo("O1"); ci.RefundedAmount != 2500 {
			t.Fatalf("refunded %d", ci.RefundedAmount)
		}
	})
}
