package ops_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/ops"
)

// silentServer accepts TCP connections and never answers: a database
// server that stopped answering (stopped, swapping, behind a dead proxy)
// whose kernel still completes the handshake.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return ln.Addr().String()
}

// TestStoreCommandsEndOnAStoreThatStopsAnswering: an operator command
// reading the store (show, stuck, stats, retention) against a PostgreSQL
// that accepts connections and never answers waited forever, silently:
// the context the command line gives them ends only on Ctrl-C, and the
// store's connection has no timeout of its own. Each now fails within
// Env.Timeout, saying the store did not answer.
func TestStoreCommandsEndOnAStoreThatStopsAnswering(t *testing.T) {
	const secret = "s3cretpw"
	dsn := "postgres://postgres:" + secret + "@" + silentServer(t) + "/x?sslmode=disable"
	for name, run := range map[string]func(context.Context, ops.Env) error{
		"show":      func(ctx context.Context, e ops.Env) error { return ops.Show(ctx, e, "r1", nil, false) },
		"stuck":     func(ctx context.Context, e ops.Env) error { return ops.Stuck(ctx, e, nil, nil, time.Hour, false) },
		"stats":     func(ctx context.Context, e ops.Env) error { return ops.Stats(ctx, e, false) },
		"retention": func(ctx context.Context, e ops.Env) error { return ops.Retention(ctx, e, time.Hour, 0) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var out, errw syncBuffer
			// The broker half of stats answers at once (nothing listens).
			e := ops.Env{StoreDSN: dsn, AMQPURL: "amqp://guest:guest@127.0.0.1:1/", Providers: providers,
				Out: &out, Err: &errw, Timeout: 2 * time.Second}
			done := started(func() error { return run(context.Background(), e) })
			err := ended(t, done, 20*time.Second, name+" on a store that never answers (Timeout 2s)", nil)
			if err == nil {
				t.Fatalf("%s succeeded against a store that never answers", name)
			}
			s := err.Error() + out.String() + errw.String()
			if !strings.Contains(s, "did not answer") {
				t.Errorf("%s: the error does not say the store did not answer: %v", name, err)
			}
			if strings.Contains(s, secret) {
				t.Errorf("%s printed the password: %s", name, s)
			}
		})
	}
}
