package ops_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

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
			done := make(chan error, 1)
			go func() { done <- run(context.Background(), e) }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "did not answer") {
					t.Errorf("%s on a broker that stopped answering: err = %v, want one saying the broker did not answer", name, err)
				}
			case <-time.After(30 * time.Second):
				proxy.Close()
				<-done
				t.Fatalf("%s still waiting 30s after the broker stopped answering (Timeout 2s)", name)
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
