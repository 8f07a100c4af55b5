package providers_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
)

// TestHTTPClientHostilePeersEndWithinTheDeadline pins down what held in a
// review for hangs: whatever a provider does, a call made as the clients
// make it (HTTPClient(0), a context deadline, ReadReply) ends by its
// deadline, with an error, and reads at most the reply limit. The call's
// context bounds the whole exchange, body included; net/http decompresses
// a gzip reply it asked for, and the limit counts decompressed bytes.
func TestHTTPClientHostilePeersEndWithinTheDeadline(t *testing.T) {
	const limit = 1 << 20
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 100 { // 100 MiB of zeros, about 100 KiB compressed
		_, _ = zw.Write(zeros)
	}
	_ = zw.Close()
	for _, tc := range []struct {
		name  string
		serve func(c net.Conn)
	}{
		{"never reads the request", func(net.Conn) { time.Sleep(10 * time.Second) }},
		{"headers one byte a second", func(c net.Conn) { trickle(c, "HTTP/1.1 200 OK\r\nX: ") }},
		{"body one byte a second", func(c net.Conn) { trickle(c, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{") }},
		{"body that never ends", func(c net.Conn) {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
			chunk := fmt.Sprintf("%x\r\n%s\r\n", 4096, strings.Repeat(" ", 4096))
			for {
				if _, err := io.WriteString(c, chunk); err != nil {
					return
				}
			}
		}},
		{"gzip bomb", func(c net.Conn) {
			_, _ = fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n", bomb.Len())
			_, _ = c.Write(bomb.Bytes())
		}},
		{"connection closed mid-body", func(c net.Conn) {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n{\"id\":")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := rawPeer(t, tc.name != "never reads the request", tc.serve)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			body := strings.Repeat("x", 8<<20) // more than socket buffers hold
			done := make(chan error, 1)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			go func() {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/settle", strings.NewReader(body))
				resp, err := providers.HTTPClient(0).Do(req)
				if err != nil {
					done <- err
					return
				}
				defer resp.Body.Close()
				_, err = providers.ReadReply("p", "op", resp, limit)
				done <- err
			}()
			select {
			case err := <-done:
				runtime.ReadMemStats(&after)
				if err == nil {
					t.Error("the call ended without an error")
				}
				// TotalAlloc counts every goroutine of the process (the peer,
				// the transport, the race detector's runtime under -race): a
				// bound a few MiB over the body and the limit failed once on
				// a loaded machine at 12 MiB. Unbounded, a body that never
				// ends allocates over 100 MiB within the deadline on
				// loopback (175 MiB measured with the limit lifted), so 16 limits
				// of slack still tell the two apart.
				if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20+16*limit {
					t.Errorf("the call allocated %d MiB", n>>20)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("call still running 5 s past its 1 s deadline")
			}
		})
	}
}

// rawPeer is a provider that answers each connection with serve, after
// reading the request when readRequest is set; it returns its address.
// It stops listening at the test's end.
func rawPeer(t *testing.T, readRequest bool, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if readRequest {
					if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
						return
					}
				}
				serve(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// trickle writes s, then one byte a second, until the peer closes.
func trickle(c net.Conn, s string) {
	if _, err := io.WriteString(c, s); err != nil {
		return
	}
	for range 30 {
		time.Sleep(time.Second)
		if _, err := c.Write([]byte("a")); err != nil {
			return
		}
	}
}
