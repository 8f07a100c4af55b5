package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// While the broker is unreachable, a publish with a long context (the
// sweeper relays with the worker's) redials it, retrying until it answers.
// It did so holding the publisher's lock, which every other publish and
// the readiness check (Conn) wait for whatever their context: the intake's
// publish, bounded by PUBLISH_TIMEOUT so that the client is told 503 before
// the server's WriteTimeout, waited for the whole outage, and its client
// got no answer at all; /readyz hung; a handler outlived its budget. Each
// must give up within its own context.
func TestPublisherUnreachableBrokerBoundsEveryCaller(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	declare(t, ch, "q.outage", broker.QueueQuorum, nil)
	proxy := testenv.NewBrokerProxy(t, u)
	pub := newPublisher(t, proxy.URL(), 4)
	if err := pub.Publish(testCtx(t, 10*time.Second), "", "q.outage", message.NewMessage("before", nil)); err != nil {
		t.Fatalf("publish before the outage: %v", err)
	}
	proxy.Close()

	long, cancelLong := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelLong()
	longDone := make(chan struct{})
	go func() {
		defer close(longDone)
		_ = pub.Publish(long, "", "q.outage", message.NewMessage("sweeper", nil))
	}()
	time.Sleep(time.Second) // the long publish is redialling

	cases := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"publish", func(ctx context.Context) error {
			return pub.Publish(ctx, "", "q.outage", message.NewMessage("intake", nil))
		}},
		{"readiness (Conn)", func(ctx context.Context) error { _, err := pub.Conn(ctx); return err }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			done := make(chan error, 1)
			start := time.Now()
			go func() { done <- tc.call(ctx) }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("succeeded with the broker unreachable")
				}
				if d := time.Since(start); d > 4*time.Second {
					t.Errorf("returned after %s, its context allowed 1s", d.Round(time.Millisecond))
				}
			case <-time.After(8 * time.Second):
				t.Errorf("still waiting 8s later, its context allowed 1s (blocked behind another caller's redial)")
			}
		})
	}
	cancelLong()
	<-longDone
}
