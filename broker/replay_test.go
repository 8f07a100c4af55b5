package broker_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
)

// park publishes a parked message into parked, as the worker parks one.
func park(t *testing.T, u, parked, id, from, reason string) {
	t.Helper()
	h := amqp.Table{"parked_reason": reason, "parked_attempts": int32(6), "settlement_attempt": int32(6), "order_id": "O-" + id}
	if from != "" {
		h["parked_from_queue"] = from
	}
	publishRaw(t, u, "", parked, amqp.Publishing{MessageId: id, Headers: h, Body: []byte("body " + id), DeliveryMode: amqp.Persistent})
}

// waitDepth waits up to 5s for queue to hold want ready messages.
func waitDepth(t *testing.T, ch *amqp.Channel, queue string, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := queueDepth(t, ch, queue)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue %s: %d ready messages, want %d", queue, n, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// reparker consumes target and republishes every message into parked, as a
// worker that parks the request again would. It returns how many it re-parked.
func reparker(t *testing.T, u, target, parked string) *atomic.Int64 {
	t.Helper()
	_, ch := dial(t, u)
	ds, err := ch.Consume(target, "", false, false, false, false, nil)
	if err != nil {
		t.Fatalf("consume %s: %v", target, err)
	}
	var n atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); _ = ch.Close(); <-done })
	go func() {
		defer close(done)
		for d := range ds {
			h := amqp.Table{}
			for k, v := range d.Headers {
				h[k] = v
			}
			h["parked_reason"] = "parked again"
			h["parked_from_queue"] = target
			if err := ch.PublishWithContext(ctx, "", parked, false, false, amqp.Publishing{
				MessageId: d.MessageId, Headers: h, Body: d.Body, DeliveryMode: amqp.Persistent,
			}); err != nil {
				return
			}
			_ = d.Ack(false)
			n.Add(1)
		}
	}()
	return &n
}

// A worker that parks every replayed message again cannot make Replay loop:
// it moves at most the depth it saw at its start.
func TestReplayBoundedByStartDepth(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	parked, target := "replay.loop.parked", "replay.loop.requests"
	declare(t, ch, parked, "quorum", nil)
	declare(t, ch, target, "quorum", nil)
	for i := range 5 {
		park(t, u, parked, fmt.Sprintf("m%d", i), target, "provider down")
	}
	reparked := reparker(t, u, target, parked)

	res, err := broker.Replay(testCtx(t, 10*time.Second), u, broker.ReplayOptions{Parked: parked, Fallback: target})
	if err != nil {
		t.Fatalf("Replay: %v (moved %d)", err, res.Moved)
	}
	if res.Moved != 5 || res.Parked != 5 || len(res.Messages) != 5 {
		t.Fatalf("Replay moved %d of %d (listed %d), want 5 of 5", res.Moved, res.Parked, len(res.Messages))
	}
	for i, m := range res.Messages {
		if m.RequestID != fmt.Sprintf("m%d", i) || m.Target != target || m.Reason != "provider down" {
			t.Errorf("message %d: %+v", i, m)
		}
	}
	// The re-parker puts all five back: nothing was replayed twice.
	waitDepth(t, ch, parked, 5)
	if n := reparked.Load(); n != 5 {
		t.Fatalf("re-parked %d, want 5", n)
	}
}

func TestReplayLimit(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	parked, target := "replay.limit.parked", "replay.limit.requests"
	declare(t, ch, parked, "quorum", nil)
	declare(t, ch, target, "quorum", nil)
	for i := range 5 {
		park(t, u, parked, fmt.Sprintf("m%d", i), target, "r")
	}
	res, err := broker.Replay(testCtx(t, 10*time.Second), u, broker.ReplayOptions{Parked: parked, Fallback: target, Limit: 2})
	if err != nil || res.Moved != 2 || res.Parked != 5 {
		t.Fatalf("Replay = %+v, %v; want 2 of 5", res, err)
	}
	waitDepth(t, ch, target, 2)
	waitDepth(t, ch, parked, 3)
	d, ok := getOne(t, ch, target, time.Second)
	if !ok {
		t.Fatal("nothing in the target queue")
	}
	for _, h := range []string{"parked_reason", "parked_from_queue", "parked_attempts", "settlement_attempt"} {
		if _, ok := d.Headers[h]; ok {
			t.Errorf("replayed message kept header %s", h)
		}
	}
	if d.MessageId != "m0" || string(d.Body) != "body m0" || d.Headers["order_id"] != "O-m0" {
		t.Errorf("replayed message altered: id %q body %q headers %v", d.MessageId, d.Body, d.Headers)
	}
}

