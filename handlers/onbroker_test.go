package handlers

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// onBroker declares top on the test broker (a vhost of its own,
// testenv.AMQPURL) and returns a publisher on it and a channel of a
// connection of its own, to read what was published; the queues named are
// purged first. Both close with the test.
func onBroker(ctx context.Context, t *testing.T, top broker.Topology, purge ...string) (*broker.Publisher, *amqp.Channel) {
	t.Helper()
	return onBrokerAt(ctx, t, testenv.AMQPURL(t), top, purge...)
}

// onBrokerAt is onBroker on the broker (vhost) at u, for a test that
// connects to it otherwise too (each testenv.AMQPURL is a new vhost).
func onBrokerAt(ctx context.Context, t *testing.T, u string, top broker.Topology, purge ...string) (*broker.Publisher, *amqp.Channel) {
	t.Helper()
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
	ch := channelOn(t, u)
	for _, q := range purge {
		if _, err := ch.QueuePurge(q, false); err != nil {
			t.Fatal(err)
		}
	}
	return pub, ch
}

// quorumQueue declares the durable quorum queue q on the test broker
// (testenv.AMQPURL) and returns the broker's URL and a channel of a
// connection of its own to publish to it; the connection closes with the
// test.
func quorumQueue(t *testing.T, q string) (string, *amqp.Channel) {
	t.Helper()
	u := testenv.AMQPURL(t)
	ch := channelOn(t, u)
	if _, err := ch.QueueDeclare(q, true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
		t.Fatal(err)
	}
	return u, ch
}

// channelOn opens a connection of its own to the broker at u, closed
// with the test, and returns a channel on it.
func channelOn(t *testing.T, u string) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// nextMessage takes the next message of queue q off ch (acked), as the
// worker would receive it, waiting for one while ctx lasts.
func nextMessage(ctx context.Context, t *testing.T, ch *amqp.Channel, q string) *message.Message {
	t.Helper()
	for ctx.Err() == nil {
		d, ok, err := ch.Get(q, true)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			m, err := broker.Marshaler{}.Unmarshal(d)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no message in %s", q)
	return nil
}

// deliverRetriedInPlace delivers msg to h as the worker's router does: a
// run that fails is run again in place, with the same message, which the
// broker has not redelivered (worker.Run's middleware.Retry, here with
// short waits). After the first run that fails, top is declared again on
// pub's connection: what the test deleted to make that run fail comes
// back. It returns how many runs there were and the error the delivery
// ended with.
func deliverRetriedInPlace(ctx context.Context, t *testing.T, h *Settlement, pub *broker.Publisher, top broker.Topology, msg *message.Message) (runs int, err error) {
	t.Helper()
	handler := func(m *message.Message) ([]*message.Message, error) {
		runs++
		err := h.HandleSafely(m)
		if err != nil && runs == 1 {
			conn, cerr := pub.Conn(ctx)
			if cerr != nil {
				t.Fatal(cerr)
			}
			if derr := top.Declare(conn); derr != nil {
				t.Fatal(derr)
			}
		}
		return nil, err
	}
	retried := middleware.Retry{MaxRetries: 3, InitialInterval: 10 * time.Millisecond, Multiplier: 2, MaxInterval: 50 * time.Millisecond}.Middleware(handler)
	_, err = retried(msg)
	return runs, err
}
