package worker_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// TestRunWaitsForAStoreNotUpYet: a replica (re)started while its
// PostgreSQL fails over or restarts, the server not reachable yet, waits
// for it as it waits for a broker not up yet: /readyz says the store is
// down and why, and once the server answers the worker consumes (the fake provider's
// status queue does not exist here: /readyz stays 503 for it). It used
// to stop at once ("cannot open PostgreSQL"), the process restarted in a
// loop by its supervisor, without /healthz, for as long as the failover
// lasted. A server that answers and refuses (an unknown database) still
// stops it, naming STORE_DSN.
func TestRunWaitsForAStoreNotUpYet(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	proxy := testenv.PostgresProxy(t, dsn, testenv.EndsBoth)
	proxy.Down()
	cfg, clients := load(t, testenv.AMQPURL(t), "STORE_DSN", proxy.DSN())
	_, done := start(t, cfg, clients)

	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("Run stopped while the store was not reachable yet: %v", err)
		default:
		}
		code, body := get(cfg.HTTPAddr, "/readyz")
		if code == 503 && strings.Contains(body, "store: down: ") && !strings.Contains(body, "store: down: opening") {
			t.Logf("/readyz while the store is down:\n%s", body)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz does not say why the store is down: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	select {
	case err := <-done:
		t.Fatalf("Run stopped while the store was not reachable yet: %v", err)
	default:
	}

	proxy.Up()
	deadline = time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("Run stopped: %v", err)
		default:
		}
		code, body := get(cfg.HTTPAddr, "/readyz")
		if strings.Contains(body, "store: ok") && strings.Contains(body, "router: ok") && strings.Contains(body, "consumer acme: ok") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker is not ready 30 s after the store came back: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}

	t.Run("refused", func(t *testing.T) {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/no_such_database_here"
		cfg, clients := load(t, testenv.AMQPURL(t), "STORE_DSN", u.String())
		_, done := start(t, cfg, clients)
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "STORE_DSN") {
				t.Fatalf("Run = %v, want an error naming STORE_DSN", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the worker kept running on a database that does not exist")
		}
	})
}
