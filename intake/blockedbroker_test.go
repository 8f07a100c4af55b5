package intake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

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
		proxy *testenv.BrokerProxy
		bp    Publisher
	)
	cfg := testConfig()
	cfg.PublishTimeout = 2 * time.Second
	cfg.WriteTimeout = 6 * time.Second
	e := newEnv(t, envOptions{cfg: &cfg, topology: true,
		publisher: func(p Publisher) Publisher { bp = p; return p },
		dialVia: func(u string) string {
			proxy = testenv.NewBrokerProxy(t, u)
			return proxy.URL()
		}})
	// First of the cleanups: the publisher's Close would wait for the
	// stalled connection.
	t.Cleanup(proxy.Close)
	if resp, body := e.post(ordersPath, "application/json", seed(t), bearer); resp.StatusCode != http.StatusOK {
		t.Fatalf("before the stall: status %d: %s", resp.StatusCode, body)
	}
	e.requests("radial", time.Second)
	proxy.Stall()
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
