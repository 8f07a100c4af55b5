package intake

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// slowPublisher confirms each publish after delay.
type slowPublisher struct {
	next  Publisher
	delay time.Duration
}

func (p slowPublisher) Publish(ctx context.Context, exchange, key string, msg *message.Message) error {
	select {
	case <-time.After(p.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	return p.next.Publish(ctx, exchange, key, msg)
}

// TestSlowBodyStillGetsTheOutcome: WriteTimeout must exceed PublishTimeout
// "so that a client is always told the outcome" (Validate), but net/http
// counts WriteTimeout from the end of the request's headers, body reading
// included: a client that took most of ReadTimeout to send its body (a
// slow link, well within the configured limits) had its answer cut off
// after its requests were published — no AckReply, no Fault, a broken
// connection, for settlements that were queued.
func TestSlowBodyStillGetsTheOutcome(t *testing.T) {
	cfg := testConfig()
	cfg.ReadTimeout = 5 * time.Second
	cfg.PublishTimeout = time.Second
	cfg.WriteTimeout = 1500 * time.Millisecond
	e := newEnv(t, envOptions{cfg: &cfg, topology: true,
		publisher: func(p Publisher) Publisher { return slowPublisher{next: p, delay: 700 * time.Millisecond} }})

	body := encode(t, validRequest("slow-body-1"))
	conn, err := net.Dial("tcp", e.url[len("http://"):])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: intake\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n"+
		"%s: %s\r\n%s: %s\r\n%s: %s\r\n\r\n", radialPath, len(body),
		HeaderAPIKey, testRadialKey, HeaderStoreID, "ABCXYZ", HeaderTenderType, "VC")
	// The body in 10 pieces over 1.2s: within ReadTimeout (5s).
	step := (len(body) + 9) / 10
	for i := 0; i < len(body); i += step {
		time.Sleep(120 * time.Millisecond)
		if _, err := conn.Write(body[i:min(i+step, len(body))]); err != nil {
			t.Fatal(err)
		}
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	queued := len(e.requests("radial", 3*time.Second))
	if err != nil {
		t.Fatalf("no answer to a request sent within READ_TIMEOUT (%d request(s) queued): %v", queued, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || queued != 1 {
		t.Fatalf("answer %d with %d request(s) queued, want 200 and 1", resp.StatusCode, queued)
	}
}
