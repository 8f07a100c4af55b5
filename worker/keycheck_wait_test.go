package worker_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/store"
)

// TestKeyCheckWaitsForAStoreNotReachableForAMoment: the store key check
// (CheckKeys) runs after the store opened. A PostgreSQL that went away
// in between (a failover, a restart: the check's query ends with its
// session) stopped the worker, as for a key that is not the store's,
// where Open on the same server waits: a replica restarted during a
// failover stopped instead of waiting for it. A transient failure of the
// check is now waited for like the store itself (/readyz says so, it is
// logged), and the worker starts once the server is back; a key mismatch
// still stops it (TestReplicaWithAnotherStoreKeyDoesNotStart). The
// server goes away exactly when the check's first query reaches it: a
// proxy cuts every session when it sees it, and refuses new ones until
// the test lets them through.
func TestKeyCheckWaitsForAStoreNotReachableForAMoment(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresDSN(t)
	st, err := store.Open(ctx, dsn) // migrated now: Open sends no key check query
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	proxy := newTriggerProxy(t, dsn, []byte("store_key_check"))

	cfg, clients := load(t, testenv.AMQPURL(t), "STORE_DSN", proxy.dsn, "STORE_ENCRYPTION_KEY", newKey(t), "STORE_OUTAGE_BACKOFF", "500ms")
	_, done := start(t, cfg, clients)
	// bound is long enough for a start on a loaded machine under -race.
	const bound = 45 * time.Second
	deadline := time.Now().Add(bound)
	for {
		select {
		case err := <-done:
			t.Fatalf("Run stopped while the store was not reachable for a moment: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		code, body := get(cfg.HTTPAddr, "/readyz")
		if proxy.fired.Load() && code == 503 && strings.Contains(body, "store: down: ") && strings.Contains(body, "key check") {
			t.Logf("/readyz while the key check waits:\n%s", body)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz does not say the key check waits (proxy cut: %v): %d %s", proxy.fired.Load(), code, body)
		}
	}
	select {
	case err := <-done:
		t.Fatalf("Run stopped while the store was not reachable for a moment: %v", err)
	case <-time.After(time.Second):
	}

	proxy.up.Store(true)
	untilRunning(t, cfg.HTTPAddr, done, bound, "Run stopped: %v", "the worker is not running after the store came back")
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var n int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM store_key_check").Scan(&n); err != nil || n != 1 {
		t.Fatalf("key check rows %d (%v), want the one recorded", n, err)
	}
}

// triggerProxy forwards TCP to PostgreSQL until a client sends trigger:
// then it cuts every connection and refuses new ones until up is set.
type triggerProxy struct {
	dsn   string
	fired atomic.Bool
	up    atomic.Bool
	mu    sync.Mutex
	conns []net.Conn
}

func newTriggerProxy(t *testing.T, dsn string, trigger []byte) *triggerProxy {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	u.Host = ln.Addr().String()
	p := &triggerProxy{dsn: u.String()}
	cut := func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.conns = nil
	}
	t.Cleanup(cut)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if p.fired.Load() && !p.up.Load() {
				_ = c.Close()
				continue
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(c, s); _ = c.Close() }()
			go func() {
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if !p.fired.Load() && bytes.Contains(buf[:n], trigger) {
							p.fired.Store(true)
							cut()
							return
						}
						if _, werr := s.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						_ = s.Close()
						return
					}
				}
			}()
		}
	}()
	return p
}
