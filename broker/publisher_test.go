package broker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
)

func TestPublisherConfirmedPublishReachesQueue(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	declare(t, ch, "q.direct", broker.QueueQuorum, nil)
	declareOn(t, u, broker.Topology{StatusQueues: []broker.StatusQueue{{Name: "q.status", BindingKey: "settlement.status.#"}}})
	pub := newPublisher(t, u, 2)

	cases := []struct {
		name, exchange, key, queue string
	}{
		{"default exchange to a queue", "", "q.direct", "q.direct"},
		{"topic exchange through a binding", broker.StatusExchange, broker.StatusRoutingKey("S1"), "q.status"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := message.NewMessage("id-"+tc.queue, []byte("<x/>"))
			msg.Metadata.Set(broker.MetaContentType, "application/xml")
			msg.Metadata.Set(broker.MetaCorrelationID, "corr")
			msg.Metadata.Set(broker.MetaType, broker.StatusMessageType)
			msg.Metadata.Set("store_id", "S1")
			if err := pub.Publish(testCtx(t, 10*time.Second), tc.exchange, tc.key, msg); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			// Confirmed means enqueued: no waiting needed.
			d, ok, err := ch.Get(tc.queue, true)
			if err != nil || !ok {
				t.Fatalf("confirmed message not in %s (ok %v, err %v)", tc.queue, ok, err)
			}
			if d.MessageId != "id-"+tc.queue || d.ContentType != "application/xml" || d.CorrelationId != "corr" ||
				d.Type != broker.StatusMessageType || d.Headers["store_id"] != "S1" || string(d.Body) != "<x/>" ||
				d.DeliveryMode != amqp.Persistent {
				t.Errorf("delivered message differs: %+v", d)
			}
		})
	}
}

func TestPublisherErrors(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	declareOn(t, u, broker.Topology{}) // the two exchanges
	declare(t, ch, "q.full", broker.QueueClassic, amqp.Table{"x-max-length": int64(1), "x-overflow": "reject-publish"})
	pub := newPublisher(t, u, 1)
	if err := pub.Publish(testCtx(t, 10*time.Second), "", "q.full", message.NewMessage("fill", nil)); err != nil {
		t.Fatalf("setup: %v", err)
	}

	cases := []struct {
		name, exchange, key string
		want                error
	}{
		{"default exchange, queue does not exist", "", "q.does-not-exist", broker.ErrUnroutable},
		{"topic exchange, no binding", broker.StatusExchange, "settlement.status.nobody", broker.ErrUnroutable},
		{"queue full with reject-publish", "", "q.full", broker.ErrNacked},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := pub.Publish(testCtx(t, 10*time.Second), tc.exchange, tc.key, message.NewMessage("m", []byte("x")))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Publish = %v, want an error wrapping %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.key) {
				t.Errorf("error %q does not name the routing key %q", err, tc.key)
			}
			// The publisher stays usable.
			declare(t, ch, "q.after", broker.QueueClassic, nil)
			if err := pub.Publish(testCtx(t, 10*time.Second), "", "q.after", message.NewMessage("ok", nil)); err != nil {
				t.Fatalf("Publish after the error: %v", err)
			}
		})
	}
}

// TestPublisherChannelErrorIsNotUnroutable: publishing to an exchange that
// does not exist makes the broker close the channel (404 NOT_FOUND); it sends
// neither basic.return nor basic.nack. When a channel closes, amqp091 closes
// the NotifyReturn channel and resolves pending deferred confirms as not
// acked, so confirmChannel.publish reads a zero amqp.Return from the closed
// returns channel and reports ErrUnroutable (" (0)"). Publish treats
// ErrUnroutable and ErrNacked as final, so a lost channel or connection
// during the confirm wait is never retried on a fresh channel (see also
// TestPublisherConnectionLostDuringPublish).
func TestPublisherChannelErrorIsNotUnroutable(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	declare(t, ch, "q.ok", broker.QueueClassic, nil)
	pub := newPublisher(t, u, 1)
	err := pub.Publish(testCtx(t, 10*time.Second), "no.such.exchange", "k", message.NewMessage("m", []byte("x")))
	if err == nil {
		t.Fatal("Publish to a missing exchange succeeded")
	}
	t.Logf("Publish to a missing exchange: %v", err)
	if errors.Is(err, broker.ErrNacked) || errors.Is(err, broker.ErrUnroutable) {
		t.Errorf("Publish to a missing exchange = %q: reported as a broker nack or return, but the broker closed the channel with 404 NOT_FOUND", err)
	}
	if err := pub.Publish(testCtx(t, 10*time.Second), "", "q.ok", message.NewMessage("ok", nil)); err != nil {
		t.Fatalf("Publish after the channel error: %v", err)
	}
}

