package intake

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestRequestsInFlightAreBounded: every webhook request read its body (up
// to MaxBodyBytes) before its credentials were looked at, and nothing
// bounded how many were handled at once, so the memory held grew with
// the connections any client opened: each client that sent most of a
// 1 MiB body and then waited held 1 MiB until READ_TIMEOUT, and more
// while it was decoded and published. Past MaxInFlight requests, one more
// must be answered 503 at once, before its body is read, in the
// endpoint's own shape, and the memory held must stay bounded.
func TestRequestsInFlightAreBounded(t *testing.T) {
	const inFlight, extra = 4, 28
	tests := []struct{ name, path, contentType, want string }{
		{"retailops", ordersPath, "application/json", ErrBusy},
		{"radial", radialPath, "application/xml", FaultServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.MaxInFlight = inFlight
			cfg.ReadTimeout = 20 * time.Second
			cfg.WriteTimeout = 30 * time.Second
			e := newEnv(t, envOptions{cfg: &cfg, publisher: func(Publisher) Publisher { return &recPub{} }})
			addr := strings.TrimPrefix(e.url, "http://")

			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			// inFlight+extra clients each send all but the last byte of a
			// body of MaxBodyBytes, and wait.
			part := strings.Repeat(" ", int(cfg.MaxBodyBytes)-1)
			type answer struct {
				status int
				body   string
				err    error
			}
			answers := make(chan answer, inFlight+extra)
			for i := 0; i < inFlight+extra; i++ {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = c.Close() })
				fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: intake\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", tt.path, tt.contentType, cfg.MaxBodyBytes)
				go func() { _, _ = io.WriteString(c, part) }()
				go func() {
					_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
					resp, err := http.ReadResponse(bufio.NewReader(c), nil)
					if err != nil {
						answers <- answer{err: err}
						return
					}
					b, _ := io.ReadAll(resp.Body)
					answers <- answer{status: resp.StatusCode, body: string(b)}
				}()
			}
			time.Sleep(2 * time.Second) // every body sent
			var after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&after)
			grew := int64(after.HeapInuse) - int64(before.HeapInuse)
			t.Logf("heap in use grew by %d MiB with %d clients waiting", grew>>20, inFlight+extra)

			busy, none := 0, 0
			for i := 0; i < inFlight+extra; i++ {
				a := <-answers
				switch {
				case a.err != nil:
					none++ // held: within MaxInFlight
				case a.status == http.StatusServiceUnavailable && strings.Contains(a.body, tt.want):
					busy++
				default:
					t.Errorf("answer %d: %s", a.status, a.body)
				}
			}
			t.Logf("%d answered 503 at once, %d held", busy, none)
			if busy != extra || none != inFlight {
				t.Errorf("%d answered 503 and %d held, want %d and %d", busy, none, extra, inFlight)
			}
			if max := int64(inFlight+4) * cfg.MaxBodyBytes * 2; grew > max {
				t.Errorf("heap in use grew by %d MiB, above %d MiB", grew>>20, max>>20)
			}
		})
	}
}
