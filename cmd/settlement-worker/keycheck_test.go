package main_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/store"
)

// A STORE_ENCRYPTION_KEY that is not the store's key is a configuration
// error: the worker exits 2 (as for any other), naming the setting and
// showing no key.
func TestStoreKeyMismatchExits2(t *testing.T) {
	const recorded = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	const other = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
	db := filepath.Join(t.TempDir(), "keyed.db")
	st, err := store.Open(context.Background(), "sqlite:"+db)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := store.ParseKeyring(recorded, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CheckKeys(context.Background(), st, keys); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	env := append(workerEnv(t, testenv.AMQPURL(t)), "STORE_DSN=sqlite:"+db, "STORE_ENCRYPTION_KEY="+other, "RADIAL_STATUS_QUEUE=q.keycheck.radial.status")
	_, stderr, code := sw(t, env)
	if code != 2 || !strings.Contains(stderr, "STORE_ENCRYPTION_KEY") || strings.Contains(stderr, other) || strings.Contains(stderr, recorded) {
		t.Fatalf("exit %d, stderr %s; want 2 naming STORE_ENCRYPTION_KEY, no key", code, stderr)
	}
}
