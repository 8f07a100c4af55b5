package intake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// stallingProxy forwards TCP connections to target; after stall it stops
// reading what the client sends (the server's bytes still reach the
// client), as a broker that blocks a publishing connection does
// (connection.blocked: RabbitMQ stops reading its socket until the alarm
// clears).
type stallingProxy struct {
	ln      net.Listener
	mu      sync.Mutex
	conns   []net.Conn
	stalled chan struct{} // closed by stall
	once    sync.Once
}

func newStallingProxy(t *testing.T, target string) *stallingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallingProxy{ln: ln, stalled: make(chan struct{})}
	t.Cleanup(p.close)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			// A small receive buffer: the publisher's writes block after
			// a few MB, not after the tens of MB loopback autotunes to.
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(64 << 10)
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			go func() {
				buf := make([]byte, 32<<10)
				for {
					select {
					case <-p.stalled:
						return // reads no more; the connection stays open
					default:
					}
					n, err := c.Read(buf)
					if n > 0 {
						if _, werr := b.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						_ = b.Close()
						return
					}
				}
			}()
			go func() { _, _ = io.Copy(c, b); _ = c.Close() }()
		}
	}()
	return p
}

func (p *stallingProxy) stall() { p.once.Do(func() { close(p.stalled) }) }

func (p *stallingProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// TestBlockedBrokerStillGetsAnAnswer: a broker that stops reading a
// publishing connection (a memory or disk alarm) leaves the publisher's
// socket writes blocked once the kernel's buffers are full, and the AMQP
// client ignores the publish context while it writes (and every other
// publish on the connection waits for that write): publishAll waited for
// every publish to return, so the webhook's handler waited for the alarm
// to clear — no 503 within PUBLISH_TIMEOUT, no answer at all, and a
// handler that outlived WriteTimeout and the graceful shutdown. The
// client must get its 503 once PUBLISH_TIMEOUT has passed, and /healthz
// must keep answering.
func TestBlockedBrokerStillGetsAnAnswer(t *testing.T) {
	var (
		proxy *stallingProxy
		bp    Publisher
	)
	cfg := testConfig()
	cfg.PublishTimeout = 2 * time.Second
	cfg.WriteTimeout = 6 * time.Second
	e := newEnv(t, envOptions{cfg: &cfg, topology: true,
		publisher: func(p Publisher) Publisher { bp = p; return p },
		dialVia: func(u string) string {
			pu, err := url.Parse(u)
			if err != nil {
				t.Fatal(err)
			}
			proxy = newStallingProxy(t, pu.Host)
			pu.Host = proxy.ln.Addr().String()
			return pu.String()
		}})
	// First of the cleanups: the publisher's Close would wait for the
	// stalled connection.
	t.Cleanup(proxy.close)
	if resp, body := e.post(ordersPath, "application/json", seed(t), bearer); resp.StatusCode != http.StatusOK {
		t.Fatalf("before the stall: status %d: %s", resp.StatusCode, body)
	}
	e.requests("radial", time.Second)
	proxy.stall()
	// Another publish of the process (a 16 MB message) fills the buffers
	// and stays blocked in its write.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = bp.Publish(ctx, "", "filler", message.NewMessage("filler", make([]byte, 16<<20)))
	}()
	time.Sleep(500 * time.Millisecond)

	req, err := http.NewRequest(http.MethodPost, e.url+ordersPath, bytes.NewReader(seed(t)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", bearer["Authorization"])
	type answer struct {
		status int
		body   string
		err    error
	}
	done := make(chan answer, 1)
	start := time.Now()
	go func() {
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
		if err != nil {
			done <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		done <- answer{status: resp.StatusCode, body: string(out)}
	}()

	// /healthz answers while the webhook waits.
	time.Sleep(500 * time.Millisecond)
	hc := &http.Client{Timeout: 2 * time.Second}
	if resp, err := hc.Get(e.url + "/healthz"); err != nil {
		t.Errorf("/healthz while the broker is blocked: %v", err)
	} else {
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("/healthz while the broker is blocked: status %d", resp.StatusCode)
		}
	}

	select {
	case a := <-done:
		took := time.Since(start)
		t.Logf("answered after %v: %d %s", took.Round(time.Millisecond), a.status, a.body[:min(len(a.body), 200)])
		switch {
		case a.err != nil:
			t.Fatalf("no answer (%v) after %v; PUBLISH_TIMEOUT is %v", a.err, took.Round(time.Millisecond), cfg.PublishTimeout)
		case a.status != http.StatusServiceUnavailable || !strings.Contains(a.body, ErrPublishFailed):
			t.Fatalf("status %d, want 503 %s: %s", a.status, ErrPublishFailed, a.body)
		case took > cfg.PublishTimeout+3*time.Second:
			t.Fatalf("answered after %v; PUBLISH_TIMEOUT is %v", took.Round(time.Millisecond), cfg.PublishTimeout)
		}
	case <-time.After(10 * time.Second):
		t.Fatal(fmt.Sprintf("no answer within 10s to a webhook while the broker reads nothing; PUBLISH_TIMEOUT is %v", cfg.PublishTimeout))
	}
}
