package broker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// A broker that keeps the connection and its heartbeats alive but stops
// answering (RabbitMQ blocking a publishing connection at a memory or disk
// alarm; a broker process wedged) never confirms. A publish bounded by
// its context stopped waiting for the confirm at its deadline, then closed
// the channel, which waits for the broker's close-ok without any bound:
// the publish never returned, and a handler that published held its order
// lock, its consumer and a publisher slot for as long as the broker did
// not answer, in silence. The next publish, given a fresh channel, waited
// for the broker's channel.open-ok the same way. Every publish must
// return within its context, the publisher must not be left without
// slots, and it must publish again once the broker answers.
func TestPublishToABrokerThatStopsAnsweringEndsWithItsContext(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	declare(t, ch, "q.stall", broker.QueueQuorum, nil)
	proxy := testenv.NewBrokerProxy(t, u)
	pub := newPublisher(t, proxy.URL(), 1) // one slot: a publish that never returns holds it
	if err := pub.Publish(testCtx(t, 10*time.Second), "", "q.stall", message.NewMessage("before", nil)); err != nil {
		t.Fatalf("publish before the stall: %v", err)
	}
	proxy.Stall()

	// The first reuses the idle channel (its confirm never comes); the
	// second opens a channel (its open-ok never comes); the third, once
	// the unanswered connection was dropped, dials a new one (its
	// handshake is never answered).
	for i, id := range []string{"first", "second", "third"} {
		if id == "third" {
			time.Sleep(broker.AnswerGrace + time.Second)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- pub.Publish(ctx, "", "q.stall", message.NewMessage(id, nil)) }()
		select {
		case err := <-done:
			if err == nil {
				t.Fatalf("publish %d succeeded with the broker not answering", i+1)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("publish %d returned after %s; its context allowed 2s", i+1, d.Round(time.Millisecond))
			}
			t.Logf("publish %d: %v", i+1, err)
		case <-time.After(20 * time.Second):
			cancel()
			t.Fatalf("publish %d still waiting 20s later; its context allowed 2s (waiting for the broker's reply to a channel close or open, unbounded)", i+1)
		}
		cancel()
	}

	proxy.Unstall()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := pub.Publish(testCtx(t, 5*time.Second), "", "q.stall", message.NewMessage("after", nil))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("publisher does not publish once the broker answers again: %v", err)
		}
		t.Logf("publish after the stall: %v", err)
		time.Sleep(200 * time.Millisecond)
	}
}

