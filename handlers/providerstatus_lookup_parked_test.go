package handlers

import (
	"context"
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
			hist, err := r.st.History(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if last := hist[len(hist)-1]; last.To != store.StateSettled || last.Note != "provider status S, after it was parked" {
				t.Errorf("last history line %q (→ %s), want %q: the parking was cleared unnoticed",
					last.Note, last.To, "provider status S, after it was parked")
			}
		})
	}
}
