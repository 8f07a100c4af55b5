package handlers

import (
	"context"
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
