package handlers

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
)

// failParkedOnce fails the first publish to a parked queue (the broker
// away for a moment), then publishes through pub.
type failParkedOnce struct {
	pub    *recPub
	mu     sync.Mutex
	failed bool
}

func (f *failParkedOnce) Publish(ctx context.Context, exchange, key string, msg *message.Message) error {
	f.mu.Lock()
	if strings.HasSuffix(key, ".parked") && !f.failed {
		f.failed = true
		f.mu.Unlock()
		return errors.New("broker unreachable")
	}
	f.mu.Unlock()
	return f.pub.Publish(ctx, exchange, key, msg)
}

// The sweeper parks an acknowledged settlement past its status deadline:
// it recorded the parking, then published the parked copy. When that
// publish failed, the settlement stayed parked in the store with no copy
// in the parked queue, and Stale (which skips parked rows) never offered
// it again: `parked ls` never showed it and nothing could replay it, while
// the parked gauge counted it. The copy must reach the parked queue.
func TestSweeperParkedCopyIsNotLostWhenItsPublishFails(t *testing.T) {
	p := newScripted("radial", providers.Facts{Idempotent: true, StatusDeadline: time.Hour})
	p.accept = true
	r := newRig(t, p)
	r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
	r.pub.take()
	w := r.sweeper(2 * time.Hour)
	w.Pub = &failParkedOnce{pub: r.pub}
	if _, err := w.Sweep(context.Background()); err == nil {
		t.Fatal("the sweep reported no error although the parked copy was not published")
	}
	if _, err := w.Sweep(context.Background()); err != nil {
		t.Fatalf("second sweep: %v", err)
	}
	parked := only(t, r.pub.take(), broker.ParkedQueue("radial"))
	if s := r.get(t, "req-1"); s.ParkedReason == "" || parked.Metadata.Get(HeaderParkedReason) != s.ParkedReason {
		t.Fatalf("settlement parked %q, parked copy's reason %q", s.ParkedReason, parked.Metadata.Get(HeaderParkedReason))
	}
}
