package handlers

import (
	"bytes"
	"context"
	"testing"

	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// A Radial R whose DeclineReason names the card ("card 4012 8888 8888
// 1881 declined") was recorded as the settlement's decline reason,
// republished in our status event and logged, card number whole. It is
// masked on the way in; a redelivery of the same R, compared with the
// masked record, is still the same verdict (not parked as a conflict).
func TestProviderStatusDeclineReasonCardNumberIsMasked(t *testing.T) {
	for _, echoed := range []string{spacedPAN, leakPAN, dashedPAN} {
		t.Run(echoed, func(t *testing.T) {
			e := newPSEnv(t)
			var logs bytes.Buffer
			e.h.Log = zerolog.New(&logs)
			e.seed(seedSpec{id: "req-A", cc: "cc-A", state: store.StateAcknowledged})
			cc := e.corr["req-A"]
			r := statusSpec{cc: cc, msgID: "m1", verdict: messages.StatusRejected, decline: "card " + echoed + " declined"}
			if err := e.h.Handle(r.message(t)); err != nil {
				t.Fatal(err)
			}
			d, ok := e.get(statusQueue)
			if !ok {
				t.Fatal("no status event published")
			}
			ev, err := messages.DecodeSettlementStatus(d.Body)
			if err != nil {
				t.Fatal(err)
			}
			if ev.SettlementStatus != messages.StatusRejected {
				t.Fatalf("published %s, want R", ev.SettlementStatus)
			}
			if leaks(ev.DeclineReason) {
				t.Errorf("published DeclineReason holds the card number: %q", ev.DeclineReason)
			}
			s, err := e.st.Get(context.Background(), store.Key{Provider: "radial", RequestID: "req-A"})
			if err != nil {
				t.Fatal(err)
			}
			if s.State != store.StateRefused || leaks(s.DeclineReason) {
				t.Errorf("recorded %s with decline reason %q", s.State, s.DeclineReason)
			}
			if leaks(logs.String()) {
				t.Errorf("a log line holds the card number:\n%s", logs.String())
			}
			// The same R again, under another message id: the same verdict.
			r.msgID = "m2"
			if err := e.h.Handle(r.message(t)); err != nil {
				t.Fatal(err)
			}
			if _, ok := e.get(broker.ProviderStatusParkedQueue("radial")); ok {
				t.Error("a repeat of the R was parked")
			}
		})
	}
}

// A status whose StoreId is a card number (the store_id a request was
// sent with, echoed): the store_id was logged whole on every line of the
// status. Neither the log nor the parked copy's reason holds it.
func TestProviderStatusStoreIDCardNumberIsMasked(t *testing.T) {
	e := newPSEnv(t)
	var logs bytes.Buffer
	e.h.Log = zerolog.New(&logs)
	e.seed(seedSpec{id: "req-A", cc: "cc-A", state: store.StateAcknowledged})
	r := statusSpec{ccOf: "req-A", store: leakPAN, msgID: "m1"}
	if err := e.h.Handle(r.message(t)); err != nil {
		t.Fatal(err)
	}
	parkedWithoutCardNumber(t, e, &logs, "the status of another store")
}

// parkedWithoutCardNumber wants what parked, and neither its parked
// reason nor the handler's log to hold the card number.
func parkedWithoutCardNumber(t *testing.T, e *psEnv, logs *bytes.Buffer, what string) {
	t.Helper()
	d, ok := e.get(broker.ProviderStatusParkedQueue("radial"))
	if !ok {
		t.Fatal(what + " was not parked")
	}
	if v := broker.Stringify(d.Headers[HeaderParkedReason]); leaks(v) {
		t.Errorf("parked reason holds the card number: %q", v)
	}
	if leaks(logs.String()) {
		t.Errorf("a log line holds the card number:\n%s", logs.String())
	}
}

// A request whose OrderId is a card number (up to 20 characters: a 16-digit
// number is a valid OrderId), and Radial's status echoing it: the order_id
// was logged whole on every line of the status, beside the masked
// store_id. Neither the log nor the parked copy's reason holds it.
func TestProviderStatusOrderIDCardNumberIsMasked(t *testing.T) {
	e := newPSEnv(t)
	var logs bytes.Buffer
	e.h.Log = zerolog.New(&logs)
	e.seed(seedSpec{id: "req-A", cc: "cc-A", order: leakPAN, state: store.StateAcknowledged})
	// Another amount: parked as conflicting, naming the settlement.
	r := statusSpec{ccOf: "req-A", order: leakPAN, amount: "1.00", msgID: "m1"}
	if err := e.h.Handle(r.message(t)); err != nil {
		t.Fatal(err)
	}
	parkedWithoutCardNumber(t, e, &logs, "the conflicting status")
}
