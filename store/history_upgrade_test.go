package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestHistoryMigrationKeepsEveryLineAsItWas: after migration 5, History
// returns for every settlement exactly what the version before it
// returned (From, To, Note, At), whatever the notes hold (every character
// the store accepts: quotes, backslashes, control characters, U+2028,
// U+FFFD, text that looks like a history line, a very long note), at
// microsecond times, for a settlement without lines, one with many, and
// lines whose ids interleave across settlements.
func TestHistoryMigrationKeepsEveryLineAsItWas(t *testing.T) {
	var ctl strings.Builder
	for c := 1; c < 0x20; c++ {
		ctl.WriteByte(byte(c))
	}
	ctl.WriteByte(0x7f)
	notes := []string{
		"",
		"registered",
		`"quoted" \backslash\ \\u0000 \n (literal escapes)`,
		ctl.String(),
		"line\u2028sep\u2029para",
		"bad \uFFFD bytes \uFFFD\uFFFD",
		"é ✓ 😀 <&> </script> \u00a0 \u200b \ufeff",
		`{"from":"settled","to":"refused","note":"x","at":"2000-01-01T00:00:00.000000Z"}` + "\n" + `{"from":`,
		"trailing newline\n",
		"\n",
		"\r\n\r\n",
		" leading and trailing space ",
		"null",
		"123",
		strings.Repeat("a long provider error, ", 10000),
	}
	times := []time.Time{
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 1000, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 999999000, time.UTC),
		time.Date(2025, 12, 31, 23, 59, 59, 123456000, time.UTC),
		time.Date(1999, 6, 30, 12, 0, 0, 500000000, time.UTC),
	}
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			db, dsn := oldSchemaDB(t, kind)
			tm := func(x time.Time) any {
				if kind == "sqlite" {
					return formatTime(x)
				}
				return x
			}
			ids := []string{"none", "few", "many", "odd", "weird id \" ' \\"}
			for _, id := range ids {
				if _, err := db.Exec(`INSERT INTO settlements (provider, request_id, state, created_at, updated_at)
					VALUES ('acme', $1, 'submitting', $2, $2)`, id, tm(times[0])); err != nil {
					t.Fatal(err)
				}
			}
			add := func(id, from, to, note string, at time.Time) {
				t.Helper()
				if _, err := db.Exec(`INSERT INTO settlement_transitions (provider, request_id, from_state, to_state, note, at)
					VALUES ('acme', $1, $2, $3, $4, $5)`, id, from, to, note, tm(at)); err != nil {
					t.Fatal(err)
				}
			}
			// Interleaved ids: every settlement gets a line in turn.
			for i := 0; i < 300; i++ {
				add("many", "submitting", "submitting", fmt.Sprintf("attempt %d", i), times[i%len(times)])
				if i < len(notes) {
					add("odd", "received", "confirming", notes[i], times[i%len(times)])
					add("weird id \" ' \\", "confirming", "submitting", notes[len(notes)-1-i], times[(i+1)%len(times)])
				}
				if i < 3 {
					add("few", "", "received", notes[i], times[i])
				}
			}
			before := map[string][]Transition{}
			for _, id := range ids {
				before[id] = oldHistory(t, db, Key{"acme", id})
			}

			st, err := Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			for _, id := range ids {
				key := Key{"acme", id}
				after, err := st.History(ctx, key)
				if err != nil {
					t.Fatalf("%s: %v", id, err)
				}
				if len(after) != len(before[id]) {
					t.Errorf("%s: %d lines after the migration, %d before", id, len(after), len(before[id]))
					continue
				}
				for i, b := range before[id] {
					a := after[i]
					if a.Key != b.Key || a.From != b.From || a.To != b.To || a.Note != b.Note || !a.At.Equal(b.At) || a.At.Location() != b.At.Location() {
						t.Errorf("%s line %d after the migration:\n got  %q>%q %.80q %s\n want %q>%q %.80q %s",
							id, i, a.From, a.To, a.Note, a.At, b.From, b.To, b.Note, b.At)
					}
				}
			}
		})
	}
}

