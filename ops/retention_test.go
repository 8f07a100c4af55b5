package ops_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/ops"
	"github.com/settlement-worker/settlement-worker/store"
)

func TestRetentionEmptiesFinishedBodies(t *testing.T) {
	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "s.db")
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	key := store.Key{Provider: "radial", RequestID: "r-old"}
	if _, _, err := st.Register(ctx, store.Settlement{Key: key, StoreID: "S", OrderID: "O", SettlementType: "Debit", Amount: "1.00", Currency: "USD", Request: []byte("<r/>")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Transition(ctx, key, nil, store.StateSettled, store.Change{}, nil); err != nil {
		t.Fatal(err)
	}
	st.Close()

	var out bytes.Buffer
	e := ops.Env{StoreDSN: dsn, Out: &out, Now: func() time.Time { return time.Now().Add(48 * time.Hour) }}
	if err := ops.Retention(ctx, e, 24*time.Hour, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "emptied the bodies of 1 settlement(s)") {
		t.Errorf("output %q", out.String())
	}
	st, err = store.Open(ctx, dsn, store.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if s, err := st.Get(ctx, key); err != nil || len(s.Request) != 0 || s.State != store.StateSettled {
		t.Errorf("after retention: %+v %v", s, err)
	}
}

// TestRetentionNeedsAnExistingStore: retention opened STORE_DSN for
// writing, which creates an SQLite store that is not there: a mistyped
// path, or a PostgreSQL DSN written as a keyword string (an SQLite path to
// the store), got a new empty database file and "emptied the bodies of 0
// settlement(s)", exit 0, while the real store kept every body. It fails
// now, naming the missing store, and creates nothing.
func TestRetentionNeedsAnExistingStore(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, dsn := range []string{
		"sqlite:" + filepath.Join(dir, "setlements.db"), // a typo of the worker's file
		filepath.Join(dir, "nosuch", "s.db"),
		"host=127.0.0.1 port=1 user=postgres dbname=x",
	} {
		var out bytes.Buffer
		e := ops.Env{StoreDSN: dsn, Out: &out}
		err := ops.Retention(context.Background(), e, 24*time.Hour, 0)
		if err == nil {
			t.Errorf("%s: retention succeeded: %s", dsn, out.String())
		}
		if strings.Contains(out.String(), "emptied") {
			t.Errorf("%s: output %q", dsn, out.String())
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("retention created %v", entries)
	}
}
