package worker_test

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

func newKey(t *testing.T) string {
	t.Helper()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(raw)
}

// Replicas sharing a PostgreSQL store with different STORE_ENCRYPTION_KEYs
// (or one with none) each sealed rows the others could not open: a
// settlement one replica recorded was unreadable to the others (its retry,
// its duplicate, the sweeper's relay of its verdict), and nothing said so
// at start. The first replica with a key records a check value sealed with
// it; a replica whose keys do not open it does not start, naming the
// setting and no key. During a rotation the previous key, kept in
// STORE_ENCRYPTION_OLD_KEYS, is accepted; once a replica with the new key
// current has started, one without the new key is refused.
func TestReplicaWithAnotherStoreKeyDoesNotStart(t *testing.T) {
	amqpURL := testenv.AMQPURL(t)
	dsn := testenv.PostgresDSN(t)
	k1, k2 := newKey(t), newKey(t)
	replica := func(key, old string) (string, <-chan error) {
		cfg, clients := load(t, amqpURL, "STORE_DSN", dsn, "STORE_ENCRYPTION_KEY", key, "STORE_ENCRYPTION_OLD_KEYS", old, "SWEEP_INTERVAL", "1h")
		_, done := start(t, cfg, clients)
		return cfg.HTTPAddr, done
	}
	// bound is long enough for a start on a loaded machine under -race.
	const bound = 45 * time.Second
	runs := func(t *testing.T, key, old string) {
		t.Helper()
		addr, done := replica(key, old)
		deadline := time.Now().Add(bound)
		for time.Now().Before(deadline) {
			select {
			case err := <-done:
				t.Fatalf("Run = %v, want a running worker", err)
			case <-time.After(100 * time.Millisecond):
			}
			if code, body := get(addr, "/readyz"); code == 200 || strings.Contains(body, "router: ok") {
				return
			}
		}
		t.Fatalf("not running within %s", bound)
	}
	refused := func(t *testing.T, key, old string) {
		t.Helper()
		_, done := replica(key, old)
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "STORE_ENCRYPTION_KEY") {
				t.Fatalf("Run = %v, want an error naming STORE_ENCRYPTION_KEY", err)
			}
			for _, k := range []string{k1, k2} {
				if strings.Contains(err.Error(), k) {
					t.Fatalf("the error shows a key: %v", err)
				}
			}
		case <-time.After(bound):
			t.Fatal("the worker kept running")
		}
	}

	t.Run("first replica, key 1", func(t *testing.T) { runs(t, k1, "") })
	t.Run("another key", func(t *testing.T) { refused(t, k2, "") })
	t.Run("no key", func(t *testing.T) { refused(t, "", "") })
	t.Run("same key", func(t *testing.T) { runs(t, k1, "") })
	t.Run("rotation: key 2, key 1 kept as old", func(t *testing.T) { runs(t, k2, k1) })
	t.Run("after the rotation: key 1 alone", func(t *testing.T) { refused(t, k1, "") })
	t.Run("after the rotation: key 1 with key 2 as old", func(t *testing.T) { runs(t, k1, k2) })
}
