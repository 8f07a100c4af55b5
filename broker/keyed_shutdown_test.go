package broker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
)

// As worker.Run wires it. On SIGTERM the router's context ends; the router
// does not close a subscriber whose context ended (handleClose), so the
// keyed subscriber's drain (Close) was never reached: its session ended at
// once with the context, the connection closed, and the status in flight
// went back to the provider's queue while its handler was still running.
// The handler then finished and acked, but the ack went nowhere: the status
// was handled again (here, or at once by another replica, concurrently).
// The subscriber now drains on its own when the context ends.
func TestKeyedSubscriberDrainsInFlightOnRouterShutdown(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	const q = "q.keyed.shutdown"
	declare(t, ch, q, "classic", nil)
	publishRaw(t, u, "", q, amqp.Publishing{MessageId: "S1", Headers: amqp.Table{"key": "A"}, Body: []byte("S1")})

	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	sub := &broker.KeyedSubscriber{URL: u, N: 4, Passive: true, DrainTimeout: 10 * time.Second, Log: zerolog.Nop(),
		Key: func(m *message.Message) string { return m.Metadata.Get("key") }}
	started := make(chan struct{})
	var handled atomic.Int32
	router.AddConsumerHandler("status", q, sub, func(m *message.Message) error {
		if handled.Add(1) == 1 {
			close(started)
		}
		time.Sleep(2 * time.Second) // applying the status: a store write, a publish
		return nil                  // done: the status must be acked
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- router.Run(ctx) }()
	select {
	case <-started:
	case <-time.After(15 * time.Second):
		t.Fatal("status not handed out")
	}
	cancel() // SIGTERM
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("router did not stop")
	}
	_ = sub.Close()
	time.Sleep(500 * time.Millisecond)
	if n := queueDepth(t, ch, q); n != 0 {
		t.Fatalf("after a graceful shutdown the status handled successfully (handler returned nil, %d handling(s)) is back in the queue: depth %d, want 0 (it will be handled again)", handled.Load(), n)
	}
}
