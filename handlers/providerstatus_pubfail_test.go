package handlers

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/store"
)

// failFirstEvent fails the first publish of a status event (a broker
// connection lost after the verdict was recorded), then publishes.
type failFirstEvent struct {
	Publisher
	mu     sync.Mutex
	failed bool
}

func (p *failFirstEvent) Publish(ctx context.Context, exchange, key string, msg *message.Message) error {
	p.mu.Lock()
	fail := exchange == broker.StatusExchange && !p.failed
	p.failed = p.failed || fail
	p.mu.Unlock()
	if fail {
		return errors.New("connection lost")
	}
	return p.Publisher.Publish(ctx, exchange, key, msg)
}

// TestProviderStatusPublishFailureIsHandedBackThenRepublished: a status
// whose verdict was recorded but whose event was not confirmed is handed
// back (not acked), and its redelivery — or Radial's repeat under a new
// message_id, or without one — publishes the recorded event once, with no
// second verdict.
func TestProviderStatusPublishFailureIsHandedBackThenRepublished(t *testing.T) {
	for _, tc := range []struct{ name, first, again string }{
		{"redelivered", "m1", "m1"},
		{"repeated under a new message_id", "m1", "m2"},
		{"without message_id", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newPSEnv(t)
			e.seed(seedSpec{id: "req-A", cc: "cc-A", state: store.StateAcknowledged})
			e.h.Pub = &failFirstEvent{Publisher: e.h.Pub}
			first := statusSpec{cc: e.corr["req-A"], msgID: tc.first}.message(t)
			if err := e.h.Handle(first); err == nil {
				t.Fatal("a status whose event was not published was handled without error (it would be acked)")
			}
			if d, ok := e.get(statusQueue); ok {
				t.Fatalf("event %s published though the publish failed", d.MessageId)
			}
			again := statusSpec{cc: e.corr["req-A"], msgID: tc.again}.message(t)
			if err := e.h.Handle(again); err != nil {
				t.Fatalf("again: %v", err)
			}
			id := e.checkEvent(1, step{st: statusSpec{}, target: "req-A", wantCC: "cc-A"})
			if d, ok := e.get(statusQueue); ok {
				t.Errorf("second event %s", d.MessageId)
			}
			if d, ok := e.get(broker.ProviderStatusParkedQueue("radial")); ok {
				t.Errorf("parked: %v", d.Headers[HeaderParkedReason])
			}
			evs, err := e.st.Statuses(context.Background(), store.Key{Provider: "radial", RequestID: "req-A"})
			if err != nil || len(evs) != 1 || evs[0].MessageID != id || evs[0].PublishedAt == nil {
				t.Errorf("recorded events %+v (%v), want one, %s, marked published", evs, err, id)
			}
		})
	}
}
