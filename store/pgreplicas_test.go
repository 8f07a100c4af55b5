package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// openReplicaStores opens two stores on one fresh PostgreSQL database, as
// two replicas do.
func openReplicaStores(t *testing.T) (a, b Store, raw *sql.DB) {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	ctx := context.Background()
	var err error
	if a, err = Open(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if b, err = Open(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return a, b, a.(*sqlStore).db
}

// Two replicas' compare-and-sets on one settlement, interleaved with a
// third transaction that holds the row (FOR UPDATE) and changes it: each
// replica's statement waits for it, and under READ COMMITTED must compare
// the row as that transaction committed it, not its own snapshot's.
func TestPostgresReplicasCompareAndSetAfterAConcurrentCommit(t *testing.T) {
	a, b, raw := openReplicaStores(t)
	ctx := context.Background()
	type move struct {
		from   []State
		to     State
		ch     Change
		status string // "" none
	}
	s := func(st State) []State { return []State{st} }
	for _, tc := range []struct {
		name      string
		commit    string // the interleaved transaction's update
		a, b      move
		wantState []State
		wantWins  int
	}{
		{"verdicts after an acknowledgement", `state = 'acknowledged'`,
			move{awaitingStates, StateSettled, Change{}, "S"}, move{awaitingStates, StateRefused, Change{}, "R"}, []State{StateSettled, StateRefused}, 1},
		{"verdicts after a verdict", `state = 'refused'`,
			move{awaitingStates, StateSettled, Change{}, "S"}, move{awaitingStates, StateSettled, Change{}, "S"}, []State{StateRefused}, 0},
		{"new calls after another call", `refs = '{"call_sent_at":"t1"}'`,
			move{s(StateSubmitting), StateSubmitting, Change{IfRefs: map[string]string{"call_sent_at": "t0"}, Refs: map[string]string{"call_sent_at": "ta"}}, ""},
			move{s(StateSubmitting), StateSubmitting, Change{IfRefs: map[string]string{"call_sent_at": "t0"}, Refs: map[string]string{"call_sent_at": "tb"}}, ""},
			[]State{StateSubmitting}, 0},
		{"new calls after nothing relevant", `attempts = attempts + 1`,
			move{s(StateSubmitting), StateSubmitting, Change{IfRefs: map[string]string{"call_sent_at": "t0"}, Refs: map[string]string{"call_sent_at": "ta"}}, ""},
			move{s(StateSubmitting), StateSubmitting, Change{IfRefs: map[string]string{"call_sent_at": "t0"}, Refs: map[string]string{"call_sent_at": "tb"}}, ""},
			[]State{StateSubmitting}, 1},
		// A call's answer compares the attempt count it read (IfAttempts,
		// $15): another delivery's attempt committed while it waited is
		// the newest row's, so neither answer is recorded.
		{"answers after another attempt", `attempts = attempts + 1`,
			move{s(StateSubmitting), StateRefused, Change{IfRefs: map[string]string{"call_sent_at": "t0"}, IfAttempts: 1}, "R"},
			move{s(StateSubmitting), StateSettled, Change{IfRefs: map[string]string{"call_sent_at": "t0"}, IfAttempts: 1}, "S"},
			[]State{StateSubmitting}, 0},
		{"answers after nothing relevant", `refs = '{"call_sent_at":"t0","x":"y"}'`,
			move{s(StateSubmitting), StateRefused, Change{IfRefs: map[string]string{"call_sent_at": "t0"}, IfAttempts: 1}, "R"},
			move{s(StateSubmitting), StateSettled, Change{IfRefs: map[string]string{"call_sent_at": "t0"}, IfAttempts: 1}, "S"},
			[]State{StateSettled, StateRefused}, 1},
		// A verdict applied from a copy of the row compares the parking
		// (IfNotParked, $16): the sweeper's parking committed while it
		// waited (the state unchanged) is the newest row's, so neither
		// verdict is recorded; without a parking one is.
		{"verdicts from a copy after a parking", `state = 'acknowledged', parked_reason = 'sent no status within 1h'`,
			move{awaitingStates, StateSettled, Change{IfNotParked: true, ParkedReason: ptr("")}, "S"},
			move{awaitingStates, StateRefused, Change{IfNotParked: true, ParkedReason: ptr("")}, "R"},
			[]State{StateAcknowledged}, 0},
		{"verdicts from a copy after nothing relevant", `state = 'acknowledged'`,
			move{awaitingStates, StateSettled, Change{IfNotParked: true, ParkedReason: ptr("")}, "S"},
			move{awaitingStates, StateRefused, Change{IfNotParked: true, ParkedReason: ptr("")}, "R"},
			[]State{StateSettled, StateRefused}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for round := range 5 {
				id := fmt.Sprintf("%s-%d", tc.name, round)
				in := sample(id)
				if _, _, err := a.RegisterMoving(ctx, in, StateSubmitting, Change{IncAttempts: true, Refs: map[string]string{"call_sent_at": "t0"}}); err != nil {
					t.Fatal(err)
				}
				tx, err := raw.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tx.ExecContext(ctx, `SELECT 1 FROM settlements WHERE provider = $1 AND request_id = $2 FOR UPDATE`, in.Provider, in.RequestID); err != nil {
					t.Fatal(err)
				}
				if _, err := tx.ExecContext(ctx, `UPDATE settlements SET `+tc.commit+` WHERE provider = $1 AND request_id = $2`, in.Provider, in.RequestID); err != nil {
					t.Fatal(err)
				}
				var wg sync.WaitGroup
				errs := make([]error, 2)
				for i, m := range []move{tc.a, tc.b} {
					st := []Store{a, b}[i]
					wg.Go(func() {
						var ev *StatusEvent
						if m.status != "" {
							ev = &StatusEvent{SettlementStatus: m.status, Body: []byte(m.status), DedupKey: fmt.Sprint("d", i)}
						}
						_, _, errs[i] = st.Transition(ctx, in.Key, m.from, m.to, m.ch, ev)
					})
				}
				time.Sleep(200 * time.Millisecond) // both statements wait on the row
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
				wg.Wait()
				wins := 0
				for i, err := range errs {
					switch {
					case err == nil:
						wins++
					case !errors.Is(err, ErrStateConflict):
						t.Fatalf("replica %d: %v", i, err)
					}
				}
				got, err := a.Get(ctx, in.Key)
				if err != nil {
					t.Fatal(err)
				}
				evs, err := a.Statuses(ctx, in.Key)
				if err != nil {
					t.Fatal(err)
				}
				if wins != tc.wantWins || !slices.Contains(tc.wantState, got.State) {
					t.Fatalf("round %d: %d moves won (%v), state %s refs %v; want %d, %v", round, wins, errs, got.State, got.Refs, tc.wantWins, tc.wantState)
				}
				if want := min(wins, 1); tc.a.status != "" && len(evs) != want {
					t.Fatalf("round %d: %d events %+v, want %d", round, len(evs), evs, want)
				}
				if len(evs) == 1 && string(evs[0].SettlementStatus) != map[State]string{StateSettled: "S", StateRefused: "R"}[got.State] {
					t.Fatalf("round %d: state %s with event %s", round, got.State, evs[0].SettlementStatus)
				}
			}
		})
	}
}

var awaitingStates = []State{StateSubmitting, StateAcknowledged}