// testConcurrentMovesKeepOneChain: transitions from any state racing on
// one settlement, through two stores (replicas) on PostgreSQL, some with
// waypoints, some with a status event: every one applies, and the history
// is one chain (each line's from state is the line before's to state),
// with every transition's lines once, together, in order, the last one
// the settlement's state.
func testConcurrentMovesKeepOneChain(e *env) {
	stores := []Store{e.st}
	if e.backend != "sqlite" {
		stores = append(stores, e.open())
	}
	targets := []State{StateConfirming, StateSubmitting, StateAcknowledged, StatePending, StateSettled}
	for round := range 3 {
		key := e.register(sample(fmt.Sprint("chain", round))).Key
		const n = 24
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			ch := Change{Note: fmt.Sprint("worker ", i)}
			if i%4 == 1 {
				ch.Via = []Waypoint{{State: StateConfirmed, Note: fmt.Sprint("via ", i)}}
			}
			var ev *StatusEvent
			if i%3 == 0 {
				ev = &StatusEvent{SettlementStatus: "S", Body: []byte("x")}
			}
			wg.Go(func() {
				<-start
				if _, _, err := stores[i%len(stores)].Transition(e.ctx, key, nil, targets[i%len(targets)], ch, ev); err != nil {
					e.Errorf("worker %d: %v", i, err)
				}
			})
		}
		close(start)
		wg.Wait()
		h := e.history(key)
		seen := map[string]int{}
		for k, tr := range h {
			seen[tr.Note]++
			if k > 0 && tr.From != h[k-1].To {
				e.Errorf("round %d line %d: %s>%s after a line to %s: %s", round, k, tr.From, tr.To, h[k-1].To, states(h))
			}
			if strings.HasPrefix(tr.Note, "via ") && (k+1 == len(h) || h[k+1].Note != "worker "+strings.TrimPrefix(tr.Note, "via ")) {
				e.Errorf("round %d line %d: %q not followed by its transition's line", round, k, tr.Note)
			}
		}
		for i := range n {
			if seen[fmt.Sprint("worker ", i)] != 1 || (i%4 == 1 && seen[fmt.Sprint("via ", i)] != 1) {
				e.Errorf("round %d: worker %d's lines seen %d and %d times: %s", round, i, seen[fmt.Sprint("worker ", i)], seen[fmt.Sprint("via ", i)], states(h))
			}
		}
		if want := 1 + n + (n+2)/4; len(h) != want {
			e.Errorf("round %d: %d lines, want %d", round, len(h), want)
		}
		if got := e.get(key); len(h) > 0 && got.State != h[len(h)-1].To {
			e.Errorf("round %d: state %s, last line to %s", round, got.State, h[len(h)-1].To)
		}
	}
}

func TestConcurrentMovesKeepOneChain(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			e := &env{T: t, backend: b.kind, dsn: b.dsn(t), opts: b.opts, clock: newFakeClock(), ctx: ctx}
			e.st = e.open()
			testConcurrentMovesKeepOneChain(e)
		})
	}
}

// TestPostgresRollingUpgradeKeepsEveryHistoryLine: a replica of the
// version before migration 5 keeps writing history lines to
// settlement_transitions (its transition's statement, simplified) while
// two replicas of this version open at once (one migrates, under the
// advisory lock; the other waits) and then transition the same
// settlements: History has every line written, once.
func TestPostgresRollingUpgradeKeepsEveryHistoryLine(t *testing.T) {
	for round := range 2 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			ctx := context.Background()
			db, dsn := oldSchemaDB(t, "postgres")
			db.SetMaxOpenConns(20)
			var clock atomic.Int64
			base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			now := func() time.Time { return base.Add(time.Duration(clock.Add(1)) * time.Microsecond) }
			ids := []string{"a", "b", "c", "d"}
			for _, id := range ids {
				if _, err := db.Exec(`INSERT INTO settlements (provider, request_id, state, created_at, updated_at) VALUES ('acme', $1, 'submitting', $2, $2)`, id, now()); err != nil {
					t.Fatal(err)
				}
				if _, err := db.Exec(`INSERT INTO settlement_transitions (provider, request_id, from_state, to_state, note, at) VALUES ('acme', $1, '', 'submitting', 'registered', $2)`, id, now()); err != nil {
					t.Fatal(err)
				}
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var mu sync.Mutex
			written := map[string]map[string]bool{}
			for _, id := range ids {
				written[id] = map[string]bool{"registered": true}
			}
			for w := range 8 {
				id := ids[w%len(ids)]
				wg.Go(func() {
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						note := fmt.Sprintf("old %d %d", w, i)
						_, err := db.Exec(`WITH upd AS (UPDATE settlements s SET updated_at = $3 WHERE provider = 'acme' AND request_id = $1 RETURNING s.state)
							INSERT INTO settlement_transitions (provider, request_id, from_state, to_state, note, at) SELECT 'acme', $1, upd.state, upd.state, $2, $3 FROM upd`, id, note, now())
						if err != nil {
							t.Errorf("old replica: %v", err)
							return
						}
						mu.Lock()
						written[id][note] = true
						mu.Unlock()
					}
				})
			}
			time.Sleep(50 * time.Millisecond)
			stores := make([]Store, 2)
			var owg sync.WaitGroup
			for i := range stores {
				owg.Go(func() {
					st, err := Open(ctx, dsn, WithClock(now))
					if err != nil {
						t.Error(err)
						return
					}
					stores[i] = st
				})
			}
			owg.Wait()
			if t.Failed() {
				close(stop)
				wg.Wait()
				return
			}
			for _, st := range stores {
				defer st.Close()
			}
			for i := range 40 {
				id := ids[i%len(ids)]
				note := fmt.Sprint("new ", i)
				if _, _, err := stores[i%2].Transition(ctx, Key{"acme", id}, nil, StateSubmitting, Change{Note: note}, nil); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				written[id][note] = true
				mu.Unlock()
			}
			close(stop)
			wg.Wait()
			for _, id := range ids {
				h, err := stores[0].History(ctx, Key{"acme", id})
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]int{}
				for _, tr := range h {
					got[tr.Note]++
				}
				for n := range written[id] {
					if got[n] != 1 {
						t.Errorf("%s: %q seen %d times", id, n, got[n])
					}
				}
				if len(h) != len(written[id]) {
					t.Errorf("%s: %d lines, %d written", id, len(h), len(written[id]))
				}
			}
		})
	}
}
