package store

import (
	"context"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// TestSharedNow: PostgreSQL's store reads the database's clock (every
// replica's), also through Encrypted; SQLite's shares none.
func TestSharedNow(t *testing.T) {
	ctx := context.Background()
	pg, err := Open(ctx, testenv.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	lite, err := Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lite.Close() })
	for name, tc := range map[string]struct {
		st     Store
		shared bool
	}{"postgres": {pg, true}, "postgres, encrypted": {Encrypted(pg, nil), true}, "sqlite": {lite, false}} {
		at, shared, err := tc.st.SharedNow(ctx)
		if err != nil || shared != tc.shared {
			t.Fatalf("%s: SharedNow = %v, %v, %v; want shared %v", name, at, shared, err, tc.shared)
		}
		// The test's PostgreSQL runs on this host: its clock is ours.
		if shared && (at.Sub(time.Now()).Abs() > 5*time.Second) {
			t.Fatalf("%s: the database's clock says %v, ours %v", name, at, time.Now())
		}
	}
}
