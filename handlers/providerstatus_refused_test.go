package handlers

import (
	"context"
	"testing"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/store"
)

// A provider status whose verdict was recorded but whose event the broker
// refused (no queue bound for its store, a queue full with reject-publish)
// was handed back as an error. The keyed status subscriber retries a
// handed-back status in place, forever, never overtaken: the status held
// its order and one of RADIAL_STATUS_CONCURRENCY prefetch slots for good,
// and that many such statuses stalled the provider's whole status queue:
// every order's verdict, of every store, waited forever while the worker
// reported ready. The verdict is recorded with its event in the outbox,
// which the sweeper relays each round, message by message (as it does for
// a refused relay): the status is done, for its first delivery and for a
// redelivery alike.
func TestProviderStatusEventRefusedByTheBrokerIsLeftToTheRelay(t *testing.T) {
	e := newPSEnv(t)
	if err := e.ch.QueueUnbind(statusQueue, "settlement.status.#", broker.StatusExchange, nil); err != nil {
		t.Fatalf("unbind: %v", err)
	}
	e.seed(seedSpec{id: "r-refused", state: store.StateAcknowledged})
	for _, delivery := range []string{"first delivery", "redelivery"} {
		msg := statusSpec{ccOf: "r-refused", msgID: "radial-msg-1"}
		msg.cc = e.corr["r-refused"]
		if err := e.h.Handle(msg.message(t)); err != nil {
			t.Fatalf("%s: Handle = %v, want nil (the verdict is recorded; its event is the relay's)", delivery, err)
		}
	}
	s, err := e.st.Get(context.Background(), store.Key{Provider: "radial", RequestID: "r-refused"})
	if err != nil {
		t.Fatal(err)
	}
	if s.State != store.StateSettled {
		t.Fatalf("state %s, want settled", s.State)
	}
	evs, err := e.st.Statuses(context.Background(), s.Key)
	if err != nil || len(evs) != 1 {
		t.Fatalf("statuses: %d, %v; want the one event, left to the relay", len(evs), err)
	}
	if _, ok := e.get(broker.ProviderStatusParkedQueue("radial")); ok {
		t.Fatal("the provider status was parked; its verdict was applied")
	}
}
