package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// PostgreSQL order locks are session advisory locks held on a few sessions
// of the store's own (pgLockSessions), each shared by the locks whose keys
// map to it. A session runs one loop: it takes every lock, unlock and check
// request queued while its last statement ran and serves them all with one
// statement (pgLockSQL). Under load a round trip so serves many holders,
// where a session per lock sent one round trip per lock, check and unlock
// (six per Radial settlement, about a fifth of the worker's CPU on
// PostgreSQL) and kept a backend open per order held.
//
// What a holder relies on:
//   - Only this store's unlock releases a lock, or the end of its session;
//     a session that ends (terminated, failed over, a statement that
//     failed or timed out) releases every lock on it at once, and each of
//     its holders then sees ErrLockLost at its next CheckLock. A session
//     this store ends on an error has its backend ended too, when it still
//     holds one of its keys (reap): its connection may have died on the
//     way, leaving the backend on the server holding the locks.
//   - A session that sends no statement for pgLockIdleTimeout is ended by
//     the server (idle_session_timeout), which releases its locks: a
//     replica whose host vanished, which can end nothing itself, holds its
//     orders (and the sweep lock) that long at most, not until the
//     server's TCP keepalive gives up on it (hours). A live session sends
//     one at least every pgLockHeartbeat, requests or not.
//   - A check is answered by a statement sent after it was asked: the
//     session was alive, and showed the token set when it was opened (a
//     pooler's DISCARD ALL resets both its locks and that setting), after
//     the caller asked.
//   - Statements run on a context of their own with a timeout
//     (pgLockStatementTimeout), never a caller's: pgx closes a connection
//     whose statement's context is cancelled, which would end the session
//     every other holder's lock is on. A caller whose context ends stops
//     waiting; a lock taken for it meanwhile is released. A session is
//     opened again the same way: on its own context, not on the wait of
//     the caller that found it ended.
//   - A key is held at most once per session: the in-process lock
//     (keyedMutex) admits one holder per order, and a second request for a
//     key the session holds (an FNV collision, or a lock taken for a
//     caller that gave up and not yet released) is answered busy, as
//     another session's hold would be.

// pgLockSessions is how many PostgreSQL sessions a store holds its order
// locks on.
const pgLockSessions = 2

// pgLockBatch bounds the requests one statement serves.
const pgLockBatch = 256

// pgLockStatementTimeout bounds a lock session's statement; one that takes
// longer ends the session (and releases its locks).
const pgLockStatementTimeout = 10 * time.Second

// pgLockIdleTimeout is the idle_session_timeout each order-lock session
// sets on the server (PostgreSQL 14 and later): a session that sends no
// statement for that long is ended by the server, which releases its
// locks. A replica whose host vanished (powered off, a node lost, its
// network gone for good) sends nothing, not even the end of its
// connections: without it, the backends of its lock sessions stayed,
// idle, holding every order lock it held (the sweep lock too) until the
// server's TCP keepalive gave up on the peer, two hours and more by
// default, and no replica could reap them (the one that could is gone).
// A live session sends a statement at least every pgLockHeartbeat.
const pgLockIdleTimeout = 30 * time.Second

// pgLockHeartbeat is how long a lock session stays idle before its loop
// sends a statement of its own (pgLockSQL with nothing to lock or unlock,
// which also checks its token), well within pgLockIdleTimeout.
const pgLockHeartbeat = pgLockIdleTimeout / 3

// pgLockKeepalive are the server's TCP keepalive settings on a lock
// session (seconds: idle, interval, count): on a server without
// idle_session_timeout (before 14), a peer that vanished without a
// middlebox keeping its flow is still found within about half a minute.
var pgLockKeepalive = [3]int{10, 5, 3}

// pgLockSQL serves one batch: whether the session still shows its token
// ($1), then the unlocks ($2) and the tries ($3), each answered in order as
// a string of 't' and 'f'. A batch never unlocks and tries one key: serve
// answers a try for a key the session holds "busy" without sending it.
const pgLockSQL = `SELECT coalesce(current_setting('` + lockTokenSetting + `', true) = $1, false),
	coalesce((SELECT string_agg(CASE WHEN pg_advisory_unlock(k) THEN 't' ELSE 'f' END, '' ORDER BY i)
		FROM unnest($2::bigint[]) WITH ORDINALITY AS u(k, i)), ''),
	coalesce((SELECT string_agg(CASE WHEN pg_try_advisory_lock(k) THEN 't' ELSE 'f' END, '' ORDER BY i)
		FROM unnest($3::bigint[]) WITH ORDINALITY AS l(k, i)), '')`

