package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// stmtCounter is a pgx tracer counting the statements sent to the server:
// every Query, QueryRow and Exec, BEGIN and COMMIT included (pgx runs them
// with Exec), and, apart, the prepares (pgx's statement cache prepares a
// text once per connection: a round trip of its own, the first time only).
type stmtCounter struct {
	queries, prepares atomic.Int64
	last              atomic.Pointer[string] // the text of the latest statement
}

func (c *stmtCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.queries.Add(1)
	c.last.Store(&d.SQL)
	return ctx
}

func (c *stmtCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *stmtCounter) TracePrepareStart(ctx context.Context, _ *pgx.Conn, _ pgx.TracePrepareStartData) context.Context {
	c.prepares.Add(1)
	return ctx
}

func (c *stmtCounter) TracePrepareEnd(context.Context, *pgx.Conn, pgx.TracePrepareEndData) {}

// openCountingPostgres opens a PostgreSQL store on a fresh database, as
// openPostgres does, with a stmtCounter on its connections (reset after
// the migrations).
func openCountingPostgres(tb testing.TB) (*sqlStore, *stmtCounter) {
	tb.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(testenv.PostgresDSN(tb))
	if err != nil {
		tb.Fatal(err)
	}
	c := &stmtCounter{}
	cfg.Tracer = c
	db := stdlib.OpenDB(*cfg)
	db.SetMaxIdleConns(128) // statements and order-lock sessions share it
	s := newSQLStore(db, postgresDialect, options{clock: time.Now})
	if err := s.prepare(ctx); err != nil {
		db.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	c.queries.Store(0)
	c.prepares.Store(0)
	return s, c
}

// TestPostgresStatementsPerWrite pins the statements each PostgreSQL write
// sends (BEGIN and COMMIT count): every one is a round trip to a server
// the replicas share. Each write runs twice, on its own settlement, so that
// the second finds its statement text prepared.
func TestPostgresStatementsPerWrite(t *testing.T) {
	s, c := openCountingPostgres(t)
	ctx := context.Background()
	count := func(what string, want int64, fn func() error) {
		t.Helper()
		q0 := c.queries.Load()
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := c.queries.Load() - q0; got != want {
			t.Errorf("%s: %d statements, want %d", what, got, want)
		}
	}
	for i := range 2 {
		in := sample(fmt.Sprint("pc", i))
		var st Settlement
		count("RegisterMoving", 1, func() (err error) {
			st, _, err = s.RegisterMoving(ctx, in, StateConfirming, Change{IncAttempts: true})
			return err
		})
		count("Transition", 1, func() error {
			_, _, err := s.Transition(ctx, st.Key, []State{StateConfirming}, StateSubmitting,
				Change{Via: []Waypoint{{State: StateConfirmed}}, Refs: map[string]string{"a": "1"}}, nil)
			return err
		})
		count("terminal Transition with a new event", 1, func() error {
			_, ev, err := s.Transition(ctx, st.Key, []State{StateSubmitting}, StateSettled, Change{Note: "S"},
				&StatusEvent{DedupKey: "final", MessageID: fmt.Sprint("m-pc", i), SettlementStatus: "S", Body: []byte("<S/>")})
			if err == nil && (ev == nil || ev.Seq != 1) {
				err = fmt.Errorf("event %+v", ev)
			}
			return err
		})
		count("Transition with a known DedupKey", 1, func() error {
			_, ev, err := s.Transition(ctx, st.Key, nil, StateSettled, Change{Note: "again"},
				&StatusEvent{DedupKey: "final", MessageID: fmt.Sprint("m-pc-again", i), SettlementStatus: "S"})
			if err == nil && (ev == nil || ev.Seq != 1 || ev.MessageID != fmt.Sprint("m-pc", i)) {
				err = fmt.Errorf("event %+v", ev)
			}
			return err
		})
		// The rare path: the statement fails on a unique index, then the
		// transaction runs (BEGIN, the transition, the event, ROLLBACK),
		// and its error is the one returned, as it always was.
		count("Transition with a taken message id", 5, func() error {
			_, _, err := s.Transition(ctx, st.Key, nil, StateSettled, Change{},
				&StatusEvent{DedupKey: "another", MessageID: fmt.Sprint("m-pc", i), SettlementStatus: "S"})
			if want := "store: transition acme/pc" + fmt.Sprint(i) + " to settled: status event: ERROR: duplicate key value violates unique constraint"; err == nil || !strings.HasPrefix(err.Error(), want) {
				return fmt.Errorf("error %v, want %q…", err, want)
			}
			return nil
		})
		count("Transition with an event, state conflict", 1, func() error {
			_, _, err := s.Transition(ctx, st.Key, []State{StateReceived}, StateRefused, Change{},
				&StatusEvent{DedupKey: "other", SettlementStatus: "R"})
			if err == nil {
				return fmt.Errorf("no conflict")
			}
			return nil
		})
	}
}

// BenchmarkPostgresSettlementLifecycle is BenchmarkSQLiteSettlementLifecycle
// on PostgreSQL (STORE_TEST_POSTGRES_DSN): radialDebit, one settlement at a
// time ("serial": the round trips' latency) and 16 at a time per
// GOMAXPROCS ("parallel"). stmts/op are the statements sent per settlement
// (BEGIN and COMMIT included), prepares/op the statement texts pgx
// prepared (a connection's first use of a text), and user-ns/op and
// sys-ns/op this process's CPU time per settlement (the client's side:
// the server's is not counted), steadier than ns/op on a shared machine,
// where ns/op is mostly the server's commits (four per settlement, before
// and after the terminal transition became one statement).
func BenchmarkPostgresSettlementLifecycle(b *testing.B) {
	for _, mode := range []struct {
		name        string
		parallelism int // goroutines per GOMAXPROCS; 0: serial
	}{{"serial", 0}, {"parallel", 8}} {
		b.Run(mode.name, func(b *testing.B) {
			s, c := openCountingPostgres(b)
			runLifecycles(b, s, mode.parallelism)
			b.ReportMetric(float64(c.queries.Load())/float64(b.N), "stmts/op")
			b.ReportMetric(float64(c.prepares.Load())/float64(b.N), "prepares/op")
		})
	}
}

// concurrentEvents runs n transitions with a status event at once on one
// new settlement (through stores in turn), from any state to settled: a
// third have the DedupKey "a", a third "b" (with the message id the
// handlers would give: one per DedupKey), a third none and no message id.
// Every one succeeds; the callers with one DedupKey all get the same event;
// the events' seqs have no gaps; every transition applied (attempts and
// history).
func concurrentEvents(t testing.TB, ctx context.Context, stores []Store, id string, n int) {
	t.Helper()
	st, _, err := stores[0].Register(ctx, sample(id))
	if err != nil {
		t.Fatal(err)
	}
	key := st.Key
	evs := make([]*StatusEvent, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		ev := &StatusEvent{SettlementStatus: "S", Body: []byte(fmt.Sprint("caller ", i))}
		if d := []string{"a", "b", ""}[i%3]; d != "" {
			ev.DedupKey, ev.MessageID = d, id+"-"+d
		}
		wg.Go(func() {
			<-start
			_, evs[i], errs[i] = stores[i%len(stores)].Transition(ctx, key, nil, StateSettled,
				Change{IncAttempts: true, Note: fmt.Sprint("caller ", i)}, ev)
		})
	}
	close(start)
	wg.Wait()
	byDedup := map[string]StatusEvent{}
	for i, ev := range evs {
		if errs[i] != nil || ev == nil {
			t.Fatalf("caller %d: %+v, %v", i, ev, errs[i])
		}
		if i%3 == 2 {
			continue
		}
		if first, ok := byDedup[ev.DedupKey]; ok && (first.Seq != ev.Seq || first.MessageID != ev.MessageID) {
			t.Errorf("DedupKey %q: events %+v and %+v", ev.DedupKey, first, *ev)
		}
		byDedup[ev.DedupKey] = *ev
	}
	stored, err := stores[0].Statuses(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int
	for _, ev := range stored {
		seqs = append(seqs, ev.Seq)
	}
	if want := 2 + n/3; !slices.Equal(seqs, seqsUpTo(want)) {
		t.Errorf("seqs %v, want 1 to %d", seqs, want)
	}
	for d, ev := range byDedup {
		if i := ev.Seq - 1; i >= len(stored) || stored[i].DedupKey != d || stored[i].MessageID != ev.MessageID {
			t.Errorf("DedupKey %q: returned %+v, stored %+v", d, ev, stored)
		}
	}
	got, err := stores[0].Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	h, err := stores[0].History(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if got.Attempts != n || got.State != StateSettled || len(h) != n+1 {
		t.Errorf("after the race: %s attempts %d, %d history lines; want settled, %d, %d", got.State, got.Attempts, len(h), n, n+1)
	}
}

// testConcurrentEvents: concurrentEvents on every backend (through two
// stores, as two replicas, on PostgreSQL).
func testConcurrentEvents(e *env) {
	stores := []Store{e.st}
	if e.backend != "sqlite" {
		stores = append(stores, e.open())
	}
	for round := range 3 {
		concurrentEvents(e, e.ctx, stores, fmt.Sprint("ce", round), 12)
	}
}

// TestPostgresConcurrentEventsTakeTheTransaction: on PostgreSQL, a
// transition with an event whose single statement raced another one (its
// snapshot predates the event the other committed) fails with a unique
// violation and runs as a transaction instead (pgTransitionEvent): the
// rounds are repeated until that happened, seen in the statements sent.
func TestPostgresConcurrentEventsTakeTheTransaction(t *testing.T) {
	s, c := openCountingPostgres(t)
	ctx := context.Background()
	const n = 12
	for round := range 50 {
		q0 := c.queries.Load()
		concurrentEvents(t, ctx, []Store{s}, fmt.Sprint("race", round), n)
		if extra := c.queries.Load() - q0 - (n + 1 + 3); extra > 0 { // Register, n transitions; the checks' 3 reads
			t.Logf("round %d: %d statements more than one per transition", round, extra)
			return
		}
	}
	t.Skip("no transition raced another in 50 rounds: the rare path was not taken")
}
