// Package backlog exports, at scrape time, what is waiting in the settlement
// pipeline and since when: settlements per provider and state with the age
// of the oldest one, parked settlements, and the ready messages and
// consumers of each provider's request, retry and parked queues (and the
// webhook deliverer's queues). It reads the store (store.Counts) and the
// broker (a passive declare per queue, broker.Inspect) — the operator's
// `settlement-worker stats`, as Prometheus gauges. With a Lag (lag.go) fed
// by the request handlers it also estimates the consumer lag: the age of
// the oldest ready request per provider.
//
// Reads are cached for Config.CacheFor so that scrapes cannot hammer the
// store or the broker, and bounded by Config.Timeout. A source that cannot
// be read does not fail the scrape: settlement_metrics_source_up{source}
// says 0 and that source's gauges are left out (not reported as zero).
package backlog

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/store"
)

// States are the settlement states reported, every one starting at zero
// for each enabled provider.
var States = []store.State{
	store.StateReceived, store.StateConfirming, store.StateConfirmed, store.StateSubmitting,
	store.StateAcknowledged, store.StatePending,
	store.StateWithheld, store.StateSettled, store.StateRefused,
}

// activeStates and finalStates split States: the settlements still in
// flight (few, counted at every reading) and the history (FinalEvery).
var activeStates, finalStates = splitStates()

func splitStates() (active, final []store.State) {
	for _, s := range States {
		if s.Terminal() {
			final = append(final, s)
		} else {
			active = append(active, s)
		}
	}
	return active, final
}

// Queue roles, the queue label of settlement_queue_messages.
const (
	QueueRequest = "request"
	QueueRetry   = "retry"
	QueueParked  = "parked"
)

// Counter is the store's part the collector reads (store.Store has it).
type Counter interface {
	Counts(ctx context.Context, states ...store.State) ([]store.StateCount, error)
}

// Config says what the collector reads.
type Config struct {
	// Providers are the enabled providers: each gets every series at zero.
	Providers []string
	// RetryDelays name the retry queues (RetryQueue(provider, delay)).
	RetryDelays []time.Duration
	// Store is read for the settlement gauges.
	Store Counter
	// Conn returns a connection to the broker (the worker's publisher's).
	Conn func(ctx context.Context) (*amqp.Connection, error)
	// WebhookQueue and WebhookParkedQueue are the webhook deliverer's
	// queues; empty when the deliverer is off.
	WebhookQueue, WebhookParkedQueue string
	// CacheFor is how long a reading is served before the sources are read
	// again (default 5s).
	CacheFor time.Duration
	// FinalEvery is how often the settlements in final states (settled,
	// refused, withheld: the whole history, a table scan) are counted again
	// (default 5m); the others, few and indexed, at every reading.
	FinalEvery time.Duration
	// Timeout bounds each source's reading (default 5s).
	Timeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Lag, when set, is what the request handlers took: it gives
	// settlement_request_oldest_ready_seconds (HeadAge).
	Lag *Lag
}

var (
	descSettlements = prometheus.NewDesc("settlement_settlements",
		"Settlements in the store by provider and state (parked ones included).", []string{"provider", "state"}, nil)
	descOldest = prometheus.NewDesc("settlement_oldest_seconds",
		"Age in seconds of the last update of the oldest settlement that is not parked, by provider and non-final state; 0 when there is none.",
		[]string{"provider", "state"}, nil)
	descOldestRegistered = prometheus.NewDesc("settlement_oldest_registered_seconds",
		"Seconds since the oldest settlement not parked in a non-final state was registered (its own steps never reset it: a pending settlement's poll loop records it every STUCK_AFTER/2), by provider and state; 0 when none.",
		[]string{"provider", "state"}, nil)
	descParked = prometheus.NewDesc("settlement_parked_settlements",
		"Settlements parked (a person must act: settlement-worker parked ls), by provider.", []string{"provider"}, nil)
	descQueueMessages = prometheus.NewDesc("settlement_queue_messages",
		"Ready messages in a provider's queues (request, retry summed over the delays, parked: its parked requests and parked provider statuses); 0 for a queue not declared.",
		[]string{"provider", "queue"}, nil)
	descQueueConsumers = prometheus.NewDesc("settlement_queue_consumers",
		"Consumers of a provider's request queue (every worker replica's).", []string{"provider", "queue"}, nil)
	descWebhookQueue = prometheus.NewDesc("settlement_webhook_queue_messages",
		"Ready status messages waiting for the webhook deliverer (queue=pending) or parked by it (queue=parked).",
		[]string{"queue"}, nil)
	descHeadAge = prometheus.NewDesc("settlement_request_oldest_ready_seconds",
		"Estimated age in seconds of the oldest ready request in a provider's request queue (consumer lag): 0 when none is ready; see backlog.HeadAge. Each replica estimates on its own: use the min over replicas.",
		[]string{"provider"}, nil)
	descSourceUp = prometheus.NewDesc("settlement_metrics_source_up",
		"1 when the last reading of a source (store, broker) for these metrics succeeded, 0 when it failed.", []string{"source"}, nil)
)

