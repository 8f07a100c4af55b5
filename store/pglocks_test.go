package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// advisoryHolders counts, on the test database, the order-lock keys held
// and the sessions holding them.
func advisoryHolders(t *testing.T, st *sqlStore) (keys, sessions int) {
	t.Helper()
	db := st.db
	if err := db.QueryRowContext(context.Background(), `SELECT count(*), count(DISTINCT pid) FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 1 AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&keys, &sessions); err != nil {
		t.Fatal(err)
	}
	return keys, sessions
}

// openLockTestStore opens a PostgreSQL store on a new database, closed when
// the test ends; sessions > 0 holds its order locks on that many sessions
// instead of pgLockSessions.
func openLockTestStore(t *testing.T, sessions int) *sqlStore {
	t.Helper()
	st, err := Open(context.Background(), testenv.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := st.(*sqlStore)
	if sessions > 0 {
		s.pglOnce.Do(func() { s.pgl = newPgLocks(s.lockSessions(), sessions) })
	}
	return s
}

// Order locks are held on a few sessions, not one each: a session per lock
// put a round trip per lock, check and unlock on its own connection (six
// per Radial settlement, about a fifth of the worker's CPU on PostgreSQL)
// and kept a backend per order held.
func TestPostgresOrderLocksShareAFewSessions(t *testing.T) {
	ctx := context.Background()
	st := openLockTestStore(t, 0)
	var unlocks []func()
	for i := range 20 {
		unlock, err := st.LockOrder(ctx, "radial", "S1", fmt.Sprint("shared-", i))
		if err != nil {
			t.Fatal(err)
		}
		unlocks = append(unlocks, unlock)
	}
	keys, sessions := advisoryHolders(t, st)
	if keys != 20 {
		t.Fatalf("%d order locks held in pg_locks, want 20", keys)
	}
	if sessions > pgLockSessions {
		t.Errorf("20 order locks held on %d sessions, want at most %d", sessions, pgLockSessions)
	}
	for i, unlock := range unlocks {
		if err := st.CheckLock(ctx, "radial", "S1", fmt.Sprint("shared-", i)); err != nil {
			t.Errorf("CheckLock of a held lock: %v", err)
		}
		unlock()
	}
	if keys, _ := advisoryHolders(t, st); keys != 0 {
		t.Errorf("%d order locks still held after every unlock", keys)
	}
	// 20 locks, 20 checks and 20 unlocks, in at most as many statements.
	c := st.LockStats()
	if c.Opened < 1 || c.Opened > pgLockSessions || c.Ended != 0 || c.Requests != 60 || c.Statements < 1 || c.Statements > c.Requests {
		t.Errorf("LockStats = %+v; want Opened 1–%d, Ended 0, Statements 1–60, Requests 60", c, pgLockSessions)
	}
}

// A holder whose context ends while it checks its lock does not end the
// session the other holders share (pgx closes a connection whose
// statement's context is cancelled: the statements run on a context of
// their own).
func TestPostgresCancelledCheckLeavesTheSharedSession(t *testing.T) {
	ctx := context.Background()
	st := openLockTestStore(t, 1)
	unlockA, err := st.LockOrder(ctx, "radial", "S1", "A")
	if err != nil {
		t.Fatal(err)
	}
	defer unlockA()
	unlockB, err := st.LockOrder(ctx, "radial", "S1", "B")
	if err != nil {
		t.Fatal(err)
	}
	defer unlockB()
	for range 50 {
		cctx, cancel := context.WithCancel(ctx)
		go cancel()
		_ = st.CheckLock(cctx, "radial", "S1", "A")
	}
	if err := st.CheckLock(ctx, "radial", "S1", "B"); err != nil {
		t.Fatalf("B's lock after A's cancelled checks: %v", err)
	}
	if err := st.CheckLock(ctx, "radial", "S1", "A"); err != nil {
		t.Fatalf("A's lock after its cancelled checks: %v", err)
	}
}

// LockOrder calls whose context ends at random moments (before the
// request is sent, while it is in flight, after the lock was taken) leave
// no lock held: a lock taken for a caller that gave up is released.
func TestPostgresAbandonedLocksAreReleased(t *testing.T) {
	ctx := context.Background()
	st := openLockTestStore(t, 0)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, time.Duration(rand.N(2000))*time.Microsecond)
			defer cancel()
			if unlock, err := st.LockOrder(cctx, "radial", "S1", fmt.Sprint("abandoned-", i%20)); err == nil {
				unlock()
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for {
		keys, _ := advisoryHolders(t, st)
		if keys == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d order locks still held after every caller gave up or unlocked", keys)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Every order can still be taken.
	for i := range 20 {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		unlock, err := st.LockOrder(lctx, "radial", "S1", fmt.Sprint("abandoned-", i))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		unlock()
	}
}

// When the session shared by several holders ends, every one of them sees
// its lock lost, their unlocks return, and new locks are taken on a new
// session.
func TestPostgresEndedSharedSessionLosesEveryLockOnIt(t *testing.T) {
	ctx := context.Background()
	st := openLockTestStore(t, 1)
	var unlocks []func()
	for i := range 3 {
		unlock, err := st.LockOrder(ctx, "radial", "S1", fmt.Sprint("ended-", i))
		if err != nil {
			t.Fatal(err)
		}
		unlocks = append(unlocks, unlock)
	}
	if _, err := st.db.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'
		AND objsubid = 1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := st.CheckLock(ctx, "radial", "S1", fmt.Sprint("ended-", i)); !errors.Is(err, ErrLockLost) {
			t.Errorf("holder %d: CheckLock after its session ended = %v, want ErrLockLost", i, err)
		}
	}
	if c := st.LockStats(); c.Ended != 1 {
		t.Errorf("LockStats: %d sessions ended, want 1", c.Ended)
	}
	done := make(chan struct{})
	go func() {
		for _, unlock := range unlocks {
			unlock()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("unlocks on an ended session do not return")
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	unlock, err := st.LockOrder(lctx, "radial", "S1", "ended-0")
	if err != nil {
		t.Fatalf("a lock after the shared session ended: %v", err)
	}
	if err := st.CheckLock(ctx, "radial", "S1", "ended-0"); err != nil {
		t.Fatalf("CheckLock on the new session: %v", err)
	}
	unlock()
}

// A lock session that ended (terminated, a failover) is opened again even
// when connecting takes longer than a caller waits for its lock (a
// request waits ORDER_LOCK_WAIT, 250 ms by default, the sweeper 200 ms;
// TCP, TLS and authentication to a server a few milliseconds away take
// several round trips): the opening runs on a context of its own, and a
// later caller finds the session. Opened on each caller's context, it was
// cancelled with every caller, and every order on that session was
// deferred as "busy" for ever.
func TestPostgresLockSessionReopensWhenConnectingOutlastsALockWait(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresDSN(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	var delay atomic.Int64 // connecting's latency
	var d net.Dialer
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		select {
		case <-time.After(time.Duration(delay.Load())):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return d.DialContext(ctx, network, addr)
	}
	lockDB := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { lockDB.Close() }) // after the store's Close
	st, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := st.(*sqlStore)
	s.pglOnce.Do(func() { s.pgl = newPgLocks(lockDB, 1) })

	unlock, err := s.LockOrder(ctx, "miva", "S1", "O1")
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	var ended int
	if err := s.db.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%`+LockSessionSetting+`%'`).Scan(&ended); err != nil {
		t.Fatal(err)
	}
	if ended != 1 {
		t.Fatalf("%d lock sessions terminated, want 1", ended)
	}
	delay.Store(int64(400 * time.Millisecond))
	var errs []error
	for range 20 {
		lctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		unlock, err := s.LockOrder(lctx, "miva", "S1", "O1")
		cancel()
		if err == nil {
			if err := s.CheckLock(ctx, "miva", "S1", "O1"); err != nil {
				t.Fatalf("CheckLock on the session opened again: %v", err)
			}
			unlock()
			return
		}
		errs = append(errs, err)
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no order lock in 20 waits of 250 ms after the lock session ended (connecting takes 400 ms); last error: %v", errs[len(errs)-1])
}

// A lock session whose connection dies on the way (a NAT or load
// balancer dropping the flow) is ended by the worker, whose holders see
// their locks lost. The server's backend is left running, idle, holding
// those order locks, until its TCP keepalive gives up (hours by default):
// meanwhile no replica can take those orders, and every delivery of them
// is deferred as "busy".
func TestPostgresLockSessionCutOnTheWayFreesItsOrders(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresDSN(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.PostgresProxy(t, dsn, testenv.ServerStays)
	var d net.Dialer
	cfg.DialFunc = func(ctx context.Context, _, _ string) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", proxy.Addr())
	}
	lockDB := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { lockDB.Close() })
	stA, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stA.Close() })
	sA := stA.(*sqlStore)
	sA.pglOnce.Do(func() { sA.pgl = newPgLocks(lockDB, 1) })
	stB, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stB.Close() })

	// Orders whose keys are negative and positive (pg_locks shows a key
	// as two unsigned halves).
	var orders []string
	var neg, pos bool
	for i := 0; len(orders) < 6 || !neg || !pos; i++ {
		o := fmt.Sprint("cut-", i)
		orders = append(orders, o)
		k := lockKey("miva", "S1", o)
		neg, pos = neg || k < 0, pos || k > 0
	}
	var unlocks []func()
	for _, o := range orders {
		unlock, err := sA.LockOrder(ctx, "miva", "S1", o)
		if err != nil {
			t.Fatal(err)
		}
		unlocks = append(unlocks, unlock)
	}
	proxy.Cut()
	for _, o := range orders {
		if err := sA.CheckLock(ctx, "miva", "S1", o); !errors.Is(err, ErrLockLost) {
			t.Fatalf("CheckLock of %s after the connection died = %v, want ErrLockLost", o, err)
		}
	}
	for _, unlock := range unlocks {
		unlock()
	}
	for _, o := range orders {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		unlockB, err := stB.LockOrder(lctx, "miva", "S1", o)
		cancel()
		if err != nil {
			t.Fatalf("the other replica cannot take order %s, whose lock replica A lost: %v", o, err)
		}
		unlockB()
	}
}
