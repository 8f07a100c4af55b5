package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

// countStatements makes s count the statements its reads and writes run
// (reads on the read-only pool, and the writer's jobs, which are also
// ":memory:"'s reads; not the writer's own BEGIN, SAVEPOINT, RELEASE and
// COMMIT). Call it before the first read or write.
func countStatements(s *sqlStore) *atomic.Int64 {
	var n atomic.Int64
	wrap := func(q querier) querier { return countingQuerier{q: q, n: &n} }
	s.readWrap = wrap
	if s.w != nil {
		s.w.wrap = wrap
	}
	return &n
}

// openStore opens dsn (with opts) as an *sqlStore, closed at the test's
// end.
func openStore(t *testing.T, dsn string, opts ...Option) *sqlStore {
	t.Helper()
	st, err := Open(context.Background(), dsn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.(*sqlStore)
}

// notFoundText is the error text Get's query path gives for a key no row
// has (sqlStore.get), and invalidKeyText the one for a key that is not
// valid text (unstorableKey).
func notFoundText(key Key) string { return fmt.Errorf("%w: %s", ErrNotFound, keyText(key)).Error() }

func invalidKeyText(key Key) string {
	return fmt.Errorf("%w: %s (%w)", ErrNotFound, quotedKey(key), ErrInvalidText).Error()
}

// TestSQLiteGetOfAKeyNeverRegisteredRunsNoStatement: on a writable SQLite
// store (a file, and ":memory:", whose reads are writer jobs) Get of a key
// never registered answers ErrNotFound, with the query path's very text,
// without running a statement; a key registered (Register,
// RegisterMoving) is read as before, one statement, also after the file
// is closed and opened again (the filter is then built from the table).
// A key that is not valid text is answered first, as before.
func TestSQLiteGetOfAKeyNeverRegisteredRunsNoStatement(t *testing.T) {
	for _, memory := range []bool{false, true} {
		t.Run(fmt.Sprintf("memory=%v", memory), func(t *testing.T) {
			ctx := context.Background()
			dsn := "sqlite:" + filepath.Join(t.TempDir(), "s.db")
			if memory {
				dsn = "sqlite::memory:"
			}
			s := openStore(t, dsn)
			n := countStatements(s)
			a, b := sample("a"), sample("b")
			if _, _, err := s.Register(ctx, a); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.RegisterMoving(ctx, b, StateConfirming, Change{IncAttempts: true}); err != nil {
				t.Fatal(err)
			}
			cases := []struct {
				name  string
				key   Key
				want  string // the fingerprint found, or the error's text
				stmts int64
			}{
				{"registered", a.Key, a.Fingerprint, 1},
				{"registered moving", b.Key, b.Fingerprint, 1},
				{"never registered", Key{"acme", "zz"}, notFoundText(Key{"acme", "zz"}), 0},
				{"another provider's request id", Key{"other", "a"}, notFoundText(Key{"other", "a"}), 0},
				{"the parts of a key run together", Key{"acm", "ea"}, notFoundText(Key{"acm", "ea"}), 0},
				{"a card number masked in the text", Key{"acme", "4111111111111111"}, notFoundText(Key{"acme", "4111111111111111"}), 0},
				{"not valid text", Key{"acme", "a\xff"}, invalidKeyText(Key{"acme", "a\xff"}), 0},
			}
			check := func(s *sqlStore, n *atomic.Int64, when string) {
				t.Helper()
				for _, c := range cases {
					n.Store(0)
					st, err := s.Get(ctx, c.key)
					got := st.Fingerprint
					if err != nil {
						got = err.Error()
						if !errors.Is(err, ErrNotFound) {
							t.Errorf("%s, %s: %v, want ErrNotFound", when, c.name, err)
						}
					}
					if got != c.want {
						t.Errorf("%s, %s: got %q, want %q", when, c.name, got, c.want)
					}
					if stmts := n.Load(); stmts != c.stmts {
						t.Errorf("%s, %s: %d statements, want %d", when, c.name, stmts, c.stmts)
					}
				}
			}
			check(s, n, "registered by this process")
			if memory {
				return
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			again := openStore(t, dsn)
			check(again, countStatements(again), "opened again")
		})
	}
}

// TestKeyFilterAnswersAsTheQueryPath makes the same registrations and
// reads on a store with the key filter and on one without it (Get always
// queries, as before) and wants every answer the same: keys absent,
// present, registered again (a conflict: the row as stored), registered
// moving; registrations whose INSERT fails (a trigger refuses them), alone
// and in a batch beside others (rolled back to its savepoint: the key,
// added to the filter before the INSERT, is a false positive there) and
// then registered; on a file and on ":memory:".
func TestKeyFilterAnswersAsTheQueryPath(t *testing.T) {
	at := time.Date(2026, 12, 7, 23, 0, 0, 0, time.UTC)
	clock := func() time.Time { return at }
	for _, memory := range []bool{false, true} {
		t.Run(fmt.Sprintf("memory=%v", memory), func(t *testing.T) {
			open := func(filtered bool) *sqlStore {
				dsn := "sqlite:" + filepath.Join(t.TempDir(), "s.db")
				if memory {
					dsn = "sqlite::memory:"
				}
				s := openStore(t, dsn, WithClock(clock))
				if !filtered {
					s.keys = nil // before any write: the writer reads it only in a job
				}
				return s
			}
			with, without := open(true), open(false)
			if with.keys == nil {
				t.Fatal("no key filter on a writable SQLite store")
			}
			a, b := runKeyFilterScript(t, with), runKeyFilterScript(t, without)
			if len(a) != len(b) {
				t.Fatalf("%d answers with the filter, %d without", len(a), len(b))
			}
			for i := range a {
				if a[i] != b[i] {
					t.Errorf("answer %d differs\nwith the filter:\n%s\nwithout:\n%s", i, a[i], b[i])
				}
			}
		})
	}
}

// runKeyFilterScript makes the registrations and reads of
// TestKeyFilterAnswersAsTheQueryPath on s and returns every answer as
// text.
func runKeyFilterScript(t *testing.T, s *sqlStore) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	get := func(key Key) {
		st, err := s.Get(ctx, key)
		out = append(out, "get "+key.RequestID+": "+outcome(st, nil, err))
	}
	regInto := func(slot *string, in Settlement, m *move) func() error {
		return func() error {
			var st Settlement
			var created bool
			var err error
			if m == nil {
				st, created, err = s.Register(ctx, in)
			} else {
				st, created, err = s.RegisterMoving(ctx, in, m.to, m.ch)
			}
			*slot = fmt.Sprintf("register %s %v: ", in.RequestID, created) + outcome(st, nil, err)
			return err
		}
	}
	reg := func(in Settlement, m *move) {
		var slot string
		_ = regInto(&slot, in, m)()
		out = append(out, slot)
	}
	exec := func(sql string) {
		if err := s.w.tx(ctx, func(ctx context.Context, q querier) error {
			_, err := q.ExecContext(ctx, sql)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	moving := &move{to: StateSubmitting, ch: Change{IncAttempts: true, Via: []Waypoint{{State: StateConfirmed, Note: "via"}}}}
	a, b, c, d := sample("a"), sample("b"), sample("c"), sample("d")
	doomed, doomed2 := sample("doomed"), sample("doomed2")

	get(a.Key)
	reg(a, nil)
	get(a.Key)
	reg(a, nil)    // known: the row as stored
	reg(a, moving) // known, moving: the row as stored, not moved
	reg(b, moving)
	get(b.Key)
	get(Key{"acme", "never"})
	get(Key{"acm", "ea"})
	get(Key{"acme", "a\xff"})

	exec(`CREATE TRIGGER refuse_doomed BEFORE INSERT ON settlements
		WHEN NEW.request_id LIKE 'doomed%' BEGIN SELECT RAISE(ABORT, 'doomed'); END`)
	reg(doomed, nil) // alone: its transaction rolled back
	get(doomed.Key)
	// A batch: c, doomed2 (rolled back to its savepoint), then d moving.
	batch := make([]string, 3)
	release := blockWriter(t, s.w)
	wait := queue(t, s.w,
		regInto(&batch[0], c, nil),
		regInto(&batch[1], doomed2, moving),
		regInto(&batch[2], d, moving),
	)
	release()
	if errs := wait(); errs[0] != nil || errs[1] == nil || errs[2] != nil {
		t.Errorf("batch errors %v, want the second's only", errs)
	}
	out = append(out, batch...)
	for _, k := range []Key{c.Key, doomed2.Key, d.Key, doomed.Key} {
		get(k)
	}
	exec(`DROP TRIGGER refuse_doomed`)
	reg(doomed2, nil)
	get(doomed2.Key)
	get(doomed.Key)
	return out
}

// TestKeyFilterBuiltFromTheTableAtOpen: a file with rows a previous
// process wrote (here inserted by hand, as a version before the filter
// would have) is opened again: every key is found, and Get of keys never
// registered runs no statement (all but the rare false positive). Above
// keyFilterMaxRows rows there is no filter, and Get queries as before.
func TestKeyFilterBuiltFromTheTableAtOpen(t *testing.T) {
	const rows = 3000
	cases := []struct {
		name    string
		maxRows int64
		filter  bool
	}{
		{"below the bound", rows + 1, true},
		{"at the bound", rows, true},
		{"above the bound", rows - 1, false},
	}
	path := filepath.Join(t.TempDir(), "s.db")
	func() {
		s := openStore(t, "sqlite:"+path)
		defer s.Close()
		// One transaction, as a previous process's many would have left them.
		err := s.w.tx(context.Background(), func(ctx context.Context, q querier) error {
			for i := range rows {
				if _, err := q.ExecContext(ctx, `INSERT INTO settlements (provider, request_id, state, created_at, updated_at)
					VALUES ($1, $2, 'received', $3, $3)`, fmt.Sprintf("p%d", i%3), fmt.Sprintf("r-%d", i), formatTime(time.Now())); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func(was int64) { keyFilterMaxRows = was }(keyFilterMaxRows)
			keyFilterMaxRows = c.maxRows
			ctx := context.Background()
			s := openStore(t, "sqlite:"+path)
			defer s.Close()
			if (s.keys != nil) != c.filter {
				t.Fatalf("key filter %v, want %v", s.keys != nil, c.filter)
			}
			n := countStatements(s)
			for i := range rows {
				key := Key{fmt.Sprintf("p%d", i%3), fmt.Sprintf("r-%d", i)}
				if _, err := s.Get(ctx, key); err != nil {
					t.Fatalf("Get %v: %v", key, err)
				}
			}
			if got := n.Load(); got != rows {
				t.Errorf("%d statements for %d keys present, want one each", got, rows)
			}
			const absent = 1000
			n.Store(0)
			for i := range absent {
				key := Key{fmt.Sprintf("p%d", i%3), fmt.Sprintf("absent-%d", i)}
				_, err := s.Get(ctx, key)
				if err == nil || err.Error() != notFoundText(key) {
					t.Fatalf("Get %v: %v, want %q", key, err, notFoundText(key))
				}
			}
			got := n.Load()
			t.Logf("%d statements for %d keys never registered", got, absent)
			if !c.filter && got != absent {
				t.Errorf("without a filter: %d statements for %d keys, want one each", got, absent)
			}
			// Sized for keyFilterInitial keys at 0.5 %: a false
			// positive among these is rare; 2 % is far beyond chance.
			if c.filter && got > absent/50 {
				t.Errorf("%d statements for %d keys never registered, want (almost) none", got, absent)
			}
		})
	}
}

// TestKeyFilterOnlyOnWritableSQLite: PostgreSQL (replicas insert too) and
// SQLite opened read-only (the worker owning the file inserts) keep no
// key filter, and Get of a key never registered queries.
func TestKeyFilterOnlyOnWritableSQLite(t *testing.T) {
	ctx := context.Background()
	key := Key{"acme", "never"}
	t.Run("sqlite read-only", func(t *testing.T) {
		dsn := "sqlite:" + filepath.Join(t.TempDir(), "s.db")
		w := openStore(t, dsn)
		if _, _, err := w.Register(ctx, sample("a")); err != nil {
			t.Fatal(err)
		}
		ro := openStore(t, dsn, ReadOnly())
		if ro.keys != nil {
			t.Error("a read-only SQLite store has a key filter")
		}
		n := countStatements(ro)
		if _, err := ro.Get(ctx, key); err == nil || err.Error() != notFoundText(key) {
			t.Errorf("Get: %v, want %q", err, notFoundText(key))
		}
		if got := n.Load(); got != 1 {
			t.Errorf("%d statements, want 1", got)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		s, c := openCountingPostgres(t)
		if s.keys != nil {
			t.Error("a PostgreSQL store has a key filter")
		}
		before := c.queries.Load()
		if _, err := s.Get(ctx, key); err == nil || err.Error() != notFoundText(key) {
			t.Errorf("Get: %v, want %q", err, notFoundText(key))
		}
		if got := c.queries.Load() - before; got != 1 {
			t.Errorf("%d statements, want 1", got)
		}
	})
}

// TestKeyFilterConcurrentRegisterThenGet: goroutines register keys (in
// shared batches) and Get each once its Register returned, while others
// Get keys never registered: every registered key is found (added before
// its commit), every other one is not, and the race detector sees the
// filter's reads and adds ordered.
func TestKeyFilterConcurrentRegisterThenGet(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, "sqlite:"+filepath.Join(t.TempDir(), "s.db"))
	const writers, each = 8, 25
	var g errgroup.Group
	for w := range writers {
		g.Go(func() error {
			for i := range each {
				in := sample(fmt.Sprintf("c-%d-%d", w, i))
				if _, _, err := s.Register(ctx, in); err != nil {
					return err
				}
				if got, err := s.Get(ctx, in.Key); err != nil || got.Fingerprint != in.Fingerprint {
					return fmt.Errorf("Get %v after its Register: %q, %v", in.Key, got.Fingerprint, err)
				}
			}
			return nil
		})
		g.Go(func() error {
			for i := range each {
				key := Key{"acme", fmt.Sprintf("never-%d-%d", w, i)}
				if _, err := s.Get(ctx, key); err == nil || err.Error() != notFoundText(key) {
					return fmt.Errorf("Get %v: %v, want %q", key, err, notFoundText(key))
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestKeyFilterAfterClose: Get on a closed store fails as it did before
// the filter (the read's error), not with ErrNotFound from the filter.
func TestKeyFilterAfterClose(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, "sqlite:"+filepath.Join(t.TempDir(), "s.db"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := s.Get(ctx, Key{"acme", "never"})
	if err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Get after Close: %v, want the closed database's error", err)
	}
}

// BenchmarkSQLiteGetOfANewKey measures what a new request's first read
// costs (handlers.Settlement's Get of a requestId never recorded), from
// several goroutines at once, on a file of 10,000 settlements: "filter"
// as the store opens, "query" without the key filter (the read-only
// pool's query, as before it). stmts/op are the statements run per Get.
func BenchmarkSQLiteGetOfANewKey(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "s.db")
	st, err := Open(ctx, "sqlite:"+path)
	if err != nil {
		b.Fatal(err)
	}
	err = st.(*sqlStore).w.tx(ctx, func(ctx context.Context, q querier) error {
		for i := range 10_000 {
			if _, err := q.ExecContext(ctx, `INSERT INTO settlements (provider, request_id, state, created_at, updated_at)
				VALUES ('radial', $1, 'settled', $2, $2)`, fmt.Sprintf("known-%d", i), formatTime(time.Now())); err != nil {
				return err
			}
		}
		return nil
	})
	st.Close()
	if err != nil {
		b.Fatal(err)
	}
	for _, filtered := range []bool{true, false} {
		name := map[bool]string{true: "filter", false: "query"}[filtered]
		b.Run(name, func(b *testing.B) {
			st, err := Open(ctx, "sqlite:"+path)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			s := st.(*sqlStore)
			if !filtered {
				s.keys = nil
			}
			n := countStatements(s)
			var ids atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					key := Key{"radial", fmt.Sprintf("new-%d", ids.Add(1))}
					if _, err := s.Get(ctx, key); !errors.Is(err, ErrNotFound) {
						b.Errorf("Get %v: %v, want ErrNotFound", key, err)
						return
					}
				}
			})
			b.ReportMetric(float64(n.Load())/float64(b.N), "stmts/op")
		})
	}
}

// TestKeyFilterGrowsWithItsKeys: a filter takes more keys than it was
// sized for without its false-positive rate rising past its bound (a
// worker that registers millions of requests between restarts), and the
// filter of an empty table is small (the backlog's RSS bound: a filter
// sized for a million keys up front is resident once its bits are set).
func TestKeyFilterGrowsWithItsKeys(t *testing.T) {
	k := newKeyFilter(1000)
	const added = 16_000 // 16 times what it was sized for
	for i := range added {
		k.add(Key{"p", fmt.Sprintf("present-%d", i)})
	}
	for i := range added {
		if key := (Key{"p", fmt.Sprintf("present-%d", i)}); !k.mayHold(key) {
			t.Fatalf("mayHold(%v) = false for a key added", key)
		}
	}
	const absent = 20_000
	fp := 0
	for i := range absent {
		if k.mayHold(Key{"p", fmt.Sprintf("absent-%d", i)}) {
			fp++
		}
	}
	t.Logf("%d false positives among %d keys never added (%.2f %%); %d bytes", fp, absent, 100*float64(fp)/absent, k.bytes())
	if rate := float64(fp) / absent; rate > 2*keyFilterFalsePositive {
		t.Errorf("false-positive rate %.3f after %d keys in a filter sized for 1000, want at most %.3f", rate, added, 2*keyFilterFalsePositive)
	}

	empty := openStore(t, "sqlite:"+filepath.Join(t.TempDir(), "s.db"))
	if b := empty.keys.bytes(); b > 128<<10 {
		t.Errorf("the filter of an empty table holds %d bytes, want at most 128 KiB", b)
	}
}

// TestKeyFilterOffPastItsBound: a filter that would grow past
// keyFilterMaxKeys is turned off, never left without a key added since:
// every key may then be there (Get queries).
func TestKeyFilterOffPastItsBound(t *testing.T) {
	defer func(was uint) { keyFilterMaxKeys = was }(keyFilterMaxKeys)
	keyFilterMaxKeys = 4000
	k := newKeyFilter(1000)
	for i := range 10_000 {
		key := Key{"p", fmt.Sprintf("present-%d", i)}
		k.add(key)
		if !k.mayHold(key) {
			t.Fatalf("mayHold(%v) = false right after its add (%d keys added)", key, i+1)
		}
	}
	if !k.mayHold(Key{"p", "never"}) {
		t.Error("past its bound the filter still says a key was never added")
	}
	if b := k.bytes(); b != 0 {
		t.Errorf("past its bound the filter holds %d bytes, want 0", b)
	}
}
