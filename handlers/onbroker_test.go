package handlers

import (
	"context"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// onBroker declares top on the test broker (testenv.AMQPURL) and returns a
// publisher on it and a channel of a connection of its own, to read what
// was published; the queues named are purged first. Both close with the
// test.
func onBroker(ctx context.Context, t *testing.T, top broker.Topology, purge ...string) (*broker.Publisher, *amqp.Channel) {
	t.Helper()
	u := testenv.AMQPURL(t)
	pub, err := broker.NewPublisher(ctx, u, 2, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	conn, err := pub.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := top.Declare(conn); err != nil {
		t.Fatal(err)
	}
	cconn, err := amqp.Dial(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cconn.Close() })
	ch, err := cconn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range purge {
		if _, err := ch.QueuePurge(q, false); err != nil {
			t.Fatal(err)
		}
	}
	return pub, ch
}
