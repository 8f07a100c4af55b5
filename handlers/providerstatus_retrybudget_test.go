package handlers

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/store"
)

// failingTransitions is a store that answers (its Ping) but refuses every
// transition, as a store does whose row breaks a constraint or trigger.
type failingTransitions struct {
	store.Store
	runs atomic.Int64
}

func (r *failingTransitions) Transition(context.Context, store.Key, []store.State, store.State, store.Change, *store.StatusEvent) (store.Settlement, *store.StatusEvent, error) {
	r.runs.Add(1)
	return store.Settlement{}, nil, errors.New("CHECK constraint failed: settlements")
}

// A provider status whose every run fails while the store answers (here
// the store refuses its transition) was handed back in-process by the
// keyed subscriber without bound: the delivery stayed unacked for ever
// (until the broker's consumer_timeout closed the channel and it came
// back, to fail again), holding back every later status of its order,
// never parked, counted by nothing. It must end in the parked queue with
// a reason naming the failure, after its retry budget (real broker).
// A failure while the store does not answer stays on the store-outage
// hold (TestStoreOutage*), never counted here.
func TestProviderStatusFailingEveryRunIsParkedAfterItsBudget(t *testing.T) {
	e := newPSEnv(t)
	e.seed(seedSpec{id: "req-A", cc: "cc-A", state: store.StateAcknowledged})
	refusing := &failingTransitions{Store: e.st}
	e.h.Store = refusing
	e.h.RetryRuns, e.h.RetryFor = 3, time.Hour
	e.h.Outage = &StoreOutage{Hold: time.Minute, MaxBackoff: 100 * time.Millisecond, Ping: func(context.Context) error { return nil }}
	parked := broker.ProviderStatusParkedQueue("radial")
	e.drain(parked)

	const q = "statuses-failing-every-run"
	url, ch := quorumQueue(t, q)
	if _, err := ch.QueuePurge(q, false); err != nil {
		t.Fatal(err)
	}
	in := statusSpec{cc: e.corr["req-A"], msgID: "ps-fail-1"}.message(t)
	p, err := broker.Marshaler{}.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Publish("", q, false, false, p); err != nil {
		t.Fatal(err)
	}
	sub := &broker.KeyedSubscriber{URL: url, N: 2, Passive: true, DrainTimeout: 5 * time.Second, Log: zerolog.Nop(), Key: StatusOrderKey}
	msgs, err := sub.Subscribe(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	limit := 20 * time.Second
	if raceEnabled {
		limit = 40 * time.Second
	}
	deadline := time.After(limit)
	for acked := false; !acked; {
		var m *message.Message
		select {
		case m = <-msgs:
		case <-deadline:
			t.Fatalf("still unacked after %s and %d failed runs: the status is handed back for ever, never parked", limit, refusing.runs.Load())
		}
		if err := e.h.HandleSafely(m); err != nil {
			m.Nack()
			continue
		}
		m.Ack()
		acked = true
	}
	d, ok := e.get(parked)
	if !ok {
		t.Fatalf("acked after %d runs, but nothing in %s: the status is lost", refusing.runs.Load(), parked)
	}
	reason, _ := d.Headers[HeaderParkedReason].(string)
	if !strings.Contains(reason, "CHECK constraint failed") || !strings.Contains(reason, "purge") {
		t.Errorf("parked reason %q: want the failure named and what to do", reason)
	}
	if n := refusing.runs.Load(); n != 3 {
		t.Errorf("%d runs, want 3 (RetryRuns)", n)
	}
	if s, err := e.st.Get(context.Background(), store.Key{Provider: "radial", RequestID: "req-A"}); err != nil || s.State != store.StateAcknowledged {
		t.Errorf("req-A %s (%v), want still acknowledged", s.State, err)
	}
}

// downThenUp fails transitions while down is set, as a store that does
// not answer.
type downThenUp struct {
	store.Store
	down atomic.Bool
}

func (d *downThenUp) Transition(ctx context.Context, k store.Key, from []store.State, to store.State, ch store.Change, ev *store.StatusEvent) (store.Settlement, *store.StatusEvent, error) {
	if d.down.Load() {
		return store.Settlement{}, nil, errors.New("dial tcp: connection refused")
	}
	return d.Store.Transition(ctx, k, from, to, ch, ev)
}

// The retry budget counts only runs that failed while the store answered:
// a status whose runs fail because the store is down is held (the
// store-outage path) and applied once it answers, even with a budget of
// one run.
func TestProviderStatusRetryBudgetLeavesAStoreOutageToTheHold(t *testing.T) {
	e := newPSEnv(t)
	e.seed(seedSpec{id: "req-A", cc: "cc-A", state: store.StateAcknowledged})
	e.drain(broker.ProviderStatusParkedQueue("radial"))
	st := &downThenUp{Store: e.st}
	st.down.Store(true)
	e.h.Store = st
	e.h.RetryRuns = 1
	e.h.Outage = &StoreOutage{Hold: time.Minute, MaxBackoff: 50 * time.Millisecond, Ping: func(context.Context) error {
		if st.down.Load() {
			return errors.New("connection refused")
		}
		return nil
	}}
	time.AfterFunc(500*time.Millisecond, func() { st.down.Store(false) })
	if err := e.h.HandleSafely(statusSpec{cc: e.corr["req-A"], msgID: "ps-outage-1"}.message(t)); err != nil {
		t.Fatalf("HandleSafely: %v", err)
	}
	if _, ok := e.get(broker.ProviderStatusParkedQueue("radial")); ok {
		t.Error("parked during a store outage: it belongs to the hold")
	}
	if s, err := e.st.Get(context.Background(), store.Key{Provider: "radial", RequestID: "req-A"}); err != nil || s.State != store.StateSettled {
		t.Errorf("req-A %s (%v), want settled once the store answered", s.State, err)
	}
}

// flappingStore is a store whose transition fails once while it still
// answers (a failover beginning: the handler's session cut, the ping's
// new one through), then does not answer while down is set, then fails
// once more on its first transition after it answers again (a pooled
// session of before the outage), then works.
type flappingStore struct {
	store.Store
	down     atomic.Bool
	failNext atomic.Bool
}

func (f *flappingStore) Transition(ctx context.Context, k store.Key, from []store.State, to store.State, ch store.Change, ev *store.StatusEvent) (store.Settlement, *store.StatusEvent, error) {
	if f.down.Load() {
		return store.Settlement{}, nil, errors.New("dial tcp: connection refused")
	}
	if f.failNext.Swap(false) {
		return store.Settlement{}, nil, errors.New("unexpected EOF")
	}
	return f.Store.Transition(ctx, k, from, to, ch, ev)
}

// The time a status spends held while the store does not answer is the
// store-outage path's (STORE_OUTAGE_HOLD), not its retry budget's: a
// status that failed once as the store went away, was held through an
// outage longer than RetryFor, and failed once more as the store came
// back (two failed runs) was parked as "failed on each of its 2 runs
// over ... while the store answered", the store having answered for a
// moment only.
func TestProviderStatusRetryBudgetDoesNotCountTheTimeHeld(t *testing.T) {
	e := newPSEnv(t)
	e.seed(seedSpec{id: "req-A", cc: "cc-A", state: store.StateAcknowledged})
	parked := broker.ProviderStatusParkedQueue("radial")
	e.drain(parked)
	st := &flappingStore{Store: e.st}
	e.h.Store = st
	e.h.RetryRuns, e.h.RetryFor = 40, time.Second
	e.h.Outage = &StoreOutage{Hold: time.Minute, MaxBackoff: 50 * time.Millisecond, Ping: func(context.Context) error {
		if st.down.Load() {
			return errors.New("connection refused")
		}
		return nil
	}}
	msg := statusSpec{cc: e.corr["req-A"], msgID: "ps-flap-1"}.message(t)

	// Run 1: fails while the store still answers (counted).
	st.failNext.Store(true)
	if err := e.h.HandleSafely(msg); err == nil {
		t.Fatal("first run: want its failure handed back")
	}
	// Run 2: the store is down for twice RetryFor, then fails once more.
	st.down.Store(true)
	time.AfterFunc(2*time.Second, func() { st.failNext.Store(true); st.down.Store(false) })
	err := e.h.HandleSafely(msg)
	if d, ok := e.get(parked); ok {
		t.Fatalf("parked after two failed runs separated by a store outage: %v", d.Headers[HeaderParkedReason])
	}
	if err == nil {
		t.Fatal("second run: want its failure (after the hold) handed back")
	}
	// Run 3: the store works.
	if err := e.h.HandleSafely(msg); err != nil {
		t.Fatalf("third run: %v", err)
	}
	if s, err := e.st.Get(context.Background(), store.Key{Provider: "radial", RequestID: "req-A"}); err != nil || s.State != store.StateSettled {
		t.Errorf("req-A %s (%v), want settled once the store answered", s.State, err)
	}
}
