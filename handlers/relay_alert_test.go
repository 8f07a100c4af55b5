package handlers

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// A verdict the broker refuses for good (no status queue bound for its
// store, a status queue full with reject-publish) stays in the outbox and
// is relayed in vain every round: the order system never gets its S/R. The
// sweeper only logged a warning; no metric counted it and no alert read
// it (settlement_swept_total had relayed, parked, resumed and unreadable),
// so it waited forever in silence. Each refused relay must be counted
// (action "unrelayed"), the series alert SettlementStatusNotRelayed reads
// (real broker, real store).
func TestRelayRefusedEventIsCountedForAnAlert(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Only STORE1's statuses are bound; STORE2's verdict is unroutable.
	top := broker.Topology{Providers: []string{"prov"}, RetryDelays: []time.Duration{time.Second},
		StatusQueues: []broker.StatusQueue{{Name: statusQueue, BindingKey: broker.StatusRoutingKey("STORE1")}}}
	pub, _ := onBroker(ctx, t, top)
	r := newRig(t, newScripted("prov", providers.Facts{Idempotent: true}))
	r.pub.failStatus = true
	if err := r.h.HandleSafely(requestMsg(t, "req-unrouted", messages.SettlementDebit, map[string]string{HeaderStoreID: "STORE2"})); err == nil {
		t.Fatal("Handle succeeded although its status could not be published")
	}
	w := r.sweeper(time.Minute)
	w.Pub = pub
	w.Metrics = NewMetrics(prometheus.NewRegistry())
	w.Metrics.Init([]string{"prov"})
	for round := 1; round <= 2; round++ {
		if _, err := w.Sweep(ctx); err == nil {
			t.Fatalf("round %d: the refused relay was not reported", round)
		}
	}
	evs, err := r.st.Statuses(ctx, store.Key{Provider: "prov", RequestID: "req-unrouted"})
	if err != nil || len(evs) != 1 || evs[0].PublishedAt != nil {
		t.Fatalf("req-unrouted's event %+v (%v): want it still unpublished", evs, err)
	}
	if v := testutil.ToFloat64(w.Metrics.swept.WithLabelValues("prov", string(store.StateSettled), "unrelayed")); v != 2 {
		t.Errorf("settlement_swept_total{action=\"unrelayed\"} = %v after two rounds refused, want 2: the verdict waits unseen by any alert", v)
	}
	// The rounds ran to their end: the refused event has its own alert,
	// and must not make the sweeper look stopped.
	if v := testutil.ToFloat64(w.Metrics.rounds.WithLabelValues("completed")); v != 2 {
		t.Errorf("settlement_sweeper_rounds_total{outcome=\"completed\"} = %v after two rounds with a refused event, want 2", v)
	}
}

// The relay read the oldest Batch events of the outbox each round; events
// the broker refuses for good stay there, oldest first, so Batch of them
// (a store's verdicts while no queue is bound for it) filled every round's
// read, and every verdict recorded after them — of stores whose queue is
// bound — was never relayed: the order systems waited forever for verdicts
// nothing stopped. Here Batch is 1 (500 in a worker): STORE2's refused
// event must not hold back STORE1's (real broker, judged from the bound
// status queue).
func TestRelayBatchFullOfRefusedEventsDoesNotHoldBackTheOthers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	top := broker.Topology{Providers: []string{"prov"}, RetryDelays: []time.Duration{time.Second},
		StatusQueues: []broker.StatusQueue{{Name: statusQueue, BindingKey: broker.StatusRoutingKey("STORE1")}}}
	pub, ch := onBroker(ctx, t, top, statusQueue)
	r := newRig(t, newScripted("prov", providers.Facts{Idempotent: true}))
	r.pub.failStatus = true
	for _, m := range []struct{ id, store string }{{"req-a", "STORE2"}, {"req-b", "STORE1"}} {
		if err := r.h.HandleSafely(requestMsg(t, m.id, messages.SettlementDebit, map[string]string{HeaderStoreID: m.store})); err == nil {
			t.Fatalf("%s: Handle succeeded although its status could not be published", m.id)
		}
		time.Sleep(5 * time.Millisecond)
	}
	w := r.sweeper(time.Minute)
	w.Pub = pub
	w.Batch = 1
	for round := 1; round <= 3; round++ {
		_, _ = w.Sweep(ctx)
	}
	d, ok, err := ch.Get(statusQueue, true)
	if err != nil {
		t.Fatal(err)
	}
	if !ok || d.Headers[HeaderRequestID] != "req-b" {
		t.Fatalf("STORE1's verdict was not relayed after three rounds (got %v): a batch of refused events ahead of it holds back the outbox", ok)
	}
}
