package handlers

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// loseFirstMark loses every mark of the first event marked published (a
// Marker's write that failed, a crash before it): the event was confirmed
// by the broker, but the store does not say so.
type loseFirstMark struct {
	store.Store
	mu   sync.Mutex
	lost string
}

func (s *loseFirstMark) MarkPublished(ctx context.Context, id string, at time.Time) error {
	s.mu.Lock()
	if s.lost == "" {
		s.lost = id
	}
	lose := s.lost == id
	s.mu.Unlock()
	if lose {
		return errors.New("mark lost")
	}
	return s.Store.MarkPublished(ctx, id, at)
}

// A settlement's S was confirmed but its mark lost, and its chargeback R
// published and marked: the outbox relay republished the S on its own,
// after the R. A subscriber that no longer remembers the S's message_id
// (the webhook deliverer after a restart, an order system keeping ids for
// a while) applied it and ended at S for a reversed payment. An event whose
// settlement has a later event published is not republished: it is marked
// published (the later events are published after the earlier ones, so it
// went out before them).
func TestRelayDoesNotRepublishAnEventBehindALaterPublishedOne(t *testing.T) {
	ctx := context.Background()
	e := newPSEnv(t)
	e.seed(seedSpec{id: "req-A", cc: "cc-A", state: store.StateAcknowledged})
	lossy := &loseFirstMark{Store: e.st}
	e.h.Store = lossy
	for _, s := range []statusSpec{{cc: e.corr["req-A"], msgID: "m-S"}, {cc: e.corr["req-A"], msgID: "m-R", verdict: messages.StatusRejected, decline: "chargeback"}} {
		if err := e.h.Handle(s.message(t)); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := e.st.Statuses(ctx, store.Key{Provider: "radial", RequestID: "req-A"})
	if err != nil || len(evs) != 2 || evs[0].PublishedAt != nil || evs[1].PublishedAt == nil {
		t.Fatalf("events %+v (%v), want the S unmarked and the R marked published", evs, err)
	}
	for e.drain(statusQueue) {
	}

	w := &Sweeper{Store: e.st, Pub: e.h.Pub, Log: e.h.Log}
	for range 2 {
		if _, err := w.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if d, ok := e.get(statusQueue); ok {
		t.Fatalf("the relay republished the %v event after the R published after it", d.Headers[HeaderSettlementStatus])
	}
	evs, err = e.st.Statuses(ctx, store.Key{Provider: "radial", RequestID: "req-A"})
	if err != nil || evs[0].PublishedAt == nil {
		t.Fatalf("the S %+v (%v), want it marked published: else it is read every round", evs, err)
	}
}
