package handlers

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
)

// TestStoreOutageHoldCountsFromDelivery: the hold is bounded below the
// broker's consumer_timeout, which counts from the delivery, not from when
// the handler began to hold it. Two statuses of one order (an S and its
// chargeback R) are delivered at once on the provider's status queue
// (KeyedSubscriber, prefetch N); the R waits, unacked, behind the held S.
// While the store does not answer, each is parked once it has been unacked
// for the hold: the R right after the S, not a whole hold later (which,
// with STORE_OUTAGE_HOLD 25m, left it unacked for 50 min: the broker
// closed the channel at 30 min and handed back, counted, every delivery
// on it).
func TestStoreOutageHoldCountsFromDelivery(t *testing.T) {
	const q = "statuses"
	url, ch := quorumQueue(t, q)
	for _, seq := range []string{"S", "R"} {
		if err := ch.Publish("", q, false, false, amqp.Publishing{Headers: amqp.Table{"order": "o1", "seq": seq}}); err != nil {
			t.Fatal(err)
		}
	}
	hold := time.Second
	if raceEnabled {
		hold = 2 * time.Second
	}
	o := &StoreOutage{Hold: hold, MaxBackoff: 100 * time.Millisecond,
		Ping: func(context.Context) error { return errors.New("store: connection refused") }}
	sub := &broker.KeyedSubscriber{URL: url, N: 4, Passive: true, DrainTimeout: 5 * time.Second, Log: zerolog.Nop(),
		Key: func(m *message.Message) string { return m.Metadata.Get("order") }}
	start := time.Now()
	msgs, err := sub.Subscribe(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var mu sync.Mutex
	parkedAt := map[string]time.Duration{}
	deadline := time.After(10 * hold)
	for len(parkedAt) < 2 {
		var m *message.Message
		select {
		case m = <-msgs:
		case <-deadline:
			t.Fatalf("parked %v after %s; want both statuses parked", parkedAt, 10*hold)
		}
		seq := m.Metadata.Get("seq")
		err := o.ride(m, "p", "status", zerolog.Nop, func() error { return errors.New("record status: connection refused") },
			func(context.Context, string) error {
				mu.Lock()
				defer mu.Unlock()
				parkedAt[seq] = time.Since(start)
				return nil
			})
		if err != nil {
			t.Fatalf("ride %s: %v, want parked", seq, err)
		}
		m.Ack()
	}
	// Both were delivered at start: each is parked once unacked for the
	// hold (the slack: the subscription, the pings' backoff, -race).
	limit := hold + hold/2
	for _, seq := range []string{"S", "R"} {
		if parkedAt[seq] > limit {
			t.Errorf("%s parked %s after its delivery, want within the hold (%s) and a margin: %s", seq, parkedAt[seq].Round(time.Millisecond), hold, limit)
		}
	}
}