// Collector is a prometheus.Collector reading the store and the broker.
type Collector struct {
	cfg Config

	mu   sync.Mutex // one reading at a time; guards last
	last *reading
	// final and finalAt are the last count of the final states and when it
	// was read (read holds mu while readStore runs).
	final   []store.StateCount
	finalAt time.Time
	// nonEmpty is, per provider, the first reading that found its request
	// queue with ready messages since the last one that found it empty.
	nonEmpty map[string]time.Time
	// brokerBusy holds a token while a broker reading runs: a reading that
	// outlived its timeout (Inspect takes no context) is not stacked on.
	brokerBusy chan struct{}
}

// New returns a collector; register it on the worker's registry.
func New(cfg Config) *Collector {
	if cfg.CacheFor <= 0 {
		cfg.CacheFor = 5 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.FinalEvery <= 0 {
		cfg.FinalEvery = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Collector{cfg: cfg, brokerBusy: make(chan struct{}, 1), nonEmpty: map[string]time.Time{}}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSettlements, descOldest, descOldestRegistered, descParked, descQueueMessages, descQueueConsumers, descWebhookQueue, descHeadAge, descSourceUp} {
		ch <- d
	}
}

type stateKey struct{ provider, state string }

type queueKey struct{ provider, queue string }

// reading is what one read of the sources found.
type reading struct {
	at time.Time

	storeErr    error
	settlements map[stateKey]float64
	oldest      map[stateKey]float64
	registered  map[stateKey]float64 // settlement_oldest_registered_seconds
	parked      map[string]float64

	brokerErr error
	messages  map[queueKey]float64
	consumers map[queueKey]float64
	webhook   map[string]float64
	headAge   map[string]float64 // when Config.Lag is set
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	r := c.read()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	up := func(err error) float64 {
		if err != nil {
			return 0
		}
		return 1
	}
	gauge(descSourceUp, up(r.storeErr), "store")
	gauge(descSourceUp, up(r.brokerErr), "broker")
	if r.storeErr == nil {
		for k, v := range r.settlements {
			gauge(descSettlements, v, k.provider, k.state)
		}
		for k, v := range r.oldest {
			gauge(descOldest, v, k.provider, k.state)
		}
		for k, v := range r.registered {
			gauge(descOldestRegistered, v, k.provider, k.state)
		}
		for p, v := range r.parked {
			gauge(descParked, v, p)
		}
	}
	if r.brokerErr == nil {
		for k, v := range r.messages {
			gauge(descQueueMessages, v, k.provider, k.queue)
		}
		for k, v := range r.consumers {
			gauge(descQueueConsumers, v, k.provider, k.queue)
		}
		for q, v := range r.webhook {
			gauge(descWebhookQueue, v, q)
		}
		for p, v := range r.headAge {
			gauge(descHeadAge, v, p)
		}
	}
}

// Errors returns the last reading's errors by source (nil when read), for
// logs and tests; it reads the sources if the reading is stale.
func (c *Collector) Errors() (storeErr, brokerErr error) {
	r := c.read()
	return r.storeErr, r.brokerErr
}

// read returns the cached reading, or reads the sources (concurrently,
// each within Timeout) when it is older than CacheFor.
func (c *Collector) read() *reading {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	if c.last != nil && now.Sub(c.last.at) < c.cfg.CacheFor {
		return c.last
	}
	r := &reading{at: now}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		r.storeErr = c.readStore(now, r)
	}()
	go func() {
		defer wg.Done()
		r.brokerErr = c.readBroker(r)
	}()
	wg.Wait()
	if r.brokerErr == nil && c.cfg.Lag != nil {
		c.headAges(now, r)
	}
	c.last = r
	return r
}