// Replaying to a queue that does not exist is a failure: the parked message
// stays parked and the error names the queue.
func TestReplayUnroutableKeepsTheMessage(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	parked, target := "replay.unroutable.parked", "replay.unroutable.requests"
	declare(t, ch, parked, "quorum", nil)
	declare(t, ch, target, "quorum", nil)
	park(t, u, parked, "lost?", "q.does-not-exist", "r")

	res, err := broker.Replay(testCtx(t, 10*time.Second), u, broker.ReplayOptions{Parked: parked, Fallback: target})
	if err == nil || !strings.Contains(err.Error(), "q.does-not-exist") {
		t.Fatalf("Replay error = %v, want one naming q.does-not-exist", err)
	}
	if res.Moved != 0 {
		t.Fatalf("moved %d, want 0", res.Moved)
	}
	d, ok := getOne(t, ch, parked, 5*time.Second)
	if !ok || d.MessageId != "lost?" {
		t.Fatalf("the parked message is gone (got %v %q)", ok, d.MessageId)
	}
	if queueDepth(t, ch, target) != 0 {
		t.Fatal("the fallback queue received the message")
	}
}

// A dry run lists what it would move and moves nothing.
func TestReplayDryRun(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	parked, target, other := "replay.dry.parked", "replay.dry.requests", "replay.dry.other"
	declare(t, ch, parked, "quorum", nil)
	declare(t, ch, target, "quorum", nil)
	declare(t, ch, other, "quorum", nil)
	park(t, u, parked, "a", other, "declined")
	park(t, u, parked, "b", "", "provider down") // no parked_from_queue: fallback
	publishRaw(t, u, "", parked, amqp.Publishing{Headers: amqp.Table{"request_id": "c", "parked_reason": "bad", "parked_from_queue": target}, Body: []byte("c")})

	res, err := broker.Replay(testCtx(t, 10*time.Second), u, broker.ReplayOptions{Parked: parked, Fallback: target, DryRun: true})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	want := []broker.ReplayedMessage{
		{RequestID: "a", Reason: "declined", Target: other},
		{RequestID: "b", Reason: "provider down", Target: target},
		{RequestID: "c", Reason: "bad", Target: target},
	}
	if res.Moved != 0 || res.Parked != 3 || fmt.Sprint(res.Messages) != fmt.Sprint(want) {
		t.Fatalf("dry run = %+v, want 0 moved of 3, messages %+v", res, want)
	}
	waitDepth(t, ch, parked, 3)
	if queueDepth(t, ch, target) != 0 || queueDepth(t, ch, other) != 0 {
		t.Fatal("a dry run moved messages")
	}

	res, err = broker.Replay(testCtx(t, 10*time.Second), u, broker.ReplayOptions{Parked: parked, Fallback: target, DryRun: true, Limit: 1})
	if err != nil || len(res.Messages) != 1 || res.Messages[0].RequestID != "a" {
		t.Fatalf("dry run limit 1 = %+v, %v", res, err)
	}
	waitDepth(t, ch, parked, 3)
}

// drainIDs reads every message of queue (acking them) and returns their
// message ids in order.
func drainIDs(t *testing.T, ch *amqp.Channel, queue string) []string {
	t.Helper()
	var ids []string
	for {
		d, ok, err := ch.Get(queue, true)
		if err != nil {
			t.Fatalf("get %s: %v", queue, err)
		}
		if !ok {
			return ids
		}
		ids = append(ids, d.MessageId)
	}
}

