package broker_test

import (
	"context"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
)

// A consumer the broker cancels (basic.cancel: its queue deleted, a
// classic queue's node gone in a cluster) has its delivery channel closed
// by the client while its AMQP channel stays open. watermill-amqp reads the
// closed channel as a zero delivery and hands it out: the request handler
// got an empty message (no body, no headers, a made-up id), could not
// parse it and parked it for a person, once per subscription and per
// cancel, and its ack failed ("delivery not initialized"). Nothing may be
// handed out, and once the queue is back the subscription consumes it.
func TestConcurrentSubscriberConsumerCancelledHandsOutNothing(t *testing.T) {
	// A quorum queue deleted and declared again at once is left out:
	// RabbitMQ 3.10 then neither cancels the consumer nor delivers to it.
	for _, qtype := range []string{"classic"} {
		t.Run(qtype, func(t *testing.T) {
			u := amqpURL(t)
			_, ch := dial(t, u)
			const q = "q.cancelled"
			declare(t, ch, q, qtype, nil)
			cs := broker.NewConcurrentSubscriber(newSubscriber(t, u, 1), 4, 2*time.Second, zerolog.Nop())
			msgs, err := cs.Subscribe(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cs.Close() })
			time.Sleep(500 * time.Millisecond) // the consumers are registered

			if _, err := ch.QueueDelete(q, false, false, false); err != nil {
				t.Fatalf("delete %s: %v", q, err)
			}
			declare(t, ch, q, qtype, nil)
			noMessage(t, msgs, 2*time.Second)

			publishRaw(t, u, "", q, amqp.Publishing{MessageId: "after", Body: []byte("after")})
			m := receive(t, msgs, 10*time.Second)
			if string(m.Payload) != "after" {
				t.Fatalf("got %q (id %s), want the message published after the cancel", m.Payload, m.UUID)
			}
			m.Ack()
		})
	}
}