func (c *Collector) readStore(now time.Time, r *reading) error {
	if c.cfg.Store == nil {
		return errors.New("no store")
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	counts, err := c.cfg.Store.Counts(ctx, activeStates...)
	if err != nil {
		return err
	}
	if c.finalAt.IsZero() || now.Sub(c.finalAt) >= c.cfg.FinalEvery {
		f, err := c.cfg.Store.Counts(ctx, finalStates...)
		if err != nil {
			return err
		}
		c.final, c.finalAt = f, now
	}
	counts = append(counts, c.final...)
	r.settlements, r.oldest, r.registered, r.parked = map[stateKey]float64{}, map[stateKey]float64{}, map[stateKey]float64{}, map[string]float64{}
	for _, p := range c.cfg.Providers {
		r.parked[p] = 0
		for _, s := range States {
			r.settlements[stateKey{p, string(s)}] = 0
			if !s.Terminal() {
				r.oldest[stateKey{p, string(s)}] = 0
				r.registered[stateKey{p, string(s)}] = 0
			}
		}
	}
	for _, n := range counts {
		k := stateKey{n.Provider, string(n.State)}
		r.settlements[k] += float64(n.Count)
		r.parked[n.Provider] += float64(n.Parked)
		if n.State.Terminal() {
			continue
		}
		age := 0.0
		if !n.OldestUnparked.IsZero() {
			age = max(now.Sub(n.OldestUnparked).Seconds(), 0)
		}
		r.oldest[k] = max(r.oldest[k], age)
		registered := 0.0
		if !n.OldestUnparkedCreated.IsZero() {
			registered = max(now.Sub(n.OldestUnparkedCreated).Seconds(), 0)
		}
		r.registered[k] = max(r.registered[k], registered)
	}
	return nil
}

// headAges estimates each provider's settlement_request_oldest_ready_seconds
// from the reading's ready requests and what the handlers took (c.mu held).
func (c *Collector) headAges(now time.Time, r *reading) {
	r.headAge = map[string]float64{}
	for _, p := range c.cfg.Providers {
		ready := r.messages[queueKey{p, QueueRequest}]
		if ready <= 0 {
			delete(c.nonEmpty, p)
		} else if _, ok := c.nonEmpty[p]; !ok {
			c.nonEmpty[p] = now
		}
		r.headAge[p] = HeadAge(now, ready, c.nonEmpty[p], c.cfg.Lag.Last(p))
	}
}

// brokerRead is what readBroker's goroutine hands back.
type brokerRead struct {
	messages, consumers map[queueKey]float64
	webhook             map[string]float64
	err                 error
}

func (c *Collector) readBroker(r *reading) error {
	if c.cfg.Conn == nil {
		return errors.New("no broker")
	}
	select {
	case c.brokerBusy <- struct{}{}:
	default:
		return errors.New("the previous broker reading has not returned yet")
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	done := make(chan brokerRead, 1)
	go func() {
		b := c.inspect(ctx)
		// The token goes back before the reading is handed over: the next
		// reading, which may start as soon as this one returns, must not
		// find it still taken.
		<-c.brokerBusy
		done <- b
	}()
	select {
	case b := <-done:
		r.messages, r.consumers, r.webhook = b.messages, b.consumers, b.webhook
		return b.err
	case <-ctx.Done():
		return errors.New("broker reading timed out")
	}
}

// inspect passively declares every queue of every provider.
func (c *Collector) inspect(ctx context.Context) brokerRead {
	b := brokerRead{messages: map[queueKey]float64{}, consumers: map[queueKey]float64{}}
	conn, err := c.cfg.Conn(ctx)
	if err != nil {
		b.err = err
		return b
	}
	depth := func(queue string) (broker.QueueState, error) {
		if err := ctx.Err(); err != nil {
			return broker.QueueState{}, err
		}
		return broker.Inspect(conn, queue)
	}
	for _, p := range c.cfg.Providers {
		req, err := depth(broker.RequestQueue(p))
		if err != nil {
			b.err = err
			return b
		}
		b.messages[queueKey{p, QueueRequest}] = float64(req.Messages)
		b.consumers[queueKey{p, QueueRequest}] = float64(req.Consumers)
		b.messages[queueKey{p, QueueRetry}] = 0
		for _, d := range c.cfg.RetryDelays {
			q, err := depth(broker.RetryQueue(p, d))
			if err != nil {
				b.err = err
				return b
			}
			b.messages[queueKey{p, QueueRetry}] += float64(q.Messages)
		}
		parked, err := depth(broker.ParkedQueue(p))
		if err != nil {
			b.err = err
			return b
		}
		// Provider statuses parked for a person (Radial's) wait as long
		// as parked requests: counted with them, so ParkedGrowing sees them.
		statuses, err := depth(broker.ProviderStatusParkedQueue(p))
		if err != nil {
			b.err = err
			return b
		}
		b.messages[queueKey{p, QueueParked}] = float64(parked.Messages + statuses.Messages)
	}
	if c.cfg.WebhookQueue != "" {
		b.webhook = map[string]float64{}
		for role, name := range map[string]string{"pending": c.cfg.WebhookQueue, "parked": c.cfg.WebhookParkedQueue} {
			if name == "" {
				continue
			}
			q, err := depth(name)
			if err != nil {
				b.err = err
				return b
			}
			b.webhook[role] = float64(q.Messages)
		}
	}
	return b
}