func TestPublisherContextCancelled(t *testing.T) {
	u := amqpURL(t)
	pub := newPublisher(t, u, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := pub.Publish(ctx, "", "q.any", message.NewMessage("m", nil)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Publish with a cancelled context = %v, want context.Canceled", err)
	}
}

// TestPublisherRecoversFromForcedClose: "A lost connection is re-established
// on the next Publish."
func TestPublisherRecoversFromForcedClose(t *testing.T) {
	cases := []struct {
		name  string
		close func(t *testing.T, u string, conn *amqp.Connection)
		wait  bool
	}{
		{"management API closes the connection", func(t *testing.T, u string, _ *amqp.Connection) {
			killConnections(t, u, "settlement-worker")
		}, true},
		{"Conn().Close()", func(t *testing.T, _ string, conn *amqp.Connection) {
			if err := conn.Close(); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"management API, publish right away", func(t *testing.T, u string, _ *amqp.Connection) {
			killConnections(t, u, "settlement-worker")
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := amqpURL(t)
			_, ch := dial(t, u)
			declare(t, ch, "q.p", broker.QueueQuorum, nil)
			pub := newPublisher(t, u, 2)
			ctx := testCtx(t, 20*time.Second)
			// Warm the pool: an idle channel on the old connection.
			if err := pub.Publish(ctx, "", "q.p", message.NewMessage("before", nil)); err != nil {
				t.Fatal(err)
			}
			conn, err := pub.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			closed := conn.NotifyClose(make(chan *amqp.Error, 1))
			tc.close(t, u, conn)
			if tc.wait {
				select {
				case <-closed:
				case <-time.After(10 * time.Second):
					t.Fatal("the connection was not closed")
				}
			}
			if err := pub.Publish(ctx, "", "q.p", message.NewMessage("after", nil)); err != nil {
				t.Fatalf("Publish after the connection was closed: %v", err)
			}
			c2, err := pub.Conn(ctx)
			if err != nil || c2.IsClosed() || c2 == conn {
				t.Errorf("Conn after reconnect: %p closed=%v err=%v (old %p)", c2, c2 != nil && c2.IsClosed(), err, conn)
			}
			for _, id := range []string{"before", "after"} {
				d, ok := getOne(t, ch, "q.p", 2*time.Second)
				if !ok || d.MessageId != id {
					t.Fatalf("want message %q in the queue, got %q (ok %v)", id, d.MessageId, ok)
				}
				_ = d.Ack(false)
			}
		})
	}
}

// TestPublisherConcurrent publishes from 20 goroutines at once through a
// smaller channel pool (run with -race).
func TestPublisherConcurrent(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	declare(t, ch, "q.conc", broker.QueueQuorum, nil)
	pub := newPublisher(t, u, 4)
	ctx := testCtx(t, 30*time.Second)
	const goroutines, each = 20, 10
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				msg := message.NewMessage(fmt.Sprintf("g%d-%d", g, i), []byte("x"))
				msg.Metadata.Set("g", fmt.Sprint(g))
				if err := pub.Publish(ctx, "", "q.conc", msg); err != nil {
					errs <- err
				}
				// An unroutable publish in the mix must not disturb the others.
				if i == each/2 {
					if err := pub.Publish(ctx, "", "q.missing", message.NewMessage("u", nil)); !errors.Is(err, broker.ErrUnroutable) {
						errs <- fmt.Errorf("unroutable publish: %v", err)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := queueDepth(t, ch, "q.conc"); n != goroutines*each {
		t.Errorf("queue holds %d messages, want %d", n, goroutines*each)
	}
	seen := map[string]bool{}
	for {
		d, ok, err := ch.Get("q.conc", true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if seen[d.MessageId] {
			t.Errorf("message %s published twice", d.MessageId)
		}
		seen[d.MessageId] = true
	}
	if len(seen) != goroutines*each {
		t.Errorf("%d distinct messages, want %d", len(seen), goroutines*each)
	}
}

// TestPublisherConnectionLostDuringPublish force-closes the connection while
// 20 goroutines keep publishing. Publish "retries once on a fresh channel
// when the channel or connection was lost", so none of them may fail; and
// every confirmed message must be in the queue.
func TestPublisherConnectionLostDuringPublish(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	declare(t, ch, "q.lost", broker.QueueQuorum, nil)
	pub := newPublisher(t, u, 8)
	ctx := testCtx(t, 60*time.Second)

	var ok atomic.Int64
	var mu sync.Mutex
	var failures []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := pub.Publish(ctx, "", "q.lost", message.NewMessage(fmt.Sprintf("g%d-%d", g, i), nil)); err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	for k := 0; k < 3; k++ {
		time.Sleep(150 * time.Millisecond)
		conn, err := pub.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.Close()
	}
	time.Sleep(150 * time.Millisecond)
	close(stop)
	wg.Wait()
	if len(failures) > 0 {
		kinds := map[string]int{}
		for _, f := range failures {
			kinds[f]++
		}
		t.Errorf("%d of %d publishes failed although the connection was only lost: %v", len(failures), int(ok.Load())+len(failures), kinds)
	}
	if n := queueDepth(t, ch, "q.lost"); int64(n) < ok.Load() {
		t.Errorf("queue holds %d messages but %d publishes were confirmed", n, ok.Load())
	}
}
