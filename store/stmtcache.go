package store

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStmts bounds a statement cache. The store's statements are a few
// dozen texts (Find, Stale and Transition build theirs from the fields and
// states they are given, which in practice are a handful of combinations);
// past the bound, statements run unprepared as before.
const maxCachedStmts = 256

// stmtCache keeps one prepared *sql.Stmt per statement text for SQLite's
// read-only pool. database/sql keeps a DB-level statement prepared on every
// connection it ran on, so the pure-Go SQLite engine parses and plans each
// text once per connection instead of at every call (before the caches,
// parsing was a fifth of the worker's CPU).
//
// PostgreSQL does not use it: pgx caches its prepared statements per
// connection itself, and a database/sql Prepare would cost a round trip.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}}
}

// stmt returns the prepared statement for query, preparing it on first use;
// nil when it cannot (the cache is full or closed, or preparing failed: the
// caller then runs the text unprepared, which reports the error if it
// persists). The lock is not held while preparing, which waits for a
// connection.
func (c *stmtCache) stmt(ctx context.Context, query string) *sql.Stmt {
	c.mu.Lock()
	st, ok := c.m[query]
	full := c.m == nil || len(c.m) >= maxCachedStmts
	c.mu.Unlock()
	if ok {
		return st
	}
	if full {
		return nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[query]; ok || c.m == nil || len(c.m) >= maxCachedStmts {
		st.Close() // prepared concurrently, or closed meanwhile
		return old
	}
	c.m[query] = st
	return st
}

// close closes every cached statement; later calls run unprepared.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}

// cachedQuerier runs statements on the cache's database through the cache.
type cachedQuerier struct{ c *stmtCache }

func (q cachedQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := q.c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.c.db.QueryRowContext(ctx, query, args...)
}

func (q cachedQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := q.c.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.c.db.QueryContext(ctx, query, args...)
}

func (q cachedQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := q.c.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.c.db.ExecContext(ctx, query, args...)
}

// connQuerier runs statements on one pinned connection, each text prepared
// on it once. It is not safe for concurrent use: its owner serializes the
// callers (the SQLite writer).
type connQuerier struct {
	conn *sql.Conn
	m    map[string]*sql.Stmt
}

func newConnQuerier(conn *sql.Conn) *connQuerier {
	return &connQuerier{conn: conn, m: map[string]*sql.Stmt{}}
}

func (q *connQuerier) stmt(ctx context.Context, query string) *sql.Stmt {
	if st, ok := q.m[query]; ok {
		return st
	}
	if len(q.m) >= maxCachedStmts {
		return nil
	}
	st, err := q.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	q.m[query] = st
	return st
}

func (q *connQuerier) close() {
	for _, st := range q.m {
		st.Close()
	}
	q.m = map[string]*sql.Stmt{}
}

func (q *connQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.conn.QueryRowContext(ctx, query, args...)
}

func (q *connQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.conn.QueryContext(ctx, query, args...)
}

func (q *connQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.conn.ExecContext(ctx, query, args...)
}
