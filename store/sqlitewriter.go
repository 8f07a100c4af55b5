package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
)

// errClosed is returned by a store used after Close.
var errClosed = errors.New("store: closed")

// sqliteWriter owns SQLite's one write connection. SQLite has one writer
// at a time anyway; pinning the connection lets every statement text be
// prepared on it once (connQuerier) and lets transactions be plain
// BEGIN IMMEDIATE … COMMIT statements on it. Durability is SQLite's: the
// connection runs with journal_mode=WAL and synchronous=FULL, so COMMIT
// returns only once the WAL is fsync'd.
//
// Reads do not come here (they use the read-only pool, WAL lets them run
// beside the writer), except for ":memory:", where every connection is a
// database of its own and the writer's connection is the only one.
type sqliteWriter struct {
	db *sql.DB // the write pool: one connection
	// sem is held by the writer's current user (a buffered channel rather
	// than a mutex so that waiting honours the caller's context).
	sem chan struct{}
	// Guarded by sem:
	conn   *sql.Conn
	q      *connQuerier
	closed bool
}

func newSQLiteWriter(db *sql.DB) *sqliteWriter {
	return &sqliteWriter{db: db, sem: make(chan struct{}, 1)}
}

// acquire takes the connection, opening it if needed.
func (w *sqliteWriter) acquire(ctx context.Context) error {
	select {
	case w.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if w.closed {
		<-w.sem
		return errClosed
	}
	if w.conn == nil {
		conn, err := w.db.Conn(ctx)
		if err != nil {
			<-w.sem
			return err
		}
		w.conn, w.q = conn, newConnQuerier(conn)
	}
	return nil
}

func (w *sqliteWriter) release() { <-w.sem }

// checkConn drops the pinned connection when err says it is unusable, so
// that the next user opens a new one.
func (w *sqliteWriter) checkConn(err error) {
	if err == nil || w.conn == nil {
		return
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		w.q.close()
		w.conn.Close()
		w.conn, w.q = nil, nil
	}
}

// tx runs fn in one write transaction on the pinned connection and
// commits it: when tx returns nil, fn's writes are durable. fn's error
// rolls the transaction back and is returned as is. Once begun, the
// transaction is not interrupted by the caller's context (an interrupted
// statement would leave the outcome to guesswork); it is bounded by SQLite's
// busy timeout.
func (w *sqliteWriter) tx(ctx context.Context, fn func(ctx context.Context, q querier) error) (err error) {
	if err := w.acquire(ctx); err != nil {
		return err
	}
	defer w.release()
	ctx = context.WithoutCancel(ctx)
	if _, err := w.q.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		w.checkConn(err)
		return err
	}
	committed := false
	defer func() {
		if !committed {
			_, rerr := w.q.ExecContext(ctx, "ROLLBACK")
			w.checkConn(rerr)
		}
	}()
	if err := fn(ctx, w.q); err != nil {
		return err
	}
	if _, err := w.q.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	committed = true
	return nil
}

// do runs fn's statements on the pinned connection outside a transaction
// (reads of ":memory:").
func (w *sqliteWriter) do(ctx context.Context, fn func(ctx context.Context, q querier) error) error {
	if err := w.acquire(ctx); err != nil {
		return err
	}
	defer w.release()
	err := fn(ctx, w.q)
	w.checkConn(err)
	return err
}

// ping checks the write connection.
func (w *sqliteWriter) ping(ctx context.Context) error {
	if err := w.acquire(ctx); err != nil {
		return err
	}
	defer w.release()
	err := w.conn.PingContext(ctx)
	w.checkConn(err)
	return err
}

// close waits for the current user, then closes the connection and the
// write pool; later calls fail with errClosed.
func (w *sqliteWriter) close() error {
	w.sem <- struct{}{}
	defer w.release()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.conn != nil {
		w.q.close()
		w.conn.Close()
		w.conn, w.q = nil, nil
	}
	return w.db.Close()
}

// isClosed reports whether close was called.
func (w *sqliteWriter) isClosed() bool {
	w.sem <- struct{}{}
	defer w.release()
	return w.closed
}
