package handlers

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// countValidations counts the status documents the handlers parse to
// validate them, for the rest of the test.
func countValidations(t *testing.T) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	orig := validateStatusDocument
	validateStatusDocument = func(body []byte) error {
		n.Add(1)
		return orig(body)
	}
	t.Cleanup(func() { validateStatusDocument = orig })
	return &n
}

// No status document is parsed on the hot path: a status the worker builds
// (the request's would-be refusal when it arrives, its verdict) is checked
// as a value (messages.EncodeStatus, the document check's verdict without
// the document) and published as encoded; a recorded body read back from
// the store (a duplicate's republish, the relay) is parsed and validated
// before it is published.
func TestStatusDocumentValidatedOnceOnTheHotPath(t *testing.T) {
	cases := []struct {
		name string
		// run handles what the case measures; n counts validations (a
		// setup resets it to 0 when done).
		run func(t *testing.T, r *rig, n *atomic.Int64)
		// want is how many documents were validated, and published how
		// many status events.
		want, published int
	}{
		{"new debit: its reportability and its S are checked as values", func(t *testing.T, r *rig, n *atomic.Int64) {
			r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
		}, 0, 1},
		{"duplicate of a finished request: the recorded S, read back", func(t *testing.T, r *rig, n *atomic.Int64) {
			msg := requestMsg(t, "req-1", messages.SettlementDebit, nil)
			r.deliver(t, msg)
			r.pub.take()
			n.Store(0)
			r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
		}, 1, 1},
		{"relay of an unpublished event", func(t *testing.T, r *rig, n *atomic.Int64) {
			r.pub.failStatus = true
			if err := r.h.Handle(requestMsg(t, "req-1", messages.SettlementDebit, nil)); err == nil {
				t.Fatal("Handle succeeded although the status could not be published")
			}
			r.pub.failStatus = false
			n.Store(0)
			if rep, err := r.sweeper(time.Minute).Sweep(context.Background()); err != nil || rep.Relayed != 1 {
				t.Fatalf("sweep %+v, %v: want one relayed", rep, err)
			}
		}, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, newScripted("prov", providers.Facts{}))
			n := countValidations(t)
			c.run(t, r, n)
			if got := n.Load(); got != int64(c.want) {
				t.Errorf("%d status documents validated, want %d", got, c.want)
			}
			var published int
			for _, m := range r.pub.take() {
				if strings.HasPrefix(m.key, statusQ) {
					published++
				}
			}
			if published != c.published {
				t.Errorf("%d status events published, want %d", published, c.published)
			}
		})
	}
}

// publishRecorded publishes the event the store returned for the one just
// built without parsing it again only when it is that very document;
// another body (an event the store already had under the same DedupKey)
// is validated, and an invalid one is never published.
func TestPublishRecordedChecksAnyOtherBody(t *testing.T) {
	valid, err := encodeStatus("req-1", messages.PaymentSettlementStatus{
		PaymentContextBase: &messages.PaymentContextBase{OrderID: "o-1"},
		TenderType:         "VC", SettlementType: messages.SettlementDebit, SettlementStatus: messages.StatusSettled,
		StoreID: "STORE1", Amount: messages.Amount{CurrencyCode: "USD", Value: "1.00"},
	})
	if err != nil {
		t.Fatalf("the test's valid status: %v", err)
	}
	other := append([]byte(nil), valid...)
	other = append(other, '\n')
	cases := []struct {
		name        string
		recorded    []byte
		validations int64
		invalid     bool
	}{
		{"the document just built", append([]byte(nil), valid...), 0, false},
		{"another valid document", other, 1, false},
		{"another, invalid document", []byte("<PaymentSettlementStatus/>"), 1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := countValidations(t)
			pub := &recPub{}
			st, err := store.Open(context.Background(), "sqlite:"+t.TempDir()+"/s.db")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			s := store.Settlement{Key: store.Key{Provider: "prov", RequestID: "req-1"}, StoreID: "STORE1"}
			built := &store.StatusEvent{Key: s.Key, MessageID: "m-1", SettlementStatus: "S", Body: valid}
			rec := *built
			rec.Body = c.recorded
			err = eventOut{pub: pub, st: st}.publishRecorded(context.Background(), s, built, rec)
			var inv *InvalidStatusError
			if errors.As(err, &inv) != c.invalid {
				t.Errorf("publishRecorded = %v, invalid want %v", err, c.invalid)
			}
			if got := n.Load(); got != c.validations {
				t.Errorf("%d validations, want %d", got, c.validations)
			}
			if sent := len(pub.take()); sent != map[bool]int{false: 1, true: 0}[c.invalid] {
				t.Errorf("%d published", sent)
			}
		})
	}
}

// The provider status handler parses no document for our event: it is
// built and checked as a value before it is recorded and published as
// encoded; a redelivered status republishes the recorded event, read back,
// parsed and validated.
func TestProviderStatusValidatesOurEventOnce(t *testing.T) {
	e := newPSEnv(t)
	e.seed(seedSpec{id: "req-A", cc: "cc-A", state: store.StateAcknowledged})
	n := countValidations(t)
	steps := []struct {
		name string
		want int64
	}{
		{"the verdict, new", 0},
		{"its redelivery", 1},
	}
	for _, s := range steps {
		n.Store(0)
		msg := statusSpec{cc: e.corr["req-A"], msgID: "m-1"}.message(t)
		if err := e.h.Handle(msg); err != nil {
			t.Fatalf("%s: Handle: %v", s.name, err)
		}
		if _, ok := e.get(statusQueue); !ok {
			t.Fatalf("%s: no status event published", s.name)
		}
		if got := n.Load(); got != s.want {
			t.Errorf("%s: %d status documents validated, want %d", s.name, got, s.want)
		}
	}
}