// pgLocks is a store's set of order-lock sessions.
type pgLocks struct {
	db *sql.DB // where sessions come from
	// stats count for LockStats.
	stats lockStats

	mu       sync.Mutex
	sessions []*lockSession // by slot; nil or ended: opened again on use
	// opening is, by slot, the opening under way (nil: none).
	opening []*lockOpening
	closed  bool
	opens   sync.WaitGroup // openings under way (close waits for them)
}

// lockOpening is a slot's session being opened: done is closed when it
// ended, err says why it failed.
type lockOpening struct {
	done chan struct{}
	err  error
}

func newPgLocks(db *sql.DB, n int) *pgLocks {
	return &pgLocks{db: db, sessions: make([]*lockSession, n), opening: make([]*lockOpening, n)}
}

// lockStats are pgLocks' counters (LockStats).
type lockStats struct {
	opened, ended, statements, requests atomic.Int64
}

type lockOp uint8

const (
	opLock lockOp = iota
	opUnlock
	opCheck
)

type lockReq struct {
	op  lockOp
	key int64
	res chan bool // buffered: the loop never waits for a caller
}

// lockSession is one session holding order locks, and its loop.
type lockSession struct {
	conn  *sql.Conn
	token string
	// pid and start name its backend on the server (pg_stat_activity),
	// for reap; db is where reap's statement runs.
	pid   int64
	start time.Time
	db    *sql.DB
	reqs  chan *lockReq
	quit  chan struct{} // closed by pgLocks.close
	ended chan struct{} // closed when the session has ended: its locks are released
	err   error         // why it ended; set before ended is closed
	keys  map[int64]bool
	stats *lockStats
}

// errLockSessionEnded is the error of requests a session ended before it
// answered them.
var errLockSessionEnded = errors.New("order-lock session ended")

// session returns the live session for key's slot, opening one if needed.
func (p *pgLocks) session(ctx context.Context, key int64) (*lockSession, error) {
	return p.slotSession(ctx, int(uint64(key)%uint64(len(p.sessions))))
}

// slotSession returns slot's live session, opening one if needed. The
// opening runs on a context of its own (pgLockStatementTimeout), never a
// caller's: a caller whose context ends stops waiting, and the session
// opened meanwhile serves the next. Bound by each caller's wait (a
// request's ORDER_LOCK_WAIT), a connection that takes longer to open
// (TCP, TLS, authentication to a distant server) was never opened, and
// every order on the slot waited for ever.
func (p *pgLocks) slotSession(ctx context.Context, slot int) (*lockSession, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errors.New("store closed")
	}
	if ls := p.sessions[slot]; ls != nil && !ls.isEnded() {
		p.mu.Unlock()
		return ls, nil
	}
	o := p.opening[slot]
	if o == nil {
		o = &lockOpening{done: make(chan struct{})}
		p.opening[slot] = o
		p.opens.Add(1)
		go p.open(slot, o)
	}
	p.mu.Unlock()
	select {
	case <-o.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if o.err != nil {
		return nil, o.err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("store closed")
	}
	return p.sessions[slot], nil // may have ended already: the caller sees it
}

// open opens slot's session (o), on a context of its own.
func (p *pgLocks) open(slot int, o *lockOpening) {
	defer p.opens.Done()
	ctx, cancel := context.WithTimeout(context.Background(), pgLockStatementTimeout)
	defer cancel()
	ls, err := p.dial(ctx)
	p.mu.Lock()
	switch {
	case err != nil:
	case p.closed:
		discardConn(ls.conn)
		err = errors.New("store closed")
	default:
		p.sessions[slot] = ls
		p.stats.opened.Add(1)
		go ls.run()
	}
	o.err = err
	p.opening[slot] = nil
	p.mu.Unlock()
	close(o.done)
}

