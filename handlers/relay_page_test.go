package handlers

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// readCounting is a store that records how many events each outbox read
// returned.
type readCounting struct {
	store.Store
	mu    sync.Mutex
	reads []int
}

func (s *readCounting) Unpublished(ctx context.Context, before time.Time, after store.OutboxCursor, limit int) ([]store.StatusEvent, error) {
	evs, err := s.Store.Unpublished(ctx, before, after, limit)
	s.mu.Lock()
	s.reads = append(s.reads, len(evs))
	s.mu.Unlock()
	return evs, err
}

// The relay read its batch plus every event it had left behind for good
// the round before (refused by the broker, not valid documents): with a
// store whose status queue was unbound for a day, thousands of them, read
// and retried every round — time and memory per round without bound. Each
// round must read at most Batch events, and still reach every unpublished
// event in a bounded number of rounds: the refused ones (each tried again,
// counted "unrelayed") and the verdict recorded after them, whose store's
// queue is bound (real broker, judged from the bound status queue).
func TestRelayReadsAtMostItsBatchAndVisitsEveryEvent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	top := broker.Topology{Providers: []string{"prov"}, RetryDelays: []time.Duration{time.Second},
		StatusQueues: []broker.StatusQueue{{Name: statusQueue, BindingKey: broker.StatusRoutingKey("STORE1")}}}
	pub, ch := onBroker(ctx, t, top, statusQueue)
	r := newRig(t, newScripted("prov", providers.Facts{Idempotent: true}))
	r.pub.failStatus = true
	const refused, batch = 7, 2
	for i := range refused + 1 {
		id, storeID := fmt.Sprintf("req-%d", i), "STORE2"
		if i == refused {
			id, storeID = "req-bound", "STORE1" // the newest
		}
		if err := r.h.HandleSafely(requestMsg(t, id, messages.SettlementDebit, map[string]string{HeaderStoreID: storeID})); err == nil {
			t.Fatalf("%s: Handle succeeded although its status could not be published", id)
		}
		time.Sleep(2 * time.Millisecond)
	}
	counting := &readCounting{Store: r.st}
	w := r.sweeper(time.Minute)
	w.Store = counting
	w.Pub = pub
	w.Batch = batch
	w.Metrics = NewMetrics(prometheus.NewRegistry())
	// Every event in at most ceil((refused+1)/batch) rounds.
	rounds := (refused + 1 + batch - 1) / batch
	relayed := 0
	for range rounds {
		rep, _ := w.Sweep(ctx)
		relayed += rep.Relayed
	}
	counting.mu.Lock()
	reads := counting.reads
	counting.mu.Unlock()
	total := 0
	for i, n := range reads {
		total += n
		if n > batch {
			t.Errorf("outbox read %d returned %d events (reads %v), want at most the batch of %d", i+1, n, reads, batch)
		}
	}
	if total > rounds*batch {
		t.Errorf("%d rounds read %d events (reads %v), want at most %d", rounds, total, reads, rounds*batch)
	}
	if relayed != 1 {
		t.Errorf("relayed %d in %d rounds, want req-bound's verdict", relayed, rounds)
	}
	d, ok, err := ch.Get(statusQueue, true)
	if err != nil {
		t.Fatal(err)
	}
	if !ok || d.Headers[HeaderRequestID] != "req-bound" {
		t.Errorf("STORE1's verdict was not relayed in %d rounds (got %v): the refused events ahead of it hold back the outbox", rounds, ok)
	}
	if v := testutil.ToFloat64(w.Metrics.swept.WithLabelValues("prov", string(store.StateSettled), "unrelayed")); v != refused {
		t.Errorf("settlement_swept_total{action=\"unrelayed\"} = %v after %d rounds, want each of the %d refused events tried once", v, rounds, refused)
	}
}
