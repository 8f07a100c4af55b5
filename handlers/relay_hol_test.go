package handlers

import (
	"context"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// The outbox relay stopped at the first event the broker refused (here
// returned as unroutable: no status queue is bound for its store) and
// returned, round after round: every event recorded after it — verdicts of
// other stores, whose queue is bound — was never relayed, and nothing but
// the sweeper's warning line said so. One event the broker refuses must not
// hold back the others (real broker; judged from the bound status queue).
func TestRelayGoesOnPastAnEventTheBrokerRefuses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Only STORE1's statuses are bound (STATUS_QUEUES=q=settlement.status.STORE1).
	top := broker.Topology{Providers: []string{"prov"}, RetryDelays: []time.Duration{time.Second},
		StatusQueues: []broker.StatusQueue{{Name: statusQueue, BindingKey: broker.StatusRoutingKey("STORE1")}}}
	pub, ch := onBroker(ctx, t, top)

	r := newRig(t, newScripted("prov", providers.Facts{Idempotent: true}))
	// Both verdicts are recorded while the broker is away: the outbox
	// holds STORE2's (older), then STORE1's.
	r.pub.failStatus = true
	for _, m := range []struct{ id, store string }{{"req-a", "STORE2"}, {"req-b", "STORE1"}} {
		if err := r.h.HandleSafely(requestMsg(t, m.id, messages.SettlementDebit, map[string]string{HeaderStoreID: m.store})); err == nil {
			t.Fatalf("%s: Handle succeeded although its status could not be published", m.id)
		}
		time.Sleep(5 * time.Millisecond)
	}
	w := r.sweeper(time.Minute)
	w.Pub = pub
	for round := 1; round <= 2; round++ {
		_, _ = w.Sweep(ctx)
	}
	d, ok, err := ch.Get(statusQueue, true)
	if err != nil {
		t.Fatal(err)
	}
	if !ok || d.Headers[HeaderRequestID] != "req-b" {
		t.Fatalf("STORE1's verdict was not relayed after two rounds (got %v): the unroutable STORE2 event ahead of it holds back the outbox", ok)
	}
	evs, err := r.st.Statuses(ctx, store.Key{Provider: "prov", RequestID: "req-b"})
	if err != nil || len(evs) != 1 || evs[0].PublishedAt == nil {
		t.Errorf("req-b's event %+v (%v): want it marked published", evs, err)
	}
}
