package store

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// CheckLock runs before every provider call, twice per settlement. Reading
// pg_locks for it copied the server's whole lock table (every lock of every
// session, under each lock partition's lock) and cost the PostgreSQL bench
// more than a key look-up: 0.27 ms a call at 64 handlers, 12,000 calls for
// 6,000 settlements. The check must stay one statement on the session that
// holds the lock, and not scan that table.
func TestCheckLockIsOneStatementThatDoesNotReadPgLocks(t *testing.T) {
	s, c := openCountingPostgres(t)
	ctx := context.Background()
	unlock, err := s.LockOrder(ctx, "miva", "S1", "O1")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	q0 := c.queries.Load()
	if err := s.CheckLock(ctx, "miva", "S1", "O1"); err != nil {
		t.Fatalf("CheckLock while held: %v", err)
	}
	if n := c.queries.Load() - q0; n != 1 {
		t.Fatalf("CheckLock sent %d statements, want 1", n)
	}
	if sql := *c.last.Load(); strings.Contains(sql, "pg_locks") {
		t.Errorf("CheckLock reads pg_locks: %s", sql)
	}
}

// The cases the check must see as lost, each on the session that took the
// lock: a pooler resetting it between clients (DISCARD ALL drops its
// advisory locks and its settings), a session showing the token of an
// earlier hold, and one whose setting was cleared (the lock may still be
// held there: reporting it lost only stops a provider call).
func TestCheckLockSeesTheSessionLoseItsLock(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		on   string // run on the lock's session
	}{
		{"session reset by a pooler", `DISCARD ALL`},
		{"setting of an earlier hold", `SELECT set_config('` + lockTokenSetting + `', '1/0000000000000000', false)`},
		{"setting cleared", `RESET ` + lockTokenSetting},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openCountingPostgres(t)
			unlock, err := s.LockOrder(ctx, "miva", "S1", "O1")
			if err != nil {
				t.Fatal(err)
			}
			defer unlock()
			if err := s.CheckLock(ctx, "miva", "S1", "O1"); err != nil {
				t.Fatalf("CheckLock while held: %v", err)
			}
			s.heldMu.Lock()
			h := s.held[orderKey("miva", "S1", "O1")]
			s.heldMu.Unlock()
			if _, err := h.sess.conn.ExecContext(ctx, tc.on); err != nil {
				t.Fatal(err)
			}
			if err := s.CheckLock(ctx, "miva", "S1", "O1"); !errors.Is(err, ErrLockLost) {
				t.Fatalf("CheckLock after %s = %v, want ErrLockLost", tc.name, err)
			}
		})
	}
}

// Two holds of one order, one after the other, may run on the same pooled
// connection: each shows its own token, and only while it holds the lock.
func TestCheckLockAfterRelockingOnTheSameSession(t *testing.T) {
	ctx := context.Background()
	s, _ := openCountingPostgres(t)
	s.db.SetMaxOpenConns(1) // every hold on the one session
	for i := range 3 {
		unlock, err := s.LockOrder(ctx, "miva", "S1", "O1")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CheckLock(ctx, "miva", "S1", "O1"); err != nil {
			t.Fatalf("hold %d: CheckLock while held: %v", i, err)
		}
		unlock()
		if err := s.CheckLock(ctx, "miva", "S1", "O1"); !errors.Is(err, ErrLockLost) {
			t.Fatalf("hold %d: CheckLock after unlock = %v, want ErrLockLost", i, err)
		}
	}
}
