package providers_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
)

// TestHTTPClientRefusesHugeHeaders: a provider's reply could carry up to
// net/http's default of 10 MiB of headers, read and kept whole by every
// call in flight: CONCURRENCY (up to 1024) calls per provider answered so
// held gigabytes, where no provider sends more than a few KiB. Headers
// past MaxResponseHeaderBytes end the call as a transport failure, after
// little more than that limit is read.
func TestHTTPClientRefusesHugeHeaders(t *testing.T) {
	// The reply is built before the measurement (runtime.MemStats counts
	// this process's allocations, the server's included), and written
	// without allocating.
	var reply strings.Builder
	reply.WriteString("HTTP/1.1 200 OK\r\n")
	for i := range 4096 {
		fmt.Fprintf(&reply, "X-Pad-%d: %s\r\n", i, strings.Repeat("a", 1024))
	}
	reply.WriteString("Content-Length: 2\r\n\r\nok")
	raw := []byte(reply.String())
	addr := rawPeer(t, true, func(c net.Conn) { _, _ = c.Write(raw) })
	hc := providers.HTTPClient(0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
	resp, err := hc.Do(req)
	runtime.ReadMemStats(&after)
	if err == nil {
		resp.Body.Close()
		t.Errorf("a reply with 4 MiB of headers was taken (%d headers)", len(resp.Header))
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("the call allocated %d KiB", n>>10)
	}
	if ctx.Err() != nil {
		t.Errorf("the call ran to the deadline: %v", err)
	}
}

// TestHTTPClientEndsA1xxStorm: a provider answering 102 Processing over
// and over, as fast as it can write, kept the call reading and parsing
// them on a core until 10 MiB of them (about 2 s here) or its deadline,
// every call so answered. net/http counts 1xx headers towards
// MaxResponseHeaderBytes: with MaxReplyHeaderBytes the call ends within
// milliseconds, a transport failure.
func TestHTTPClientEndsA1xxStorm(t *testing.T) {
	addr := rawPeer(t, true, func(c net.Conn) {
		for {
			if _, err := c.Write([]byte("HTTP/1.1 102 Processing\r\n\r\n")); err != nil {
				return
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/settle", strings.NewReader("{}"))
	start := time.Now()
	resp, err := providers.HTTPClient(0).Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("a 1xx storm answered the call")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the call read 1xx answers for %s (%v)", d.Round(time.Millisecond), err)
	}
}
