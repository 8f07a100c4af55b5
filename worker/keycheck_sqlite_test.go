package worker_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/store"
	"github.com/settlement-worker/settlement-worker/worker"
)

// A replica without STORE_ENCRYPTION_KEY watches the store's key check
// (one read every 2 s) so that it stops once a keyed replica starts beside
// it. It did so on SQLite too, where no replica can start beside it (the
// file is locked by one process, store.Open refuses a second): reads for
// nothing, for as long as it ran. It now watches only a store replicas
// share (PostgreSQL); there the reads go on (and
// TestKeylessReplicaStopsOnceAKeyedOneRecordsTheCheck shows it stopping).
func TestKeylessReplicaWatchesTheKeyCheckOnlyOnASharedStore(t *testing.T) {
	cases := []struct {
		name      string
		dsn       func(t *testing.T) []string
		wantReads bool
	}{
		{"sqlite", func(*testing.T) []string { return nil }, false},
		{"postgres", func(t *testing.T) []string { return []string{"STORE_DSN", testenv.PostgresDSN(t)} }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var reads atomic.Int64
			restore := worker.WatchKeyCheckWith(20*time.Millisecond, func(ctx context.Context, st store.Store) (bool, error) {
				reads.Add(1)
				return store.KeyCheckRecorded(ctx, st)
			})
			t.Cleanup(restore) // after the worker stopped (cleanups run last first)
			cfg, clients := load(t, testenv.AMQPURL(t), tc.dsn(t)...)
			_, done := start(t, cfg, clients)
			waitFor(t, "the keyless replica running", 45*time.Second, func() (bool, string) {
				select {
				case err := <-done:
					t.Fatalf("the worker stopped: %v", err)
				default:
				}
				_, body := get(cfg.HTTPAddr, "/readyz")
				return strings.Contains(body, "store: ok") && strings.Contains(body, "router: ok"), body
			})
			time.Sleep(time.Second) // 50 ticks of the watcher
			if n := reads.Load(); (n > 0) != tc.wantReads {
				t.Errorf("%d reads of the key check in a second, want reads: %v", n, tc.wantReads)
			}
		})
	}
}