// At a memory or disk alarm RabbitMQ tells each publishing connection
// connection.blocked and stops reading it: no publish is confirmed until
// connection.unblocked. The readiness check of the broker asked only
// whether the publisher's connection was open, which it is, so /readyz
// answered 200 (and the intake took requests it could only answer 503
// after PUBLISH_TIMEOUT) for as long as the alarm lasted. The publisher's
// readiness (Ready) says the broker blocks publishing, with its reason,
// and is ready again once unblocked.
func TestPublisherReadinessSaysTheBrokerBlocksPublishing(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	declare(t, ch, "q.blocked", broker.QueueQuorum, nil)
	proxy := testenv.NewBrokerProxy(t, u)
	pub := newPublisher(t, proxy.URL(), 2)
	ctx := testCtx(t, 30*time.Second)
	if err := pub.Publish(ctx, "", "q.blocked", message.NewMessage("before", nil)); err != nil {
		t.Fatalf("publish before the alarm: %v", err)
	}
	if err := pub.Ready(ctx); err != nil {
		t.Fatalf("not ready before the alarm: %v", err)
	}
	proxy.Block("low on memory")
	proxy.Stall()
	waitReady := func(want bool) error {
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := pub.Ready(testCtx(t, 2*time.Second))
			if (err == nil) == want || time.Now().After(deadline) {
				return err
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	err := waitReady(false)
	if err == nil {
		t.Fatal("ready while the broker blocks publishing")
	}
	if !strings.Contains(err.Error(), "blocks publishing") || !strings.Contains(err.Error(), "low on memory") {
		t.Errorf("readiness %q does not say the broker blocks publishing, and why", err)
	}
	proxy.Unblock()
	proxy.Unstall()
	if err := waitReady(true); err != nil {
		t.Fatalf("still not ready after connection.unblocked: %v", err)
	}
	if err := pub.Publish(ctx, "", "q.blocked", message.NewMessage("after", nil)); err != nil {
		t.Fatalf("publish after the alarm: %v", err)
	}
}

// The keyed subscriber (Radial's status queue, on Radial's broker) ended a
// session by closing its connection, which waits for the broker's
// close-ok without a bound: with a broker that keeps the connection and
// its heartbeats alive but stopped answering, Close (the worker's
// shutdown) never returned. It must return within AnswerGrace and a few
// seconds (nothing is in flight: no drain).
//
// Bounded by a deadline on the connection (CloseDeadline), Close took
// AnswerGrace and up to half a heartbeat more (9.955 s under -race, where
// the session's own close, not the one started when its context ended,
// was the one waited for): amqp091's heartbeater moves the read deadline
// on at every frame the broker sends (its heartbeats still come), so the
// wait ended only when the next heartbeat the client sent hit the write
// deadline.
func TestKeyedSubscriberCloseWithABrokerThatStopsAnswering(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	const q = "q.keyed.stall"
	declare(t, ch, q, "classic", nil)
	proxy := testenv.NewBrokerProxy(t, u)
	sub := &broker.KeyedSubscriber{URL: proxy.URL(), N: 2, Passive: true, DrainTimeout: time.Second, Log: zerolog.Nop(),
		Key: func(m *message.Message) string { return m.Metadata.Get("key") }}
	if _, err := sub.Subscribe(testCtx(t, time.Minute), q); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !sub.Connected() {
		if time.Now().After(deadline) {
			t.Fatal("not consuming")
		}
		time.Sleep(50 * time.Millisecond)
	}
	proxy.Stall()
	closesWithin(t, proxy, sub.Close, broker.AnswerGrace+2*time.Second, 30*time.Second)
}

// The request queues' consumers (watermill-amqp, merged by
// ConcurrentSubscriber) close their connection at shutdown, which waits
// for the broker's close-ok without a bound (amqp091): with a broker that
// keeps the connection and its heartbeats alive but stopped answering,
// Close (the worker's shutdown) never returned. It must return within its
// drain timeout and a few seconds.
func TestConcurrentSubscriberCloseWithABrokerThatStopsAnswering(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	const q = "q.concurrent.stall"
	declare(t, ch, q, broker.QueueQuorum, nil)
	proxy := testenv.NewBrokerProxy(t, u)
	wsub, err := broker.NewSubscriber(testCtx(t, 30*time.Second), broker.SubscriberConfig{URL: proxy.URL(), Prefetch: 1}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	sub := broker.NewConcurrentSubscriber(wsub, 2, time.Second, zerolog.Nop())
	if _, err := sub.Subscribe(testCtx(t, time.Minute), q); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // consuming
	proxy.Stall()
	closesWithin(t, proxy, sub.Close, 15*time.Second, 25*time.Second)
}

// closesWithin calls closeSub, with proxy stalled, and fails unless it
// returns within want; it gives up waiting after giveUp (then unstalls the
// proxy to let the test end).
func closesWithin(t *testing.T, proxy *testenv.BrokerProxy, closeSub func() error, want, giveUp time.Duration) {
	t.Helper()
	closed := make(chan struct{})
	start := time.Now()
	go func() { _ = closeSub(); close(closed) }()
	select {
	case <-closed:
		if d := time.Since(start); d > want {
			t.Errorf("Close took %s", d.Round(time.Millisecond))
		}
	case <-time.After(giveUp):
		proxy.Unstall() // let the test end
		t.Fatalf("Close still waiting %s later (for the broker's answers, unbounded)", giveUp)
	}
}
