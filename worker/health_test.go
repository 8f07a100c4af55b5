package worker

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
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
