package handlers

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
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
	u := testenv.AMQPURL(t)
	pub, err := broker.NewPublisher(ctx, u, 2, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	conn, err := pub.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Only STORE1's statuses are bound; STORE2's verdict is unroutable.
	top := broker.Topology{Providers: []string{"prov"}, RetryDelays: []time.Duration{time.Second},
		StatusQueues: []broker.StatusQueue{{Name: statusQueue, BindingKey: broker.StatusRoutingKey("STORE1")}}}
	if err := top.Declare(conn); err != nil {
		t.Fatal(err)
	}
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
}
