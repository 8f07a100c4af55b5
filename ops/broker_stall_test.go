package ops_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/ops"
)

// stallOnSet stalls the broker proxy once the first message was read.
type stallOnSet struct {
	once  *sync.Once
	proxy *testenv.BrokerProxy
}

func (s stallOnSet) Set(int) {
	s.once.Do(func() {
		s.proxy.Block("low on disk")
		s.proxy.Stall()
	})
}
func (stallOnSet) Finish() {}

// TestReplayAndPurgeEndOnABrokerThatStopsAnswering: a replay or purge
// whose broker stops answering mid-way (a node wedged, or blocking the
// connection at a resource alarm: its heartbeats still come, so the
// connection never times out) waited forever for a confirm or a
// basic.get, printing nothing: the command line's context ends only on
// Ctrl-C. Each now fails within Env.Timeout of the last step that
// answered, saying the broker did not answer, and the messages it did not
// move stay parked (the broker requeues them when the connection ends).
func TestReplayAndPurgeEndOnABrokerThatStopsAnswering(t *testing.T) {
	f := newFixture(t, "")
	for name, run := range map[string]func(context.Context, ops.Env) error{
		"replay": func(ctx context.Context, e ops.Env) error {
			return ops.Replay(ctx, e, ops.Filter{}, ops.ReplayOptions{})
		},
		"purge": func(ctx context.Context, e ops.Env) error {
			return ops.Purge(ctx, e, ops.Filter{}, ops.PurgeOptions{})
		},
	} {
		t.Run(name, func(t *testing.T) {
			f.ids(broker.ParkedQueue("radial"))
			f.ids(broker.RequestQueue("radial"))
			f.park("radial", "r1", "provider down", 6, time.Hour)
			f.park("radial", "r2", "provider down", 6, time.Hour)
			proxy := testenv.NewBrokerProxy(t, f.url)
			e := f.env()
			e.AMQPURL, e.Providers, e.Timeout = proxy.URL(), []string{"radial"}, 2*time.Second
			e.Progress = func(string, int) ops.Progress { return stallOnSet{&sync.Once{}, proxy} }
			done := started(func() error { return run(context.Background(), e) })
			err := ended(t, done, 30*time.Second, name+" on a broker that stopped answering (Timeout 2s)", proxy.Close)
			if err == nil || !strings.Contains(err.Error(), "did not answer") {
				t.Errorf("%s on a broker that stopped answering: err = %v, want one saying the broker did not answer", name, err)
			}
			proxy.Close()
			// Nothing is lost: what was not moved is parked again.
			var parked, moved int
			for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
				p, err := f.ch.QueueDeclarePassive(broker.ParkedQueue("radial"), true, false, false, false, nil)
				if err != nil {
					t.Fatal(err)
				}
				r, err := f.ch.QueueDeclarePassive(broker.RequestQueue("radial"), true, false, false, false, nil)
				if err != nil {
					t.Fatal(err)
				}
				if parked, moved = p.Messages, r.Messages; name == "replay" && parked+moved >= 2 || name == "purge" && parked >= 1 {
					break
				}
			}
			if name == "replay" && parked+moved < 2 || name == "purge" && parked < 1 {
				t.Errorf("after the %s: %d parked, %d in the request queue", name, parked, moved)
			}
		})
	}
}

// TestListEndsOnABrokerThatStopsAnswering: parked ls reading a long
// parked queue through a broker that stops answering mid-way (its
// heartbeats still coming) waited for its next basic.get forever. It now
// fails within Env.Timeout of the last message read, and the messages it
// held go back to the queue.
func TestListEndsOnABrokerThatStopsAnswering(t *testing.T) {
	f := newFixture(t, "")
	const n = 3000
	f.publishMany("", broker.ParkedQueue("radial"), n, func(i int) amqp.Publishing {
		return amqp.Publishing{
			MessageId: fmt.Sprint("msg-", i), ContentType: "application/xml", DeliveryMode: amqp.Persistent, Body: requestXML(fmt.Sprint(i), "O"),
			Headers: amqp.Table{"parked_reason": "provider down", "parked_at": now.Add(-time.Hour).Format(time.RFC3339)}}
	})
	proxy := testenv.NewBrokerProxy(t, f.url)
	e := f.env()
	e.AMQPURL, e.Providers, e.Timeout = proxy.URL(), []string{"radial"}, 2*time.Second
	done := started(func() error { return ops.List(context.Background(), e, ops.Filter{}, false) })
	time.Sleep(300 * time.Millisecond) // the dial is done, the browse is not
	proxy.Stall()
	switch err := ended(t, done, 30*time.Second, "parked ls on a broker that stopped answering (Timeout 2s)", proxy.Close); {
	case err != nil && strings.Contains(err.Error(), "connect to the broker"):
		t.Skip("the broker stalled before the dial ended")
	case err == nil && strings.Contains(f.out.String(), fmt.Sprintf("of %d parked", n)):
		t.Skip("the browse ended before the broker stalled")
	case err == nil || !strings.Contains(err.Error(), "did not answer"):
		t.Errorf("parked ls on a broker that stopped answering: err = %v, want one saying the broker did not answer", err)
	}
	proxy.Close()
	f.depth(broker.ParkedQueue("radial"), n)
}

// TestStatsEndsOnABrokerThatStopsAnswering: stats, the runbook's first
// command, inspecting the queues of a broker that stops answering mid-way
// (heartbeats still coming) waited for a passive declare forever, and
// never printed the store's half. It now reports the broker as not
// answering within Env.Timeout and prints the store's half.
func TestStatsEndsOnABrokerThatStopsAnswering(t *testing.T) {
	f := newFixture(t, "")
	f.register("radial", "r1")
	proxy := testenv.NewBrokerProxy(t, f.url)
	e := f.env()
	e.AMQPURL, e.Timeout = proxy.URL(), 2*time.Second
	e.Providers = nil // many providers: inspecting their queues takes a while
	for i := range 3000 {
		e.Providers = append(e.Providers, fmt.Sprint("p", i))
	}
	e.Providers = append(e.Providers, "radial")
	done := started(func() error { return ops.Stats(context.Background(), e, false) })
	time.Sleep(300 * time.Millisecond) // the dial is done, the inspection is not
	proxy.Stall()
	switch err := ended(t, done, 30*time.Second, "stats on a broker that stopped answering (Timeout 2s)", proxy.Close); {
	case err != nil && strings.Contains(err.Error(), "connect to the broker"):
		t.Skip("the broker stalled before the dial ended")
	case err == nil:
		t.Skip("the inspection ended before the broker stalled")
	case !strings.Contains(err.Error(), "did not answer"):
		t.Errorf("stats on a broker that stopped answering: err = %v, want one saying the broker did not answer", err)
	}
	if !strings.Contains(f.out.String(), "radial    received") {
		t.Errorf("stats did not print the store's half:\n%s", f.out)
	}
}
