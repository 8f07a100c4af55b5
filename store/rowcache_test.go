package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"
)

// behind changes a's row through the writer with sql, as a path that
// does not know the row cache would (retention, another version's code):
// the cache still holds the row as the last transition left it.
func behind(t *testing.T, s *sqlStore, a Key, sql string, args ...any) {
	t.Helper()
	err := s.w.tx(context.Background(), func(ctx context.Context, q querier) error {
		res, err := q.ExecContext(ctx, sql+` WHERE provider = ? AND request_id = ?`, append(args, a.Provider, a.RequestID)...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%d rows changed", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A transition from a cached row whose row was changed behind the cache
// decides on the row, never on the copy: a move the copy allows but the
// row does not is a conflict, and a move that applies carries the row's
// values over, not the copy's. (With sqliteMoveCached comparing only the
// state, as sqliteMove does, the parked, attempts, refs and decline cases
// fail: the copy's values win.)
func TestRowCacheRowChangedBehindIt(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name     string
		sql      string
		args     []any
		ch       Change
		conflict bool
		check    func(Settlement) error
	}{
		{name: "state", sql: `UPDATE settlements SET state = 'refused'`, conflict: true},
		{name: "parked", sql: `UPDATE settlements SET parked_reason = 'a person looks'`,
			ch: Change{IfNotParked: true}, conflict: true},
		{name: "attempts", sql: `UPDATE settlements SET attempts = 7`,
			ch: Change{IfAttempts: 1}, conflict: true},
		{name: "refs", sql: `UPDATE settlements SET refs = ?`, args: []any{encodeMap(map[string]string{"callSentAt": "later"})},
			ch: Change{IfRefs: map[string]string{"callSentAt": "first"}}, conflict: true},
		{name: "decline reason", sql: `UPDATE settlements SET decline_reason = 'from the row'`,
			check: func(st Settlement) error {
				if st.DeclineReason != "from the row" {
					return fmt.Errorf("decline reason %q, want the row's", st.DeclineReason)
				}
				return nil
			}},
		{name: "attempts, no check", sql: `UPDATE settlements SET attempts = 7`,
			ch: Change{IncAttempts: true},
			check: func(st Settlement) error {
				if st.Attempts != 8 {
					return fmt.Errorf("%d attempts, want the row's 7 + 1", st.Attempts)
				}
				return nil
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _ := openSQLiteFile(t)
			a := sample("a")
			if _, _, err := s.Register(ctx, a); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Transition(ctx, a.Key, []State{StateReceived}, StateConfirming,
				Change{IncAttempts: true, Refs: map[string]string{"callSentAt": "first"}}, nil); err != nil {
				t.Fatal(err)
			}
			if _, ok := s.rows.get(a.Key); !ok {
				t.Fatal("the row is not cached after its transition")
			}
			behind(t, s, a.Key, c.sql, c.args...)
			got, _, err := s.Transition(ctx, a.Key, []State{StateConfirming}, StateConfirmed, c.ch, nil)
			if c.conflict {
				if !errors.Is(err, ErrStateConflict) {
					t.Fatalf("got %s, %v; want ErrStateConflict (the row changed)", got.State, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := c.check(got); err != nil {
				t.Error("returned: ", err)
			}
			stored, err := s.Get(ctx, a.Key)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.check(stored); err != nil {
				t.Error("stored: ", err)
			}
		})
	}
}

// A transaction rolled back whole (its COMMIT failed) empties the row
// cache: the rows its writes put there may not exist.
func TestRowCacheEmptiedWhenTheTransactionRollsBack(t *testing.T) {
	s, _ := openSQLiteFile(t)
	ctx := context.Background()
	a := sample("a")
	if _, _, err := s.Register(ctx, a); err != nil {
		t.Fatal(err)
	}
	release := blockWriter(t, s.w)
	wait := queue(t, s.w,
		func() error {
			_, _, err := s.Transition(ctx, a.Key, []State{StateReceived}, StateConfirming, Change{}, nil)
			return err
		},
		// A foreign key checked at COMMIT: the whole batch rolls back.
		func() error {
			return s.w.tx(ctx, func(ctx context.Context, q querier) error {
				if _, err := q.ExecContext(ctx, `PRAGMA defer_foreign_keys = ON`); err != nil {
					return err
				}
				_, err := q.ExecContext(ctx, `INSERT INTO status_events (provider, request_id, seq, dedup_key, message_id, created_at)
					VALUES ('acme', 'nobody', 1, 'd', 'm-nobody', 'x')`)
				return err
			})
		},
	)
	release()
	errs := wait()
	if errs[0] == nil || errs[1] == nil {
		t.Fatalf("errors %v: want the batch rolled back", errs)
	}
	if n := len(s.rows.rows); n != 0 {
		t.Errorf("%d rows cached after the rollback, want none", n)
	}
	got, err := s.Get(ctx, a.Key)
	if err != nil || got.State != StateReceived {
		t.Fatalf("a = %s, %v; want received (rolled back)", got.State, err)
	}
	if _, _, err := s.Transition(ctx, a.Key, []State{StateReceived}, StateConfirming, Change{}, nil); err != nil {
		t.Errorf("moving a again: %v", err)
	}
}

// The row a transition returns is the caller's: changing its maps or its
// request changes neither the cache nor the next transition's row.
func TestRowCacheReturnsRowsOfTheirOwn(t *testing.T) {
	s, _ := openSQLiteFile(t)
	ctx := context.Background()
	a := sample("a")
	reg, _, err := s.Register(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	reg.Refs["x"], reg.Headers["x-tenant"] = "mine", "mine"
	got, _, err := s.Transition(ctx, a.Key, []State{StateReceived}, StateConfirming,
		Change{Refs: map[string]string{"k": "v"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got.Refs["k"], got.Headers["x-tenant"] = "changed", "changed"
	got.Request[0] = 'X'
	next, _, err := s.Transition(ctx, a.Key, []State{StateConfirming}, StateConfirmed,
		Change{IfRefs: map[string]string{"k": "v"}}, nil)
	if err != nil {
		t.Fatalf("the caller's change reached the cache: %v", err)
	}
	stored, err := s.Get(ctx, a.Key)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(next.Refs, stored.Refs) || !maps.Equal(next.Headers, stored.Headers) || string(next.Request) != string(stored.Request) {
		t.Errorf("returned %v %v %q, stored %v %v %q", next.Refs, next.Headers, next.Request, stored.Refs, stored.Headers, stored.Request)
	}
	if next.Headers["x-tenant"] != "t1" || next.Refs["x"] != "" {
		t.Errorf("returned %v %v: a caller's change to an earlier row leaked", next.Refs, next.Headers)
	}
}

// The cache keeps settlements that still move, within its bounds: at most
// rowCacheSize rows and rowCacheBytes, no row above rowCacheMaxRow (a
// large request body would otherwise be held a thousand times over: ops'
// TestStuckReadsAPageAtATime saw the heap of 2000 registered 48 KB
// requests).
func TestRowCacheBounded(t *testing.T) {
	row := func(id string, body int) cachedRow {
		return cachedRow{st: Settlement{Key: Key{"acme", id}, State: StateSubmitting, Request: make([]byte, body)}}
	}
	for _, c := range []struct {
		name     string
		body     int
		maxRows  int
		maxBytes int
	}{
		{"small rows", 10, rowCacheSize, rowCacheBytes},
		{"8 KiB rows", 8 << 10, rowCacheBytes / (8 << 10), rowCacheBytes},
		{"rows above the limit", rowCacheMaxRow, 0, 0},
	} {
		cache := newRowCache()
		for i := 0; i < 3*rowCacheSize; i++ {
			cache.put(row(fmt.Sprint(i), c.body))
			if len(cache.rows) > c.maxRows || cache.bytes > c.maxBytes {
				t.Fatalf("%s: %d rows, %d bytes after %d puts; want at most %d, %d", c.name, len(cache.rows), cache.bytes, i+1, c.maxRows, c.maxBytes)
			}
		}
		sum := 0
		for _, r := range cache.rows {
			sum += r.size
		}
		if sum != cache.bytes || (c.maxRows > 0 && len(cache.rows) == 0) {
			t.Errorf("%s: %d rows counted as %d bytes, summing to %d", c.name, len(cache.rows), cache.bytes, sum)
		}
	}
	cache := newRowCache()
	k := Key{"acme", "t"}
	for _, st := range []Settlement{{Key: k, State: StateSettled}, {Key: k, State: StateAcknowledged, ParkedReason: "p"}} {
		cache.put(cachedRow{st: Settlement{Key: k, State: StateSubmitting}})
		cache.put(cachedRow{st: st})
		if _, ok := cache.get(k); ok || cache.bytes != 0 {
			t.Errorf("%s (parked %q) still cached (%d bytes)", st.State, st.ParkedReason, cache.bytes)
		}
	}
}

// A job whose function moved a settlement (its row put in the cache) and
// then failed or panicked is rolled back, alone (its savepoint, in a
// batch) or with its transaction: the cache must not keep the row its
// undone writes left. With a fixed clock the row's updated_at does not
// tell the undone write from the one before, and the copy's next seq
// (one past the undone event) would make a gap in the settlement's events.
func TestRowCacheForgetsAJobRolledBack(t *testing.T) {
	at := time.Date(2026, 12, 7, 21, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		batch bool
		fail  func() error
	}{
		{"alone, error", false, func() error { return errors.New("a later step failed") }},
		{"alone, panic", false, func() error { panic("a later step panicked") }},
		{"in a batch, error", true, func() error { return errors.New("a later step failed") }},
		{"in a batch, panic", true, func() error { panic("a later step panicked") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := openCacheRig(t, func() time.Time { return at }, true, false, nil)
			s, ctx := r.s, context.Background()
			a, other := sample("a"), sample("other")
			for _, in := range []Settlement{a, other} {
				if _, _, err := s.Register(ctx, in); err != nil {
					t.Fatal(err)
				}
			}
			ev := func(d string) *StatusEvent { return &StatusEvent{DedupKey: d, MessageID: "m-" + d} }
			if _, _, err := s.Transition(ctx, a.Key, []State{StateReceived}, StatePending, Change{}, ev("P1")); err != nil {
				t.Fatal(err)
			}
			undone := func() error {
				return s.w.tx(ctx, func(ctx context.Context, q querier) error {
					if _, _, err := s.transitionTx(ctx, q, a.Key, []State{StatePending}, StatePending, Change{}, ev("P2")); err != nil {
						return err
					}
					return c.fail()
				})
			}
			if c.batch {
				release := blockWriter(t, s.w)
				wait := queue(t, s.w, func() error {
					_, _, err := s.Transition(ctx, other.Key, nil, StateConfirming, Change{}, nil)
					return err
				}, undone)
				release()
				if errs := wait(); errs[0] != nil || errs[1] == nil {
					t.Fatalf("errors %v, want the second's only", errs)
				}
			} else if err := undone(); err == nil {
				t.Fatal("the failing job succeeded")
			}
			if _, _, err := s.Transition(ctx, a.Key, []State{StatePending}, StatePending, Change{}, ev("P3")); err != nil {
				t.Fatal(err)
			}
			evs, err := s.Statuses(ctx, a.Key)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range evs {
				got = append(got, fmt.Sprintf("%d:%s", e.Seq, e.DedupKey))
			}
			if want := []string{"1:P1", "2:P3"}; !slices.Equal(got, want) {
				t.Errorf("events %v, want %v", got, want)
			}
		})
	}
}
