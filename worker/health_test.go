package worker

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestOpsServerLetsGoOfIdleAndStalledConnections: the server of /healthz,
// /readyz and /metrics had only a ReadHeaderTimeout, which net/http applies
// to a request's headers and not to the wait for the next request on a
// keep-alive connection nor to a body: a client that sent one request and
// then nothing (every keep-alive scraper or proxy that goes away without a
// FIN), or that announced a body it never sent, held its connection and
// its goroutine for ever. Enough of them use up the process's file
// descriptors, and then the worker cannot reach its broker, store or
// providers. Each connection must now be closed by the server within its
// timeouts (shortened here).
func TestOpsServerLetsGoOfIdleAndStalledConnections(t *testing.T) {
	saved := [3]time.Duration{opsReadTimeout, opsIdleTimeout, opsWriteTimeout}
	t.Cleanup(func() { opsReadTimeout, opsIdleTimeout, opsWriteTimeout = saved[0], saved[1], saved[2] })
	opsReadTimeout, opsIdleTimeout, opsWriteTimeout = time.Second, time.Second, 2*time.Second

	s, err := listen("127.0.0.1:0", opsMux(NewReadiness(), prometheus.NewRegistry()), opsWriteTimeout)
	if err != nil {
		t.Fatal(err)
	}
	s.serve(func(err error) { t.Errorf("serve: %v", err) })
	t.Cleanup(s.shutdown)

	tests := []struct{ name, request string }{
		{"idle after a request", "GET /healthz HTTP/1.1\r\nHost: ops\r\n\r\n"},
		{"a body that never comes", "GET /healthz HTTP/1.1\r\nHost: ops\r\nContent-Length: 1000\r\n\r\n0123456789"},
		{"metrics, then idle", "GET /metrics HTTP/1.1\r\nHost: ops\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", s.ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, tt.request); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(6 * time.Second))
			r := bufio.NewReader(c)
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			start := time.Now()
			// The client now sends nothing more: the server must close.
			_, err = r.ReadByte()
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				t.Fatalf("the connection is still open %v after the answer (read, idle timeouts 1s)", time.Since(start).Round(time.Millisecond))
			case err == nil:
				t.Fatal("unexpected bytes after the answer")
			}
			t.Logf("closed by the server %v after the answer: %v", time.Since(start).Round(time.Millisecond), err)
		})
	}
}

// TestReadinessChecksAreSharedAndBounded: every GET /readyz ran every
// check itself, so a burst of them pinged the store (a connection of the
// pool each, or the SQLite writer's queue) and the broker once per
// request, competing with the settlements for the store's connections;
// and a check that did not return held its request's answer, and its
// goroutine, for ever. Concurrent /readyz now share one run of the checks,
// and each is answered within its 2 s even when a check never returns.
func TestReadinessChecksAreSharedAndBounded(t *testing.T) {
	serve := func(t *testing.T, r *Readiness) string {
		s, err := listen("127.0.0.1:0", opsMux(r, prometheus.NewRegistry()), opsWriteTimeout)
		if err != nil {
			t.Fatal(err)
		}
		s.serve(func(err error) { t.Errorf("serve: %v", err) })
		t.Cleanup(s.shutdown)
		return "http://" + s.ln.Addr().String()
	}
	get := func(url string) (int, string, error) {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url + "/readyz")
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}

	t.Run("a burst runs the checks once at a time", func(t *testing.T) {
		var (
			mu            sync.Mutex
			running, most int
			calls         int
		)
		r := NewReadiness()
		r.Set("store", func(ctx context.Context) error {
			mu.Lock()
			running++
			calls++
			most = max(most, running)
			mu.Unlock()
			time.Sleep(300 * time.Millisecond)
			mu.Lock()
			running--
			mu.Unlock()
			return nil
		})
		url := serve(t, r)
		const n = 32
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, body, err := get(url)
				if err != nil || code != http.StatusOK {
					t.Errorf("/readyz: %d %q %v", code, body, err)
				}
			}()
		}
		wg.Wait()
		t.Logf("%d requests: %d runs of the check, at most %d at once", n, calls, most)
		if most != 1 {
			t.Errorf("the check ran %d times at once for a burst of %d /readyz", most, n)
		}
	})

	t.Run("a check that never returns", func(t *testing.T) {
		stuck := make(chan struct{})
		t.Cleanup(func() { close(stuck) })
		r := NewReadiness()
		r.Set("broker", func(context.Context) error { <-stuck; return nil }) // ignores its context
		url := serve(t, r)
		for i := range 3 {
			start := time.Now()
			code, body, err := get(url)
			if err != nil {
				t.Fatalf("/readyz %d: no answer after %v: %v", i+1, time.Since(start).Round(time.Millisecond), err)
			}
			if code != http.StatusServiceUnavailable {
				t.Fatalf("/readyz %d: %d %q, want 503", i+1, code, body)
			}
			t.Logf("/readyz %d: %d after %v: %q", i+1, code, time.Since(start).Round(time.Millisecond), body)
		}
	})
}
