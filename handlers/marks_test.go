package handlers

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// markCounter counts the store's publish marks.
type markCounter struct {
	store.Store
	single, many atomic.Int64
}

func (c *markCounter) MarkPublished(ctx context.Context, id string, at time.Time) error {
	c.single.Add(1)
	return c.Store.MarkPublished(ctx, id, at)
}

func (c *markCounter) MarkPublishedMany(ctx context.Context, ids []string, at time.Time) (int, error) {
	c.many.Add(1)
	return c.Store.MarkPublishedMany(ctx, ids, at)
}

// unpublished is how many recorded events are not marked published.
func unpublished(t *testing.T, st store.Store) int {
	t.Helper()
	evs, err := st.Unpublished(context.Background(), time.Now().Add(time.Hour), store.OutboxCursor{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

// With a Marker, a confirmed status event is marked off the hot path: the
// handler makes no store write for the mark (it is queued and written in a
// batch), the event stays in the outbox until the batch is written, and the
// relay of this process flushes the marks before reading the outbox, so
// that an event confirmed but not yet marked is never relayed as lost.
func TestPublishedEventsAreMarkedThroughTheMarker(t *testing.T) {
	cases := []struct {
		name string
		// sweepAfter: how long after the settlement the sweeper looks.
		sweepAfter time.Duration
	}{
		{"the sweeper looks within OUTBOX_RELAY_AFTER", 0},
		{"the sweeper looks past OUTBOX_RELAY_AFTER", time.Hour},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, newScripted("prov", providers.Facts{}))
			counter := &markCounter{Store: r.st}
			marks := store.NewMarker(counter, store.MarkerOptions{Linger: time.Hour})
			t.Cleanup(func() { _ = marks.Close() })
			r.h.Store, r.h.Marks = counter, marks
			for _, id := range []string{"req-1", "req-2", "req-3"} {
				r.deliver(t, requestMsg(t, id, messages.SettlementDebit, nil))
			}
			if n := len(r.pub.take()); n != 3 {
				t.Fatalf("%d messages published, want 3 status events", n)
			}
			if s, m := counter.single.Load(), counter.many.Load(); s != 0 || m != 0 {
				t.Errorf("handlers wrote %d single and %d batched marks, want none yet (queued)", s, m)
			}
			if n := unpublished(t, r.st); n != 3 {
				t.Errorf("%d events unpublished before the marks are written, want 3", n)
			}
			w := r.sweeper(c.sweepAfter)
			w.Store, w.Marks = counter, marks
			rep, err := w.Sweep(context.Background())
			if err != nil || rep.Relayed != 0 {
				t.Errorf("sweep %+v, %v: want nothing relayed (the marks were only queued)", rep, err)
			}
			if msgs := r.pub.take(); len(msgs) != 0 {
				t.Errorf("the sweep published %d messages, want none", len(msgs))
			}
			if n := unpublished(t, r.st); n != 0 {
				t.Errorf("%d events unpublished after the sweep, want 0", n)
			}
			if m := counter.many.Load(); m != 1 {
				t.Errorf("%d batched mark writes, want 1 for the three events", m)
			}
		})
	}
}
