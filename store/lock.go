package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"hash/fnv"
	"math/rand/v2"
	"sync"
	"time"
)

// keyedMutex is a set of mutexes created on demand, one per key, that
// honour context cancellation while waiting. An entry lives in the map only
// while someone holds or waits for its key.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	ch   chan struct{} // holds a token while the key is locked
	refs int           // holders and waiters
}

// lock blocks until key is free or ctx ends. The returned function releases
// the key; calling it more than once is harmless.
func (k *keyedMutex) lock(ctx context.Context, key string) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	if k.m == nil {
		k.m = make(map[string]*keyedEntry)
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{ch: make(chan struct{}, 1)}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()

	select {
	case e.ch <- struct{}{}:
	case <-ctx.Done():
		k.release(key, e)
		return nil, ctx.Err()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-e.ch
			k.release(key, e)
		})
	}, nil
}

func (k *keyedMutex) release(key string, e *keyedEntry) {
	k.mu.Lock()
	e.refs--
	if e.refs == 0 {
		delete(k.m, key)
	}
	k.mu.Unlock()
}

// size is the number of keys held or waited for (tests).
func (k *keyedMutex) size() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}

// orderKey is the in-process lock key of an order.
func orderKey(provider, storeID, orderID string) string {
	return provider + "\x00" + storeID + "\x00" + orderID
}

// lockKey is the 64-bit FNV-1a hash of provider, store and order (NUL
// separated) used as PostgreSQL advisory lock key.
func lockKey(provider, storeID, orderID string) int64 {
	h := fnv.New64a()
	h.Write([]byte(orderKey(provider, storeID, orderID)))
	return int64(h.Sum64())
}

// OrderLockKey is the PostgreSQL advisory lock key LockOrder takes for an
// order (to find its holder in pg_locks: locktype 'advisory', objsubid 1,
// classid = key>>32, objid = key&0xffffffff).
func OrderLockKey(provider, storeID, orderID string) int64 {
	return lockKey(provider, storeID, orderID)
}

// Polling bounds of pgAdvisoryLock and pgLocks.lock.
const (
	pgLockFirstWait = 2 * time.Millisecond
	pgLockMaxWait   = 100 * time.Millisecond
)

// lockTokenSetting is the session setting (a custom placeholder, settable
// by any role) where an order-lock session shows the token set when it was
// opened (pglocks.go), for the checks.
const lockTokenSetting = LockSessionSetting

// LockSessionSetting names the PostgreSQL setting every order-lock session
// sets when it opens: its statements name it, so that an operator (or the
// chaos suite) can find those sessions in pg_stat_activity.
const LockSessionSetting = "settlement_worker.order_lock"

// pgAdvisoryLock takes the session advisory lock key on conn (the
// migrations' lock), polling pg_try_advisory_lock so that ctx is honoured
// while waiting and a cancelled wait can never leave the lock held. The
// caller must discard conn (discardConn) when it returns an error: whether
// the last try took the lock is then unknown, and ending the session is
// what releases it.
func pgAdvisoryLock(ctx context.Context, conn *sql.Conn, key int64) error {
	wait := pgLockFirstWait
	for {
		var ok bool
		if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
			return err
		}
		if ok {
			return nil
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(wait*2, pgLockMaxWait)
	}
}

// pgAdvisoryUnlock releases the advisory lock and returns conn to the pool,
// or closes the connection (which ends the session and so releases the
// lock) when the unlock cannot be confirmed.
func pgAdvisoryUnlock(conn *sql.Conn, key int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_advisory_unlock($1)`, key).Scan(&ok); err != nil || !ok {
		discardConn(conn)
		return
	}
	conn.Close()
}

// discardConn closes conn's underlying connection instead of returning it to
// the pool, ending its PostgreSQL session and every lock it holds.
func discardConn(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}
