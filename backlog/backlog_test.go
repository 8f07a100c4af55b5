package backlog

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var delays = []time.Duration{time.Hour, 2 * time.Hour}

// fixture is a SQLite store and a fresh vhost with the worker's topology for
// providers acme and beta.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	clock *clock
	st    store.Store
	conn  *amqp.Connection
	ch    *amqp.Channel
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	f := &fixture{t: t, ctx: ctx, clock: &clock{t: t0}}
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "s.db"), store.WithClock(f.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	f.st = st
	conn, err := broker.Dial(ctx, testenv.AMQPURL(t), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	f.conn = conn
	topo := broker.Topology{Providers: []string{"acme", "beta"}, QueueType: broker.QueueClassic, RetryDelays: delays}
	if err := topo.Declare(conn); err != nil {
		t.Fatal(err)
	}
	if f.ch, err = conn.Channel(); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) settlement(provider, id string, at time.Time, state store.State, parked string) {
	f.t.Helper()
	f.clock.set(at)
	s := store.Settlement{
		Key: store.Key{Provider: provider, RequestID: id}, Fingerprint: "sha256:" + id,
		StoreID: "S1", OrderID: "O-" + id, TenderType: "VC", SettlementType: "DEBIT",
		Amount: "1.00", Currency: "USD", Request: []byte("<x/>"), ContentType: "application/xml",
	}
	if _, _, err := f.st.Register(f.ctx, s); err != nil {
		f.t.Fatal(err)
	}
	ch := store.Change{Note: "test"}
	if parked != "" {
		ch.ParkedReason = &parked
	}
	if state != store.StateReceived || parked != "" {
		if _, _, err := f.st.Transition(f.ctx, s.Key, nil, state, ch, nil); err != nil {
			f.t.Fatal(err)
		}
	}
}

// publish puts n messages on queue and returns once the broker counts
// them (published without confirms, a message may not be in the queue
// yet when a reading follows at once on a loaded machine).
func (f *fixture) publish(queue string, n int) {
	f.t.Helper()
	before, err := f.ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := f.ch.PublishWithContext(f.ctx, "", queue, true, false, amqp.Publishing{Body: []byte("m")}); err != nil {
			f.t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		q, err := f.ch.QueueDeclarePassive(queue, true, false, false, false, nil)
		if err != nil {
			f.t.Fatal(err)
		}
		if q.Messages >= before.Messages+n {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%s holds %d messages, want %d", queue, q.Messages, before.Messages+n)
		}
	}
}

func (f *fixture) collector(cfg Config) *Collector {
	cfg.Providers = []string{"acme", "beta"}
	cfg.RetryDelays = delays
	if cfg.Store == nil {
		cfg.Store = f.st
	}
	if cfg.Conn == nil {
		cfg.Conn = func(context.Context) (*amqp.Connection, error) { return f.conn, nil }
	}
	cfg.Now = f.clock.Now
	return New(cfg)
}

// series renders the expected exposition of one gauge family: every label
// set in zero at 0, overridden by set.
func series(name, help string, zero []string, set map[string]float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
	all := map[string]float64{}
	for _, l := range zero {
		all[l] = 0
	}
	for l, v := range set {
		all[l] = v
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s{%s} %g\n", name, k, all[k])
	}
	return b.String()
}

func help(d *prometheus.Desc) string {
	s := d.String()
	i := strings.Index(s, `help: "`) + len(`help: "`)
	return s[i : i+strings.Index(s[i:], `"`)]
}

// The gauges read a real store and broker: counts per state, the age of the
// oldest settlement not parked, parked settlements, queue depths (retry
// summed over the delays) and consumers; every enabled provider and state
// starts at zero, final states have no age.
func TestCollector(t *testing.T) {
	f := newFixture(t)
	f.settlement("acme", "r1", t0, store.StateReceived, "")
	f.settlement("acme", "a1", t0, store.StateAcknowledged, "")
	f.settlement("acme", "a2", t0.Add(10*time.Minute), store.StateAcknowledged, "")
	f.settlement("acme", "c1", t0, store.StateConfirming, "provider down")
	f.settlement("beta", "s1", t0, store.StateSettled, "")
	f.settlement("gone", "p1", t0, store.StatePending, "") // a provider no longer enabled
	f.publish(broker.RequestQueue("acme"), 3)
	f.publish(broker.RetryQueue("acme", time.Hour), 1)
	f.publish(broker.RetryQueue("acme", 2*time.Hour), 1)
	f.publish(broker.ParkedQueue("acme"), 1)
	cch, err := f.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cch.Consume(broker.RequestQueue("beta"), "", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	f.clock.set(t0.Add(time.Hour))

	reg := prometheus.NewPedanticRegistry()
	c := f.collector(Config{})
	reg.MustRegister(c)

	var allStates, active []string
	for _, p := range []string{"acme", "beta"} {
		for _, s := range States {
			l := fmt.Sprintf(`provider=%q,state=%q`, p, s)
			allStates = append(allStates, l)
			if !s.Terminal() {
				active = append(active, l)
			}
		}
	}
	queues := []string{
		`provider="acme",queue="parked"`, `provider="acme",queue="request"`, `provider="acme",queue="retry"`,
		`provider="beta",queue="parked"`, `provider="beta",queue="request"`, `provider="beta",queue="retry"`,
	}
	want := series("settlement_settlements", help(descSettlements), allStates, map[string]float64{
		`provider="acme",state="received"`: 1, `provider="acme",state="acknowledged"`: 2,
		`provider="acme",state="confirming"`: 1, `provider="beta",state="settled"`: 1,
		`provider="gone",state="pending"`: 1,
	}) + series("settlement_oldest_seconds", help(descOldest), active, map[string]float64{
		`provider="acme",state="received"`: 3600, `provider="acme",state="acknowledged"`: 3600,
		// c1 is parked: not stuck unseen.
		`provider="acme",state="confirming"`: 0,
		`provider="gone",state="pending"`:    3600,
	}) + series("settlement_oldest_registered_seconds", help(descOldestRegistered), active, map[string]float64{
		`provider="acme",state="received"`: 3600, `provider="acme",state="acknowledged"`: 3600,
		`provider="acme",state="confirming"`: 0,
		`provider="gone",state="pending"`:    3600,
	}) + series("settlement_parked_settlements", help(descParked), []string{`provider="acme"`, `provider="beta"`}, map[string]float64{
		`provider="acme"`: 1, `provider="gone"`: 0,
	}) + series("settlement_queue_messages", help(descQueueMessages), queues, map[string]float64{
		`provider="acme",queue="request"`: 3, `provider="acme",queue="retry"`: 2, `provider="acme",queue="parked"`: 1,
	}) + series("settlement_queue_consumers", help(descQueueConsumers), []string{`provider="acme",queue="request"`}, map[string]float64{
		`provider="beta",queue="request"`: 1,
	}) + series("settlement_metrics_source_up", help(descSourceUp), nil, map[string]float64{
		`source="broker"`: 1, `source="store"`: 1,
	})
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}

	// Cached: a new message is not seen until CacheFor passed.
	f.publish(broker.RequestQueue("acme"), 1)
	if v := gauge(t, reg, "settlement_queue_messages", `provider="acme",queue="request"`); v != 3 {
		t.Fatalf("within the cache: %v, want the cached 3", v)
	}
	f.clock.set(t0.Add(time.Hour + 6*time.Second))
	if v := gauge(t, reg, "settlement_queue_messages", `provider="acme",queue="request"`); v != 4 {
		t.Fatalf("after the cache: %v, want 4", v)
	}
	if v := gauge(t, reg, "settlement_oldest_seconds", `provider="acme",state="received"`); v != 3606 {
		t.Fatalf("oldest received after 6s more: %v", v)
	}
}

// The final states (the whole history: a table scan) are counted again
// only every FinalEvery; the others, which alerts watch, at every reading.
func TestCollectorCountsFinalStatesLessOften(t *testing.T) {
	f := newFixture(t)
	f.settlement("acme", "s1", t0, store.StateSettled, "")
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(f.collector(Config{FinalEvery: time.Minute}))
	count := func(state string) float64 {
		return gauge(t, reg, "settlement_settlements", `provider="acme",state="`+state+`"`)
	}
	f.clock.set(t0.Add(time.Second))
	if n := count("settled"); n != 1 {
		t.Fatalf("settled %v, want 1", n)
	}
	f.settlement("acme", "s2", t0.Add(2*time.Second), store.StateSettled, "")
	f.settlement("acme", "a1", t0.Add(2*time.Second), store.StateAcknowledged, "")
	f.clock.set(t0.Add(10 * time.Second)) // past CacheFor, within FinalEvery
	if s, a := count("settled"), count("acknowledged"); s != 1 || a != 1 {
		t.Fatalf("within FinalEvery: settled %v (want the cached 1), acknowledged %v (want 1)", s, a)
	}
	f.clock.set(t0.Add(2 * time.Minute))
	if n := count("settled"); n != 2 {
		t.Fatalf("after FinalEvery: settled %v, want 2", n)
	}
}

// A source that cannot be read does not fail the scrape: its up gauge is 0
// and its gauges are left out; the other source is still reported. The
// webhook queues are reported when configured (0 when not declared).
func TestCollectorSourceDown(t *testing.T) {
	f := newFixture(t)
	closed, err := store.Open(f.ctx, "sqlite:"+filepath.Join(t.TempDir(), "closed.db"))
	if err != nil {
		t.Fatal(err)
	}
	_ = closed.Close()
	c := f.collector(Config{Store: closed, WebhookQueue: "q.webhook", WebhookParkedQueue: "q.webhook.parked"})
	f.publish(broker.RequestQueue("beta"), 2)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("scrape failed with the store down: %v", err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"settlement_settlements", "settlement_oldest_seconds", "settlement_oldest_registered_seconds", "settlement_parked_settlements"} {
		if names[n] {
			t.Errorf("%s reported while the store cannot be read", n)
		}
	}
	if v := gauge(t, reg, "settlement_metrics_source_up", `source="store"`); v != 0 {
		t.Errorf("store up = %v", v)
	}
	if v := gauge(t, reg, "settlement_metrics_source_up", `source="broker"`); v != 1 {
		t.Errorf("broker up = %v", v)
	}
	if v := gauge(t, reg, "settlement_queue_messages", `provider="beta",queue="request"`); v != 2 {
		t.Errorf("beta requests = %v with the store down", v)
	}
	if v := gauge(t, reg, "settlement_webhook_queue_messages", `queue="pending"`); v != 0 {
		t.Errorf("webhook pending = %v", v)
	}
	if sErr, bErr := c.Errors(); sErr == nil || bErr != nil {
		t.Errorf("Errors() = %v, %v", sErr, bErr)
	}

	down := f.collector(Config{Conn: func(context.Context) (*amqp.Connection, error) { return nil, errors.New("connection refused") }})
	reg = prometheus.NewPedanticRegistry()
	reg.MustRegister(down)
	if v := gauge(t, reg, "settlement_metrics_source_up", `source="broker"`); v != 0 {
		t.Errorf("broker up = %v with the broker down", v)
	}
	if n := testutil.CollectAndCount(down, "settlement_queue_messages"); n != 0 {
		t.Errorf("%d queue series with the broker down", n)
	}
	if n := testutil.CollectAndCount(down, "settlement_settlements"); n != 2*len(States) {
		t.Errorf("%d settlement series with the broker down, want %d", n, 2*len(States))
	}

	// A broker reading that hangs (Inspect takes no context) times out.
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	slow := f.collector(Config{Timeout: 200 * time.Millisecond, Conn: func(context.Context) (*amqp.Connection, error) {
		<-hang
		return nil, errors.New("late")
	}})
	start := time.Now()
	if _, bErr := slow.Errors(); bErr == nil || time.Since(start) > 5*time.Second {
		t.Errorf("hung broker: %v after %v", bErr, time.Since(start))
	}
}

// gauge scrapes reg and returns the value of name{labels}.
func gauge(t *testing.T, reg prometheus.Gatherer, name, labels string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, lp := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
			}
			if strings.Join(ls, ",") == labels {
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no %s{%s}", name, labels)
	return 0
}

// TestCollectorCountsParkedProviderStatuses: a provider status parked for
// a person (Radial's S for a settlement we refused) waits in the provider's
// status parked queue, which no gauge read: ParkedGrowing could not fire
// for it. It is counted in settlement_queue_messages{queue="parked"}.
func TestCollectorCountsParkedProviderStatuses(t *testing.T) {
	f := newFixture(t)
	topo := broker.Topology{Providers: []string{"acme", "beta"}, QueueType: broker.QueueClassic, RetryDelays: delays,
		ParkProviderStatuses: []string{"acme"}}
	if err := topo.Declare(f.conn); err != nil {
		t.Fatal(err)
	}
	f.publish(broker.ParkedQueue("acme"), 1)
	f.publish(broker.ProviderStatusParkedQueue("acme"), 2)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(f.collector(Config{}))
	if v := gauge(t, reg, "settlement_queue_messages", `provider="acme",queue="parked"`); v != 3 {
		t.Fatalf(`settlement_queue_messages{provider="acme",queue="parked"} = %v, want 3 (1 request, 2 provider statuses)`, v)
	}
	if v := gauge(t, reg, "settlement_queue_messages", `provider="beta",queue="parked"`); v != 0 {
		t.Fatalf(`beta parked = %v, want 0 (no status parked queue)`, v)
	}
}