// Browse reads every message and leaves the queue as it was: same
// messages, same order, for quorum and classic queues alike; reading it
// twice gives the same list.
func TestBrowseKeepsMessagesAndOrder(t *testing.T) {
	for _, qt := range []string{"quorum", "classic"} {
		t.Run(qt, func(t *testing.T) {
			u := amqpURL(t)
			conn, ch := dial(t, u)
			parked := "browse." + qt + ".parked"
			declare(t, ch, parked, qt, nil)
			var want []string
			for i := range 6 {
				id := fmt.Sprintf("m%d", i)
				want = append(want, id)
				park(t, u, parked, id, "", "provider down")
			}
			for range 2 {
				var got []string
				depth, read, err := broker.Browse(testCtx(t, 10*time.Second), conn, parked, func(d amqp.Delivery) {
					got = append(got, d.MessageId)
				})
				if err != nil || depth != 6 || read != 6 || fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("Browse = %d, %d, %v, %v; want 6, 6, %v", depth, read, got, err, want)
				}
				waitDepth(t, ch, parked, 6)
			}
			if got := drainIDs(t, ch, parked); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("after browsing: %v, want %v", got, want)
			}
		})
	}
}

// A filtered replay moves the matching messages only; the others go back
// to the parked queue untouched and in their order. A filtered purge
// deletes the matching ones the same way.
func TestReplayAndPurgeWithMatch(t *testing.T) {
	u := amqpURL(t)
	conn, ch := dial(t, u)
	parked, target := "replay.match.parked", "replay.match.requests"
	declare(t, ch, parked, "quorum", nil)
	declare(t, ch, target, "quorum", nil)
	for i := range 6 {
		reason := "provider down"
		if i%2 == 1 {
			reason = "declined by a person"
		}
		park(t, u, parked, fmt.Sprintf("m%d", i), target, reason)
	}
	down := func(d amqp.Delivery) bool { return d.Headers["parked_reason"] == "provider down" }
	var progress []int
	res, err := broker.ReplayOn(testCtx(t, 10*time.Second), conn, broker.ReplayOptions{
		Parked: parked, Fallback: target, Match: down, Limit: 2,
		Progress: func(read, depth int) { progress = append(progress, read, depth) },
	})
	// After the limit, the rest is read and put back with m1, so that the
	// order survives queues that requeue at the tail.
	if err != nil || res.Moved != 2 || res.Parked != 6 || res.Read != 6 {
		t.Fatalf("Replay = %+v, %v; want 2 moved of 6, 6 read", res, err)
	}
	if fmt.Sprint(progress) != "[1 6 2 6 3 6 4 6 5 6 6 6]" {
		t.Errorf("progress calls %v", progress)
	}
	waitDepth(t, ch, target, 2)
	waitDepth(t, ch, parked, 4)
	if got := drainIDs(t, ch, target); fmt.Sprint(got) != "[m0 m2]" {
		t.Fatalf("replayed %v, want [m0 m2]", got)
	}

	// Purge what is left of "provider down": m4 (m1 was requeued: it must
	// still come first).
	res, err = broker.ReplayOn(testCtx(t, 10*time.Second), conn, broker.ReplayOptions{Parked: parked, Match: down, Purge: true})
	if err != nil || res.Moved != 1 || res.Read != 4 || len(res.Messages) != 1 || res.Messages[0].RequestID != "m4" {
		t.Fatalf("Purge = %+v, %v; want m4 deleted of 4 read", res, err)
	}
	waitDepth(t, ch, parked, 3)
	if queueDepth(t, ch, target) != 0 {
		t.Fatal("a purge republished")
	}
	got := drainIDs(t, ch, parked)
	if fmt.Sprint(got) != "[m1 m3 m5]" {
		t.Fatalf("left parked %v, want [m1 m3 m5] in order", got)
	}
}

