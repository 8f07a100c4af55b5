package handlers

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// parkAfterFind is a store whose first Find, once it has read the rows,
// lets the sweeper park the settlement it found (where it is, as
// Sweeper.parkStored does) before the status handler goes on: the window
// between the look-up of the unlocked path and its move.
type parkAfterFind struct {
	store.Store
	park func()
	once sync.Once
}

func (p *parkAfterFind) Find(ctx context.Context, corr store.Correlation) ([]store.Settlement, error) {
	rows, err := p.Store.Find(ctx, corr)
	if err == nil && len(rows) > 0 {
		p.once.Do(p.park)
	}
	return rows, err
}

// The status handler's look-up path without the order lock (awaited) read
// the settlement unparked; the sweeper (which takes no order lock) parks
// it before the move. The status must still be recorded as one for a
// parked settlement ("..., after it was parked"): the move compares the
// parking it read, and on the conflict the status is applied under the
// order lock from the row as it is.
func TestLookedUpStatusAfterTheSweeperParkedKeepsTheParkedNote(t *testing.T) {
	for _, backend := range inProcessBackends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			r := newInProcessRig(t, backend)
			r.acknowledge(t, "req-1")
			key := store.Key{Provider: "radial", RequestID: "req-1"}
			ps := r.otherReplica() // no in-process row: the look-up path
			ps.Store = &parkAfterFind{Store: ps.Store, park: func() {
				reason := "no provider status within its deadline"
				if _, _, err := r.other.Transition(ctx, key, []store.State{store.StateAcknowledged}, store.StateAcknowledged,
					store.Change{ParkedReason: &reason, Note: "parked by the sweeper"}, nil); err != nil {
					t.Errorf("park: %v", err)
				}
			}}
			if err := ps.HandleSafely(r.status(t, "req-1", messages.StatusSettled, "", "radial-1", nil)); err != nil {
				t.Fatalf("status handler: %v", err)
			}
			wantEvent(t, r.pub.take(), messages.StatusSettled)
			s := r.get(t, "req-1")
			if s.State != store.StateSettled || s.ParkedReason != "" {
				t.Errorf("req-1 is %s, parked %q: want settled, its parking cleared", s.State, s.ParkedReason)
			}
			if last := r.lastHistory(t, key); last.To != store.StateSettled || last.Note != "provider status S, after it was parked" {
				t.Errorf("last history line %q (→ %s), want %q: the parking was cleared unnoticed",
					last.Note, last.To, "provider status S, after it was parked")
			}
		})
	}
}

// parkBeforeMove is a store that lets the sweeper park the settlement (where
// it is, as Sweeper.parkStored does) just before the first move a provider
// status makes: after every read the status handler made of it.
type parkBeforeMove struct {
	store.Store
	once sync.Once
	err  error
}

func (p *parkBeforeMove) Transition(ctx context.Context, key store.Key, from []store.State, to store.State, ch store.Change, ev *store.StatusEvent) (store.Settlement, *store.StatusEvent, error) {
	if strings.HasPrefix(ch.Note, "provider status") {
		p.once.Do(func() {
			reason := "no provider status within its deadline"
			_, _, p.err = p.Store.Transition(ctx, key, []store.State{store.StateAcknowledged}, store.StateAcknowledged,
				store.Change{ParkedReason: &reason, Note: "parked by the sweeper"}, nil)
		})
	}
	return p.Store.Transition(ctx, key, from, to, ch, ev)
}

// The same window on the path under the order lock, which the sweeper does
// not take: a status matched by a legacy correlation id (a settlement
// recorded before correlation ids were unique) is applied only there. It
// must be recorded as one for a parked settlement too, at once (not handed
// back): the move compares the parking it read, and on the conflict the
// settlement is read again under the lock.
func TestLockedStatusAfterTheSweeperParkedKeepsTheParkedNote(t *testing.T) {
	e := newPSEnv(t)
	s := e.seed(seedSpec{id: "req-A", cc: "cc-A", state: store.StateAcknowledged, legacy: true})
	parker := &parkBeforeMove{Store: e.st}
	e.h.Store = parker
	if err := e.h.HandleSafely(statusSpec{cc: "cc-A", msgID: "radial-1"}.message(t)); err != nil {
		t.Fatalf("status handler: %v", err)
	}
	if parker.err != nil {
		t.Fatalf("park: %v", parker.err)
	}
	got, err := e.st.Get(context.Background(), s.Key)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != store.StateSettled || got.ParkedReason != "" {
		t.Errorf("req-A is %s, parked %q: want settled, its parking cleared", got.State, got.ParkedReason)
	}
	hist, err := e.st.History(context.Background(), s.Key)
	if err != nil {
		t.Fatal(err)
	}
	if last := hist[len(hist)-1]; last.To != store.StateSettled || last.Note != "provider status S, after it was parked" {
		t.Errorf("last history line %q (→ %s), want %q: the parking was cleared unnoticed",
			last.Note, last.To, "provider status S, after it was parked")
	}
	if _, ok := e.get(statusQueue); !ok {
		t.Error("no status event published")
	}
}
