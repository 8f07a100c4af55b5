package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// WithPoolSize bounds the PostgreSQL sessions the store runs its
// statements on, and the order locks' sessions are apart from them: with
// four order locks held and sixteen writers at once, the database sees at
// most 2 + pgLockSessions sessions of the store. (An unbounded pool opened a session per
// concurrent caller: on a 2-core server, 64 busy sessions burned twice the
// CPU per statement that a few did.)
func TestPostgresStatementSessionsAreBounded(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresDSN(t)
	st, err := Open(ctx, dsn, WithPoolSize(2))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range 4 {
		unlock, err := st.LockOrder(ctx, "radial", "S1", fmt.Sprint("locked-", i))
		if err != nil {
			t.Fatal(err)
		}
		defer unlock()
	}
	observer, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer observer.Close()
	var peak int
	var mu sync.Mutex
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			var n int
			// Every session on this database but the observer's own.
			if err := observer.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n); err == nil {
				mu.Lock()
				peak = max(peak, n)
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 10 {
				id := fmt.Sprintf("pool-%d-%d", i, j)
				s, _, err := st.Register(ctx, sample(id))
				if err == nil {
					_, _, err = st.Transition(ctx, s.Key, nil, StateConfirming, Change{Note: "confirming"}, nil)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-watched
	if peak > 2+pgLockSessions {
		t.Errorf("the database saw %d sessions of a store with WithPoolSize(2) holding 4 order locks; want at most %d", peak, 2+pgLockSessions)
	}
	if peak == 0 {
		t.Error("the observer saw no session")
	}
}

// With one statement session, a holder of an order lock still runs its
// statements (the lock's session is not the pool's), and CheckLock still
// reads its own session: nothing waits for a second pool session while
// holding the first.
func TestPostgresPoolOfOneWithOrderLocksHeld(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := Open(ctx, testenv.PostgresDSN(t), WithPoolSize(1))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			order := fmt.Sprint("O", i)
			unlock, err := st.LockOrder(ctx, "radial", "S1", order)
			if err != nil {
				t.Error(err)
				return
			}
			defer unlock()
			in := sample(fmt.Sprint("one-", i))
			in.OrderID = order
			s, _, err := st.Register(ctx, in)
			if err == nil {
				err = st.CheckLock(ctx, "radial", "S1", order)
			}
			if err == nil {
				_, _, err = st.Transition(ctx, s.Key, []State{StateReceived}, StateSettled, Change{Note: "done"},
					&StatusEvent{DedupKey: "final", MessageID: "m-one-" + order, SettlementStatus: "S"})
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}