// dial opens a session and sets its token.
func (p *pgLocks) dial(ctx context.Context) (*lockSession, error) {
	conn, err := p.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	token := fmt.Sprintf("session/%016x", rand.Uint64())
	ls := &lockSession{conn: conn, token: token, db: p.db, reqs: make(chan *lockReq, pgLockBatch),
		quit: make(chan struct{}), ended: make(chan struct{}), keys: map[int64]bool{}, stats: &p.stats}
	// The token, and what ends the session on the server when this
	// process can no longer (pgLockIdleTimeout, pgLockKeepalive).
	if err := conn.QueryRowContext(ctx, `SELECT pid, backend_start, set_config('`+lockTokenSetting+`', $1, false),
		set_config('tcp_keepalives_idle', $3, false), set_config('tcp_keepalives_interval', $4, false),
		set_config('tcp_keepalives_count', $5, false),
		CASE WHEN current_setting('server_version_num')::int >= 140000
			THEN set_config('idle_session_timeout', $2, false) ELSE '' END
		FROM pg_stat_activity WHERE pid = pg_backend_pid()`,
		token, fmt.Sprint(pgLockIdleTimeout.Milliseconds()), fmt.Sprint(pgLockKeepalive[0]), fmt.Sprint(pgLockKeepalive[1]),
		fmt.Sprint(pgLockKeepalive[2])).Scan(&ls.pid, &ls.start, new(string), new(string), new(string), new(string), new(string)); err != nil {
		discardConn(conn)
		return nil, err
	}
	return ls, nil
}

// warm opens every slot's session, best effort: it stops at the first
// session the server refuses (a slot without one opens it on use).
func (p *pgLocks) warm(ctx context.Context) {
	for slot := range p.sessions {
		if _, err := p.slotSession(ctx, slot); err != nil {
			return
		}
	}
}

// close ends every session (releasing their locks), after the openings
// under way.
func (p *pgLocks) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	p.opens.Wait() // a session opened now is discarded
	for _, ls := range p.sessions {
		if ls != nil {
			close(ls.quit)
			<-ls.ended
		}
	}
}

