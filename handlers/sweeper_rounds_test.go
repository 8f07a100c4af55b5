package handlers

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// Nothing showed whether the sweeper ran: a round that failed, timed out
// or was skipped (another replica holds the sweep lock) left no trace but
// a log line, so a sweeper stopped on every replica (a store that fails
// each round, a lock never released) went unseen while the outbox, the
// overdue verdicts and the stuck settlements waited. Each round is counted
// by outcome (settlement_sweeper_rounds_total) and a completed one sets
// settlement_sweeper_last_completed_timestamp_seconds, the series
// SettlementSweeperNotRunning reads.
func TestSweepRoundsAreCountedByOutcome(t *testing.T) {
	for _, c := range []struct {
		name, want string
		setup      func(t *testing.T, w *Sweeper, st store.Store)
	}{
		{"completed", "completed", func(*testing.T, *Sweeper, store.Store) {}},
		{"a step fails", "failed", func(_ *testing.T, w *Sweeper, _ store.Store) { w.Store = failingOutbox{w.Store} }},
		{"a step hangs past the deadline", "timed_out", func(_ *testing.T, w *Sweeper, _ store.Store) {
			w.Store = hungOutbox{w.Store}
			w.RoundTimeout = 100 * time.Millisecond
		}},
		{"another replica holds the lock", "skipped", func(t *testing.T, _ *Sweeper, st store.Store) {
			unlock, err := st.LockOrder(context.Background(), "sweeper", "", "round")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(unlock)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, newScripted("prov", providers.Facts{}))
			w := r.sweeper(time.Minute)
			w.Metrics = NewMetrics(prometheus.NewRegistry())
			c.setup(t, w, r.st)
			before := time.Now()
			_, _ = w.Sweep(context.Background())
			for _, o := range SweepOutcomes {
				want := 0.0
				if o == c.want {
					want = 1
				}
				if v := testutil.ToFloat64(w.Metrics.rounds.WithLabelValues(o)); v != want {
					t.Errorf("settlement_sweeper_rounds_total{outcome=%q} = %v, want %v", o, v, want)
				}
			}
			last := testutil.ToFloat64(w.Metrics.lastRound)
			if c.want == "completed" {
				if last < float64(before.Unix()) || last > float64(time.Now().Unix()) {
					t.Errorf("settlement_sweeper_last_completed_timestamp_seconds = %v, want the round's time (%d)", last, before.Unix())
				}
			} else if last != 0 {
				t.Errorf("settlement_sweeper_last_completed_timestamp_seconds = %v after a round %s, want 0", last, c.want)
			}
		})
	}
}