func TestInspect(t *testing.T) {
	u := amqpURL(t)
	conn, ch := dial(t, u)
	declare(t, ch, "inspect.q", "quorum", nil)
	park(t, u, "inspect.q", "a", "", "r")
	if _, err := ch.Consume("inspect.q", "", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	s, err := broker.Inspect(conn, "inspect.q")
	if err != nil || !s.Exists || s.Consumers != 1 {
		t.Fatalf("Inspect = %+v, %v; want exists with 1 consumer", s, err)
	}
	s, err = broker.Inspect(conn, "inspect.missing")
	if err != nil || s.Exists {
		t.Fatalf("Inspect(missing) = %+v, %v; want not existing, no error", s, err)
	}
	if _, err := broker.ReplayOn(testCtx(t, 5*time.Second), conn, broker.ReplayOptions{Parked: "inspect.missing"}); !broker.IsNotFound(err) {
		t.Fatalf("ReplayOn(missing) = %v, want a NOT_FOUND error", err)
	}
}

// A dry run with a limit, and a replay that fails half way, leave the
// parked queue in its order (RabbitMQ 3.x quorum queues requeue at the
// tail: the messages read must be put back together with the rest).
func TestReplayKeepsOrderOnLimitAndFailure(t *testing.T) {
	u := amqpURL(t)
	conn, ch := dial(t, u)
	parked, target := "replay.order.parked", "replay.order.requests"
	declare(t, ch, parked, "quorum", nil)
	declare(t, ch, target, "quorum", nil)
	for i := range 5 {
		from := target
		if i == 2 {
			from = "q.does-not-exist"
		}
		park(t, u, parked, fmt.Sprintf("m%d", i), from, "r")
	}
	res, err := broker.ReplayOn(testCtx(t, 10*time.Second), conn, broker.ReplayOptions{Parked: parked, Fallback: target, DryRun: true, Limit: 1})
	if err != nil || len(res.Messages) != 1 || res.Read != 5 {
		t.Fatalf("dry run = %+v, %v", res, err)
	}
	waitDepth(t, ch, parked, 5)
	res, err = broker.ReplayOn(testCtx(t, 10*time.Second), conn, broker.ReplayOptions{Parked: parked, Fallback: target})
	if err == nil || res.Moved != 2 || res.Read != 5 {
		t.Fatalf("replay = %+v, %v; want 2 moved, then an error on m2", res, err)
	}
	waitDepth(t, ch, parked, 3)
	if got := drainIDs(t, ch, parked); fmt.Sprint(got) != "[m2 m3 m4]" {
		t.Fatalf("parked after the failure: %v, want [m2 m3 m4]", got)
	}
}

// A replayed copy says it is ready now (settlement_ready_at), whatever its
// AMQP timestamp: the consumer lag counts from the replay, not from the
// first publish.
func TestReplayMarksTheCopyReadyNow(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	parked, target := "replay.ready.parked", "replay.ready.requests"
	declare(t, ch, parked, "quorum", nil)
	declare(t, ch, target, "quorum", nil)
	park(t, u, parked, "m0", target, "provider down")
	before := time.Now().Add(-time.Second)
	if _, err := broker.Replay(testCtx(t, 10*time.Second), u, broker.ReplayOptions{Parked: parked, Fallback: target}); err != nil {
		t.Fatal(err)
	}
	waitDepth(t, ch, target, 1)
	d, ok, err := ch.Get(target, true)
	if err != nil || !ok {
		t.Fatalf("get %s: %v %v", target, ok, err)
	}
	at, known := broker.ReadySince(map[string]string{broker.HeaderReadyAt: broker.Stringify(d.Headers[broker.HeaderReadyAt])})
	if !known || at.Before(before) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("%s = %v (%v), want about now", broker.HeaderReadyAt, d.Headers[broker.HeaderReadyAt], known)
	}
	// The copy says it is a replay: only such a copy resumes a parked
	// settlement (TestDuplicateFromTheOrderSystemDoesNotUnpark).
	if v := broker.Stringify(d.Headers[broker.HeaderReplayed]); v == "" {
		t.Errorf("replayed copy has no %s header", broker.HeaderReplayed)
	}
}
