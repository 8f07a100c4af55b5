package intake

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// latePublisher is a broker whose confirm comes after PUBLISH_TIMEOUT: the
// publish is abandoned by the intake, yet the message reaches the queue
// (the AMQP client finishes the write; the broker takes it).
type latePublisher struct {
	next Publisher
	late time.Duration
}

func (p latePublisher) Publish(ctx context.Context, exchange, key string, msg *message.Message) error {
	<-ctx.Done()
	time.Sleep(p.late)
	return p.next.Publish(context.Background(), exchange, key, msg)
}

// TestUnconfirmedPublishIsNotAnsweredAsNotQueued: a publish not confirmed
// within PUBLISH_TIMEOUT is answered 503, but the request may still reach
// the broker and be settled. Both endpoints answered that the requests
// "could not be queued": a caller believing it (a Radial client that then
// sends the order under a new requestId, a person reading the RetailOPS
// event) has the money taken for a settlement it was told did not exist,
// or twice. The answer must say the requests may have been queued, and to
// retry them under the same requestIds only.
func TestUnconfirmedPublishIsNotAnsweredAsNotQueued(t *testing.T) {
	cfg := testConfig()
	cfg.PublishTimeout = 500 * time.Millisecond
	e := newEnv(t, envOptions{cfg: &cfg, topology: true,
		publisher: func(p Publisher) Publisher { return latePublisher{next: p, late: 100 * time.Millisecond} }})

	check := func(t *testing.T, status int, answer string) {
		t.Helper()
		if status != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503: %s", status, answer)
		}
		if ds := e.requests("radial", 5*time.Second); len(ds) == 0 {
			t.Fatal("the late publish never reached the queue: the test proves nothing")
		}
		if strings.Contains(answer, "could not be queued") || !strings.Contains(answer, "may have been queued") {
			t.Errorf("a request that reached the broker was answered %q: it must say the requests may have been queued (retry under the same requestIds, never new ones)", answer)
		}
	}
	t.Run("radial", func(t *testing.T) {
		resp, body := e.post(radialPath, "application/xml", encode(t, validRequest("late-1")), radialAuth)
		f := checkFault(t, resp, body, http.StatusServiceUnavailable, FaultServiceUnavailable)
		check(t, resp.StatusCode, f.Description)
	})
	t.Run("retailops", func(t *testing.T) {
		resp, body := e.post(ordersPath, "application/json", seed(t), bearer)
		ev := decodeEvents(t, body)
		if len(ev.Events) != 1 || ev.Events[0].ErrorCode != ErrPublishFailed {
			t.Fatalf("answer %d %s, want one %s event", resp.StatusCode, body, ErrPublishFailed)
		}
		check(t, resp.StatusCode, ev.Events[0].ErrorMessage)
	})
}
