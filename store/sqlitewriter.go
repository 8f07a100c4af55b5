package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// errClosed is returned by a store used after Close.
var errClosed = errors.New("store: closed")

// maxWriteBatch bounds how many callers' writes share one transaction.
const maxWriteBatch = 256

// sqliteWriter owns SQLite's one write connection and commits its callers'
// writes in groups: one goroutine takes every write queued meanwhile, runs
// them in arrival order in ONE transaction (BEGIN IMMEDIATE … COMMIT, so one
// WAL fsync for all of them) and releases each caller only after that
// COMMIT returned. Each caller's work runs inside its own savepoint: a
// caller whose function fails is rolled back to its savepoint, alone, and
// gets its own error; the others commit. (A batch of one needs no
// savepoint: its failure rolls back the transaction, runAlone.) A caller
// sees the writes of the callers before it in the batch (same
// transaction), so a compare-and-set
// like Transition behaves exactly as if the transactions had run one after
// the other in that order.
//
// Durability is unchanged: the connection runs with journal_mode=WAL and
// synchronous=FULL, so COMMIT returns only once the WAL is fsync'd, and no
// caller is told its write succeeded before that. When the shared
// transaction cannot commit (or SQLite abandons it, an I/O error), every
// caller of the batch gets an error and none of their writes is applied.
//
// Pinning the connection also lets every statement text be prepared on it
// once (connQuerier). Reads do not come here — they use the read-only pool,
// WAL lets them run beside the writer — except for ":memory:", where every
// connection is a database of its own and this one is the only one.
type sqliteWriter struct {
	db    *sql.DB // the write pool: one connection
	queue chan *writeJob
	// mu orders submissions against close: senders hold it shared, close
	// holds it exclusively, so once closed is set no send is in flight and
	// the goroutine can drain the queue and stop.
	mu     sync.RWMutex
	closed bool
	quit   chan struct{} // closed by close
	exited chan struct{} // closed when the goroutine has stopped

	// Owned by the goroutine:
	conn *sql.Conn
	q    *connQuerier

	// beforeCommit, when set (tests), is called with each batch's size
	// just before its COMMIT.
	beforeCommit func(n int)
	// wrap, when set (tests, benchmarks), wraps the querier each write's
	// function is given (to count its statements). Set it before the
	// first write.
	wrap func(querier) querier
	// batches and jobs count committed batches and their jobs (tests).
	batches, jobs atomic.Int64
	// busySince is when the transaction running now began (UnixNano; 0
	// while none runs), for Ping to say when the writer is stalled.
	busySince atomic.Int64
	// onRollback, when set, is called on the goroutine whenever a
	// transaction it ran is rolled back whole (what its jobs wrote is
	// gone): the store empties its row cache (rowCache). Set it before the
	// first write.
	onRollback func()
	// onJobStart and onJobUndone, when set, are called on the goroutine
	// before each job's function runs, and once that job's writes were
	// rolled back (its savepoint, or the transaction that held only its
	// writes) after it failed or panicked: the store forgets the rows the
	// job put in its row cache (rowCache.begin, rowCache.undo). Set them
	// before the first write.
	onJobStart, onJobUndone func()
}

// writerStallAfter is how long one write transaction may run before Ping
// says the store does not answer (a variable for the tests): a batch
// commits in milliseconds, and SQLite's busy_timeout is 10 s.
var writerStallAfter = 15 * time.Second

// stalled returns how long the running transaction has run, when longer
// than writerStallAfter (0 otherwise).
func (w *sqliteWriter) stalled() time.Duration {
	since := w.busySince.Load()
	if since == 0 {
		return 0
	}
	if d := time.Since(time.Unix(0, since)); d > writerStallAfter {
		return d
	}
	return 0
}

// writeJob is one caller's write.
type writeJob struct {
	fn    func(ctx context.Context, q querier) error
	err   error
	done  chan struct{}
	state atomic.Int32
}

// writeJob states: queued, then taken into a batch by the writer or
// abandoned by its caller (its context ended first) — whichever comes first.
const (
	jobQueued int32 = iota
	jobTaken
	jobAbandoned
)

