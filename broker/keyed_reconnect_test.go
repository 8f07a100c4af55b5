package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
)

// The keyed subscriber promises that a message of a key is handed out
// only once every earlier message of that key was acked or nacked. After its
// connection is lost (broker restart, connection closed) with S1 of order A
// in flight and R2 of order A waiting, the new session gets S1 and R2
// redelivered and hands S1 out again while the old S1 is still being
// handled; when the old S1 is acked, the old session hands out its R2 while
// the redelivered S1 is still in flight: two statuses of one order at once,
// R2 before the S1 that precedes it. Both happened; the key's state now
// outlives the session (newSession, admit, release): the new S1 waits for
// the old one, and the old session's held-back R2 is dropped for the
// redelivered one.
func TestKeyedSubscriberReconnectKeepsOneMessagePerKey(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	const q = "q.keyed.reconnect"
	declare(t, ch, q, "classic", nil)
	for _, seq := range []string{"S1", "R2"} {
		publishRaw(t, u, "", q, amqp.Publishing{MessageId: seq, Headers: amqp.Table{"key": "A"}, Body: []byte(seq)})
	}
	sub := &broker.KeyedSubscriber{URL: u, N: 4, Passive: true, DrainTimeout: 2 * time.Second, Log: zerolog.Nop(),
		Key: func(m *message.Message) string { return m.Metadata.Get("key") }}
	msgs, err := sub.Subscribe(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	inFlight := map[string]*message.Message{}
	first := receive(t, msgs, 10*time.Second)
	if string(first.Payload) != "S1" {
		t.Fatalf("first message %s, want S1", first.Payload)
	}
	inFlight["S1(old)"] = first
	time.Sleep(300 * time.Millisecond) // R2 is received and waits behind S1

	killConnections(t, u, "settlement-worker")

	// While the old S1 is still being handled, nothing of key A may be
	// handed out.
	select {
	case m := <-msgs:
		t.Errorf("after the reconnect, %s (key A) was handed out while S1 (key A) was still in flight: two messages of one key at once", m.Payload)
		inFlight[string(m.Payload)+"(new)"] = m
	case <-time.After(4 * time.Second):
	}
	first.Ack() // the old S1's handler finishes
	// Now the old session hands out its waiting R2.
	select {
	case m := <-msgs:
		if _, ok := inFlight["S1(new)"]; ok && string(m.Payload) == "R2" {
			t.Errorf("R2 (key A) handed out while the redelivered S1 (key A) is still in flight: R2 may be applied before S1")
		}
		m.Ack()
	case <-time.After(4 * time.Second):
	}
	for k, m := range inFlight {
		if k != "S1(old)" {
			m.Ack()
		}
	}
}
