package worker

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/settlement-worker/settlement-worker/store"
)

// The order-lock sessions' counters read the store's LockStats at scrape
// time, each its own value.
func TestLockStatsMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	registerLockStats(reg, func() store.LockCounts {
		return store.LockCounts{Opened: 5, Ended: 1, Statements: 300, Requests: 900}
	})
	want := `
# HELP settlement_store_lock_sessions_ended_total PostgreSQL order-lock sessions that ended while the worker ran (dropped, terminated, a failed or timed-out statement, a reset): each released every order lock on it, and its holders retried before any provider call.
# TYPE settlement_store_lock_sessions_ended_total counter
settlement_store_lock_sessions_ended_total 1
# HELP settlement_store_lock_sessions_opened_total PostgreSQL sessions opened to hold order locks (2 per replica, and one for each that ended).
# TYPE settlement_store_lock_sessions_opened_total counter
settlement_store_lock_sessions_opened_total 5
# HELP settlement_store_lock_statements_total Statements the PostgreSQL order-lock sessions ran; each serves the locks, unlocks and checks queued meanwhile.
# TYPE settlement_store_lock_statements_total counter
settlement_store_lock_statements_total 300
# HELP settlement_store_lock_requests_total Order-lock requests (lock tries, unlocks, checks) the PostgreSQL sessions served; divided by settlement_store_lock_statements_total, the mean batch.
# TYPE settlement_store_lock_requests_total counter
settlement_store_lock_requests_total 900
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}