func newSQLiteWriter(db *sql.DB) *sqliteWriter {
	w := &sqliteWriter{
		db:     db,
		queue:  make(chan *writeJob, maxWriteBatch),
		quit:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	go w.run()
	return w
}

// tx runs fn in the writer's next transaction and returns once that
// transaction committed (nil: fn's writes are durable) or fn failed (its
// error, as is; its writes are rolled back). A caller whose context ends
// while its write still waits in the queue gets the context's error and
// its write never runs; once taken into a batch, the write is not
// interrupted (an interrupted statement would abort the others' too), and
// the caller waits for the batch's outcome, which SQLite's busy timeout
// bounds.
func (w *sqliteWriter) tx(ctx context.Context, fn func(ctx context.Context, q querier) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j := &writeJob{fn: fn, done: make(chan struct{})}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return errClosed
	}
	select {
	case w.queue <- j:
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	w.mu.RUnlock()
	select {
	case <-j.done:
		return j.err
	case <-ctx.Done():
		if j.state.CompareAndSwap(jobQueued, jobAbandoned) {
			return ctx.Err()
		}
		<-j.done
		return j.err
	}
}

// do runs fn on the writer's connection (":memory:" reads, and its ping).
// It runs inside the writer's transaction like a write, so it sees the
// writes of the batch before it; an in-memory database has no durability
// to speak of.
func (w *sqliteWriter) do(ctx context.Context, fn func(ctx context.Context, q querier) error) error {
	return w.tx(ctx, fn)
}

// ping checks the write connection.
func (w *sqliteWriter) ping(ctx context.Context) error {
	return w.tx(ctx, func(ctx context.Context, q querier) error {
		var one int
		return q.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	})
}

// isClosed reports whether close was called.
func (w *sqliteWriter) isClosed() bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.closed
}

// close stops taking writes, commits those already queued, waits for the
// goroutine to stop and closes the connection; later writes fail with
// errClosed.
func (w *sqliteWriter) close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.exited
		return nil
	}
	w.closed = true
	close(w.quit)
	w.mu.Unlock()
	<-w.exited
	return w.db.Close()
}

func (w *sqliteWriter) run() {
	defer close(w.exited)
	defer w.dropConn()
	for {
		select {
		case j := <-w.queue:
			w.runBatch(w.collect(j))
		case <-w.quit:
			// No send is in flight any more (close holds mu): commit what
			// was accepted, then stop.
			for {
				select {
				case j := <-w.queue:
					w.runBatch(w.collect(j))
				default:
					return
				}
			}
		}
	}
}

// collect takes first and whatever else is queued, without waiting: the
// writes that arrived while the previous batch was committing form the
// next one.
func (w *sqliteWriter) collect(first *writeJob) []*writeJob {
	batch := []*writeJob{first}
	for len(batch) < maxWriteBatch {
		select {
		case j := <-w.queue:
			batch = append(batch, j)
		default:
			return batch
		}
	}
	return batch
}

func (w *sqliteWriter) exec(ctx context.Context, stmt string) error {
	_, err := w.q.ExecContext(ctx, stmt)
	return err
}

