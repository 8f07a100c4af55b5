package handlers

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/store"
)

// Radial's status carries an AMQP message_id the worker puts in the
// event's DedupKey, an identifier the store refuses when it is not valid
// text. A status whose message_id held a NUL byte (or invalid UTF-8) was
// never applied and never parked: Handle returned an error on every
// delivery, and the KeyedSubscriber handed it back in-process forever (it
// is never returned to the broker, so no delivery limit applies), blocking
// every later status of the order (a chargeback R) behind it. Its id is
// now hashed (storableMessageID): applied once, its redelivery republishes.
func TestProviderStatusWithAnUnstorableMessageIDIsApplied(t *testing.T) {
	for name, id := range map[string]string{"NUL": "m\x001", "invalid UTF-8": "m\xff1"} {
		t.Run(name, func(t *testing.T) {
			e := newPSEnv(t)
			e.seed(seedSpec{id: "req-A", cc: "cc-A", state: store.StateAcknowledged})
			cc := e.corr["req-A"]
			for i := 1; i <= 3; i++ {
				if err := e.h.HandleSafely(statusSpec{cc: cc, msgID: id}.message(t)); err != nil {
					s, _ := e.st.Get(context.Background(), store.Key{Provider: "radial", RequestID: "req-A"})
					t.Fatalf("delivery %d: the status is neither applied nor parked (settlement still %s); Handle: %v", i, s.State, err)
				}
			}
			if s, _ := e.st.Get(context.Background(), store.Key{Provider: "radial", RequestID: "req-A"}); s.State != store.StateSettled {
				t.Fatalf("state %s, want settled", s.State)
			}
			evs, err := e.st.Statuses(context.Background(), store.Key{Provider: "radial", RequestID: "req-A"})
			if err != nil || len(evs) != 1 {
				t.Fatalf("events %d, %v; want one (the redeliveries republish it)", len(evs), err)
			}
			if _, parked := e.get(broker.ProviderStatusParkedQueue("radial")); parked {
				t.Fatal("a redelivery was parked")
			}
		})
	}
}

// refusingTransitions refuses every transition as the store refuses an
// identifier that is not text.
type refusingTransitions struct{ store.Store }

func (refusingTransitions) Transition(context.Context, store.Key, []store.State, store.State, store.Change, *store.StatusEvent) (store.Settlement, *store.StatusEvent, error) {
	return store.Settlement{}, nil, fmt.Errorf("transition: %w: dedup key %q", store.ErrInvalidText, "x")
}

// TestProviderStatusTheStoreRefusesIsParked: whatever path lets it through,
// a status whose recording the store refuses (store.ErrInvalidText) is
// parked with the store's reason, not failed on every delivery.
func TestProviderStatusTheStoreRefusesIsParked(t *testing.T) {
	e := newPSEnv(t)
	e.seed(seedSpec{id: "req-A", cc: "cc-A", state: store.StateAcknowledged})
	e.h.Store = refusingTransitions{e.h.Store}
	if err := e.h.HandleSafely(statusSpec{cc: e.corr["req-A"], msgID: "m1"}.message(t)); err != nil {
		t.Fatalf("Handle = %v: the status would be handed back forever", err)
	}
	d, ok := e.get(broker.ProviderStatusParkedQueue("radial"))
	if !ok || !strings.Contains(fmt.Sprint(d.Headers[HeaderParkedReason]), "cannot be recorded") {
		t.Fatalf("parked %v: %v", ok, d.Headers[HeaderParkedReason])
	}
}
