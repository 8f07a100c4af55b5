package worker_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/store"
)

// TestKeylessReplicaStopsOnceAKeyedOneRecordsTheCheck: a replica without
// STORE_ENCRYPTION_KEY records nothing (so that a key may be set later),
// and a keyed replica started beside it, at the same moment on a fresh
// database or later, recorded its check and ran: both configurations ran
// on one store, the keyless replica unable to open any body the other
// sealed (its retries, duplicates and sweeps of those settlements).
// The keyless replica now watches the store's key check while it runs
// and stops (ErrKeyMismatch, exit 2) once one is recorded: exactly one
// configuration keeps running.
func TestKeylessReplicaStopsOnceAKeyedOneRecordsTheCheck(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresDSN(t)
	cfg, clients := load(t, testenv.AMQPURL(t), "STORE_DSN", dsn)
	_, done := start(t, cfg, clients)
	// bound is long enough for a start on a loaded machine under -race.
	const bound = 45 * time.Second
	untilRunning(t, cfg.HTTPAddr, done, bound, "the keyless replica did not start: %v", "the keyless replica is not running")

	// A keyed replica starts: its check passes and is recorded.
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key := newKey(t)
	ring, err := store.ParseKeyring(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CheckKeys(ctx, st, ring); err != nil {
		t.Fatalf("the keyed replica's check: %v", err)
	}

	select {
	case err := <-done:
		if !errors.Is(err, store.ErrKeyMismatch) || !strings.Contains(err.Error(), "STORE_ENCRYPTION_KEY") || strings.Contains(err.Error(), key) {
			t.Fatalf("Run = %v, want ErrKeyMismatch naming STORE_ENCRYPTION_KEY, no key", err)
		}
	case <-time.After(bound):
		t.Fatal("the keyless replica kept running beside a keyed one")
	}
}