// lock takes key's advisory lock, polling while another session holds it,
// until ctx ends. A session that ends under the request is replaced, a few
// times.
func (p *pgLocks) lock(ctx context.Context, key int64) (*lockSession, error) {
	wait := pgLockFirstWait
	for ended := 0; ; {
		ls, err := p.session(ctx, key)
		if err != nil {
			return nil, err
		}
		ok, err := ls.do(ctx, opLock, key)
		switch {
		case err == nil && ok:
			return ls, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			if ended++; ended == 3 {
				return nil, err
			}
			continue
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(wait*2, pgLockMaxWait)
	}
}

// do sends one request and waits for its answer, the session's end or
// ctx's. A lock taken for a caller that stopped waiting is released.
func (ls *lockSession) do(ctx context.Context, op lockOp, key int64) (bool, error) {
	r := &lockReq{op: op, key: key, res: make(chan bool, 1)}
	select {
	case ls.reqs <- r:
	case <-ls.ended:
		return false, ls.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
	select {
	case ok := <-r.res:
		return ok, nil
	case <-ls.ended:
		select {
		case ok := <-r.res:
			return ok, nil
		default:
			return false, ls.err
		}
	case <-ctx.Done():
		if op == opLock {
			go func() {
				select {
				case ok := <-r.res:
					if ok {
						ls.unlock(key)
					}
				case <-ls.ended:
				}
			}()
		}
		return false, ctx.Err()
	}
}

// unlock releases key; a session that cannot confirm it ends, which
// releases it too.
func (ls *lockSession) unlock(key int64) {
	_, _ = ls.do(context.Background(), opUnlock, key)
}

// check reports whether the session still holds its locks, from a
// statement sent after the call.
func (ls *lockSession) check(ctx context.Context) (bool, error) {
	return ls.do(ctx, opCheck, 0)
}

func (ls *lockSession) isEnded() bool {
	select {
	case <-ls.ended:
		return true
	default:
		return false
	}
}

// run serves requests until the session ends or the store closes. A
// session left idle for pgLockHeartbeat runs a statement with no request
// (a heartbeat, which also checks its token), so that the server's
// idle_session_timeout (pgLockIdleTimeout) ends only the sessions of a
// replica that is gone.
func (ls *lockSession) run() {
	batch := make([]*lockReq, 0, pgLockBatch)
	beat := time.NewTimer(pgLockHeartbeat)
	defer beat.Stop()
	for {
		batch = batch[:0]
		select {
		case r := <-ls.reqs:
			batch = append(batch, r)
		case <-beat.C:
		case <-ls.quit:
			ls.end(errors.New("store closed"))
			return
		}
	drain:
		for len(batch) < pgLockBatch {
			select {
			case r := <-ls.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		ls.stats.statements.Add(1)
		ls.stats.requests.Add(int64(len(batch)))
		if err := ls.serve(batch); err != nil {
			ls.stats.ended.Add(1)
			held := slices.Collect(maps.Keys(ls.keys))
			for _, r := range batch {
				if r.op == opLock {
					held = append(held, r.key) // the server may have taken it
				}
			}
			ls.end(err)
			ls.reap(held)
			return
		}
		beat.Reset(pgLockHeartbeat)
	}
}

// reap ends, from another session, the backend of a session that ended
// with an error while it still holds one of keys. The connection may have
// died on the way (a NAT or load balancer dropping the flow), not at the
// server: the backend then stays, idle, holding the locks, until the
// server's TCP keepalive gives up on its client (hours by default), and
// no replica can take those orders meanwhile, although their holders
// here already saw them lost. Best effort; the backend is named by its
// pid and start, and must still hold one of the keys (a pooler's server
// session handed to another client since holds none of them).
func (ls *lockSession) reap(keys []int64) {
	if len(keys) == 0 || ls.db == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), pgLockStatementTimeout)
	defer cancel()
	_, _ = ls.db.ExecContext(ctx, `SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a
		WHERE a.pid = $1 AND a.backend_start = $2 AND EXISTS (SELECT 1 FROM pg_locks l
			WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
			AND ((l.classid::bigint << 32) | l.objid::bigint) = ANY($3::bigint[]))`,
		ls.pid, ls.start, int64Array(keys))
}

// serve runs one batch's statement and answers each request; an error ends
// the session (after answering what can be answered).
func (ls *lockSession) serve(batch []*lockReq) error {
	var unlocks, tries []int64
	var unlockReqs, tryReqs, checks []*lockReq
	trying := map[int64]bool{}
	for _, r := range batch {
		switch r.op {
		case opUnlock:
			unlocks = append(unlocks, r.key)
			unlockReqs = append(unlockReqs, r)
		case opCheck:
			checks = append(checks, r)
		case opLock:
			if ls.keys[r.key] || trying[r.key] {
				r.res <- false // held on this session already: busy
				continue
			}
			trying[r.key] = true
			tries = append(tries, r.key)
			tryReqs = append(tryReqs, r)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), pgLockStatementTimeout)
	defer cancel()
	var alive bool
	var unlocked, took string
	err := ls.conn.QueryRowContext(ctx, pgLockSQL, ls.token, int64Array(unlocks), int64Array(tries)).Scan(&alive, &unlocked, &took)
	switch {
	case err != nil:
		return fmt.Errorf("%w: %v", errLockSessionEnded, err)
	case len(unlocked) != len(unlocks) || len(took) != len(tries):
		return fmt.Errorf("%w: answered %d unlocks and %d locks for %d and %d", errLockSessionEnded, len(unlocked), len(took), len(unlocks), len(tries))
	}
	lost := !alive
	for i, r := range unlockReqs {
		delete(ls.keys, r.key)
		if unlocked[i] != 't' {
			lost = true // not held although this session took it
		}
		r.res <- true
	}
	if lost {
		// Its locks are not all held (a reset, a pooler's other session):
		// it ends, and the locks it took now with it.
		for _, r := range checks {
			r.res <- false
		}
		return fmt.Errorf("%w: the session no longer shows its token or its locks", errLockSessionEnded)
	}
	for i, r := range tryReqs {
		if took[i] == 't' {
			ls.keys[r.key] = true
		}
		r.res <- took[i] == 't'
	}
	for _, r := range checks {
		r.res <- true
	}
	return nil
}

// end discards the session's connection, which ends it on the server and
// releases its locks, and fails the requests still queued.
func (ls *lockSession) end(err error) {
	discardConn(ls.conn)
	ls.err = err
	close(ls.ended)
}

// int64Array is a PostgreSQL array literal of keys.
func int64Array(keys []int64) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, k)
	}
	b.WriteByte('}')
	return b.String()
}
