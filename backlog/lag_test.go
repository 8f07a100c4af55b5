package backlog

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/settlement-worker/settlement-worker/broker"
)

func TestHeadAge(t *testing.T) {
	now := t0.Add(time.Hour)
	for _, c := range []struct {
		name          string
		ready         float64
		nonEmptySince time.Time
		last          Taken
		want          float64
	}{
		{"empty queue", 0, now.Add(-time.Minute), Taken{At: now.Add(-time.Hour)}, 0},
		{"keeping up: the last one's wait plus the time since", 40, now.Add(-time.Hour),
			Taken{At: now.Add(-2 * time.Second), Wait: 3 * time.Second, Known: true}, 5},
		{"stalled consumers: the bound grows", 40, now.Add(-time.Hour),
			Taken{At: now.Add(-10 * time.Minute), Wait: time.Second, Known: true}, 601},
		{"wait unknown (no timestamp): the time since the last take", 40, now.Add(-time.Hour),
			Taken{At: now.Add(-7 * time.Second)}, 7},
		{"nothing taken since the queue filled: since it was seen non-empty", 40, now.Add(-90 * time.Second),
			Taken{At: now.Add(-time.Hour), Wait: time.Second, Known: true}, 90},
		{"nothing ever taken", 3, now.Add(-20 * time.Second), Taken{}, 20},
		{"first reading that sees it non-empty", 3, now, Taken{}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := HeadAge(now, c.ready, c.nonEmptySince, c.last); got != c.want {
				t.Errorf("HeadAge = %v, want %v", got, c.want)
			}
		})
	}
}

// Took times a request from its settlement_ready_at header (retried,
// resumed, replayed copies), else from its AMQP timestamp; a request with
// neither is counted as unknown.
func TestLagTook(t *testing.T) {
	clk := &clock{t: t0}
	reg := prometheus.NewPedanticRegistry()
	l := NewLag(reg, []string{"acme", "beta"}, clk.Now)
	l.Took("acme", map[string]string{broker.MetaTimestamp: t0.Add(-3 * time.Second).Format(time.RFC3339Nano)})
	l.Took("acme", map[string]string{
		broker.MetaTimestamp: t0.Add(-time.Hour).Format(time.RFC3339Nano), // the first publish
		broker.HeaderReadyAt: broker.ReadyAt(t0.Add(-20 * time.Millisecond)),
	})
	if got := l.Last("acme"); !got.Known || got.Wait != 20*time.Millisecond || !got.At.Equal(t0) {
		t.Errorf("Last(acme) = %+v, want a 20ms wait taken at t0", got)
	}
	l.Took("beta", map[string]string{"store_id": "S1"})
	if got := l.Last("beta"); got.Known || !got.At.Equal(t0) {
		t.Errorf("Last(beta) = %+v, want an unknown wait taken at t0", got)
	}
	// A clock ahead of the publisher's is no negative wait.
	l.Took("beta", map[string]string{broker.MetaTimestamp: t0.Add(time.Minute).Format(time.RFC3339Nano)})
	if got := l.Last("beta"); !got.Known || got.Wait != 0 {
		t.Errorf("Last(beta) = %+v, want a zero wait", got)
	}
	if n := testutil.CollectAndCount(l.wait); n != 2 {
		t.Errorf("wait histograms: %d series, want 2 (every provider from zero)", n)
	}
	want := `
# HELP settlement_request_wait_unknown_total Requests taken whose wait cannot be measured: their publisher set no AMQP timestamp.
# TYPE settlement_request_wait_unknown_total counter
settlement_request_wait_unknown_total{provider="acme"} 0
settlement_request_wait_unknown_total{provider="beta"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "settlement_request_wait_unknown_total"); err != nil {
		t.Fatal(err)
	}
	if n := samples(t, reg, "acme"); n != 2 {
		t.Errorf("acme waits observed: %d, want 2", n)
	}
	if n := samples(t, reg, "beta"); n != 1 {
		t.Errorf("beta waits observed: %d, want 1 (the unknown one is not)", n)
	}
}

// samples is the observation count of settlement_request_wait_seconds for provider.
func samples(t *testing.T, reg prometheus.Gatherer, provider string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "settlement_request_wait_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "provider" && lp.GetValue() == provider {
					return m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	t.Fatalf("no settlement_request_wait_seconds{provider=%q}", provider)
	return 0
}

// The collector estimates the consumer lag from the ready requests it reads
// on the broker and what the handlers took (HeadAge): 0 for an empty queue,
// growing while nothing is taken, the last wait plus the time since once a
// request was taken.
func TestCollectorHeadAge(t *testing.T) {
	f := newFixture(t)
	f.clock.set(t0)
	lag := NewLag(prometheus.NewRegistry(), []string{"acme", "beta"}, f.clock.Now)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(f.collector(Config{Lag: lag}))
	age := func(p string) float64 {
		return gauge(t, reg, "settlement_request_oldest_ready_seconds", `provider="`+p+`"`)
	}
	if a, b := age("acme"), age("beta"); a != 0 || b != 0 {
		t.Fatalf("empty queues: acme %v, beta %v; want 0, 0", a, b)
	}
	f.publish(broker.RequestQueue("acme"), 3)
	f.clock.set(t0.Add(10 * time.Second))
	if a := age("acme"); a != 0 {
		t.Fatalf("first reading with ready requests: %v, want 0", a)
	}
	f.clock.set(t0.Add(70 * time.Second))
	if a := age("acme"); a != 60 {
		t.Fatalf("nothing taken for 60s: %v, want 60", a)
	}
	lag.Took("acme", map[string]string{broker.HeaderReadyAt: broker.ReadyAt(t0.Add(10 * time.Second))})
	f.clock.set(t0.Add(80 * time.Second))
	if a := age("acme"); a != 70 {
		t.Fatalf("taken after a 60s wait, 10s ago: %v, want 70", a)
	}
	if b := age("beta"); b != 0 {
		t.Fatalf("beta, empty: %v", b)
	}
}