// runBatch runs the jobs in one transaction, each in its own savepoint, and
// releases them after the COMMIT.
func (w *sqliteWriter) runBatch(batch []*writeJob) {
	jobs := batch[:0]
	for _, j := range batch {
		if j.state.CompareAndSwap(jobQueued, jobTaken) {
			jobs = append(jobs, j)
		}
	}
	if len(jobs) == 0 {
		return
	}
	w.busySince.Store(time.Now().UnixNano())
	defer func() {
		w.busySince.Store(0)
		for _, j := range jobs {
			close(j.done)
		}
	}()
	// Not the callers' contexts: cancelling one would interrupt the
	// connection, and SQLite may then roll back the whole transaction.
	ctx := context.Background()
	fail := func(err error) {
		for _, j := range jobs {
			j.err = err
		}
	}
	if err := w.ensureConn(ctx); err != nil {
		fail(err)
		return
	}
	if err := w.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
		w.checkConn(err)
		fail(err)
		return
	}
	if len(jobs) == 1 {
		w.runAlone(ctx, jobs[0])
		return
	}
	var abort error
	for _, j := range jobs {
		if err := w.exec(ctx, "SAVEPOINT job"); err != nil {
			abort = err
			break
		}
		j.err = w.call(ctx, j)
		if j.err != nil {
			// Undo this caller's work only. If SQLite already abandoned
			// the transaction (an I/O error, a full disk), this fails and
			// the whole batch is rolled back below.
			if err := w.exec(ctx, "ROLLBACK TO job"); err != nil {
				abort = fmt.Errorf("rolling back after %v: %w", j.err, err)
				break
			}
			w.jobUndone()
		}
		if err := w.exec(ctx, "RELEASE job"); err != nil {
			abort = err
			break
		}
	}
	if abort == nil {
		if w.beforeCommit != nil {
			w.beforeCommit(len(jobs))
		}
		if err := w.exec(ctx, "COMMIT"); err != nil {
			abort = fmt.Errorf("commit: %w", err)
		}
	}
	if abort != nil {
		w.rolledBack()
		w.checkConn(w.exec(ctx, "ROLLBACK"))
		w.checkConn(abort)
		fail(fmt.Errorf("store: the shared write transaction was rolled back, nothing of this write was applied: %w", abort))
		return
	}
	w.batches.Add(1)
	w.jobs.Add(int64(len(jobs)))
}

// runAlone runs a batch of one job in the transaction runBatch began,
// without a savepoint (two statements fewer, the usual case when writes
// are few): a failing job rolls back the whole transaction, which holds
// only its own writes, and gets its own error.
func (w *sqliteWriter) runAlone(ctx context.Context, j *writeJob) {
	if j.err = w.call(ctx, j); j.err != nil {
		// The transaction holds only this job's writes.
		w.checkConn(w.exec(ctx, "ROLLBACK"))
		w.jobUndone()
		return
	}
	if w.beforeCommit != nil {
		w.beforeCommit(1)
	}
	if err := w.exec(ctx, "COMMIT"); err != nil {
		w.rolledBack()
		w.checkConn(w.exec(ctx, "ROLLBACK"))
		w.checkConn(err)
		j.err = fmt.Errorf("store: the shared write transaction was rolled back, nothing of this write was applied: commit: %w", err)
		return
	}
	w.batches.Add(1)
	w.jobs.Add(1)
}

// rolledBack tells onRollback that the running transaction is undone.
func (w *sqliteWriter) rolledBack() {
	if w.onRollback != nil {
		w.onRollback()
	}
}

// jobUndone tells onJobUndone that the last job's writes are undone.
func (w *sqliteWriter) jobUndone() {
	if w.onJobUndone != nil {
		w.onJobUndone()
	}
}

// call runs one job's function; a panic becomes its error (the writer
// serves every caller and must not die with one).
func (w *sqliteWriter) call(ctx context.Context, j *writeJob) (err error) {
	if w.onJobStart != nil {
		w.onJobStart()
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store: panic in a write: %v\n%s", r, debug.Stack())
		}
	}()
	var q querier = w.q
	if w.wrap != nil {
		q = w.wrap(q)
	}
	return j.fn(ctx, q)
}

// ensureConn pins the write connection if none is.
func (w *sqliteWriter) ensureConn(ctx context.Context) error {
	if w.conn != nil {
		return nil
	}
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return err
	}
	w.conn, w.q = conn, newConnQuerier(conn)
	return nil
}

// checkConn drops the pinned connection when err says it is unusable, so
// that the next batch opens a new one.
func (w *sqliteWriter) checkConn(err error) {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		w.dropConn()
	}
}

func (w *sqliteWriter) dropConn() {
	if w.conn != nil {
		w.q.close()
		w.conn.Close()
		w.conn, w.q = nil, nil
	}
}
