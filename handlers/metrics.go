package handlers

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// Metrics are the pipeline's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	outcomes *prometheus.CounterVec
	retries  *prometheus.CounterVec
	calls    *prometheus.HistogramVec
	panics   *prometheus.CounterVec
	swept    *prometheus.CounterVec
	// rounds and lastRound say whether the sweeper runs (SweepOutcomes).
	rounds    *prometheus.CounterVec
	lastRound prometheus.Gauge
	// heldStoreDown counts the deliveries held while the store does not
	// answer (StoreOutage).
	heldStoreDown *prometheus.GaugeVec
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "settlement_outcomes_total",
			Help: "Settlement requests by provider and outcome (settled, refused, withheld, acknowledged, parked, duplicate).",
		}, []string{"provider", "outcome"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "settlement_retries_total",
			Help: "Transient failures sent to the retry queues.",
		}, []string{"provider"}),
		calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "settlement_provider_call_seconds",
			Help:    "Provider call latency by operation and result.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}, []string{"provider", "op", "result"}),
	}
	m.panics = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "settlement_handler_panics_total",
		Help: "Handler panics recovered into a parked message, by provider and handler (settle, status).",
	}, []string{"provider", "handler"})
	m.swept = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "settlement_swept_total",
		Help: "Settlements the sweeper acted on past their state's deadline, by provider, state and action (parked, relayed, resumed; unreadable: skipped, its sealed body cannot be opened; unrelayed: a status event the broker refused to relay; unresumed: a stuck settlement whose request could not be republished).",
	}, []string{"provider", "state", "action"})
	m.rounds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "settlement_sweeper_rounds_total",
		Help: "Sweeper rounds on this replica by outcome (completed: every step ran to its end, rows the broker refused are counted in settlement_swept_total; failed: a step or the sweep lock failed; timed_out: SWEEP_TIMEOUT ended it; skipped: another replica held the sweep lock).",
	}, []string{"outcome"})
	for _, o := range SweepOutcomes {
		m.rounds.WithLabelValues(o)
	}
	m.lastRound = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "settlement_sweeper_last_completed_timestamp_seconds",
		Help: "Unix time the last completed sweeper round on this replica ended (0: none since the start); only the replica holding the sweep lock completes rounds, so read the max over replicas.",
	})
	m.heldStoreDown = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "settlement_deliveries_held_store_down",
		Help: "Deliveries held unacked on their consumer, by provider and handler (settle, status), because their run failed while the store did not answer; each runs again once it does, or is parked after STORE_OUTAGE_HOLD.",
	}, []string{"provider", "handler"})
	reg.MustRegister(m.outcomes, m.retries, m.calls, m.panics, m.swept, m.rounds, m.lastRound, m.heldStoreDown)
	return m
}

// SweepOutcomes are the outcome label's values of
// settlement_sweeper_rounds_total.
var SweepOutcomes = []string{"completed", "failed", "timed_out", "skipped"}

// Outcomes are the outcome label's values of settlement_outcomes_total.
var Outcomes = []string{"settled", "refused", "withheld", "acknowledged", "parked", "duplicate", "status_parked", "deferred"}

// Init creates every label combination of the enabled providers at zero, so
// that rate() and increase() see a counter's first increment after a restart
// and absent() alerts do not fire for a provider that was simply quiet.
func (m *Metrics) Init(providers []string) {
	if m == nil {
		return
	}
	for _, p := range providers {
		for _, o := range Outcomes {
			m.outcomes.WithLabelValues(p, o)
		}
		m.retries.WithLabelValues(p)
		for _, h := range []string{"settle", "status"} {
			m.panics.WithLabelValues(p, h)
			m.heldStoreDown.WithLabelValues(p, h)
		}
		for _, s := range inFlight {
			m.swept.WithLabelValues(p, string(s), "resumed")
			m.swept.WithLabelValues(p, string(s), "parked")
			m.swept.WithLabelValues(p, string(s), "unreadable")
			m.swept.WithLabelValues(p, string(s), "unresumed")
		}
		m.swept.WithLabelValues(p, string(store.StateAcknowledged), "parked")
		m.swept.WithLabelValues(p, string(store.StateAcknowledged), "unreadable")
		m.swept.WithLabelValues(p, "", "unreadable") // status events
		for _, s := range []store.State{store.StateSettled, store.StateRefused} {
			m.swept.WithLabelValues(p, string(s), "relayed")
			m.swept.WithLabelValues(p, string(s), "unrelayed")
		}
	}
}

// CallResults are the result label's values of
// settlement_provider_call_seconds.
var CallResults = []string{"ok", "error"}

// CallOps are the op label's values of settlement_provider_call_seconds
// for p: the calls the Settlement handler makes of it (Settlement.timed),
// confirm_funds and settle of every provider, prepare, poll and reconcile
// of one that offers them (providers.Preparer, Poller, Reconciler).
func CallOps(p providers.Provider) []string {
	ops := []string{"confirm_funds", "settle"}
	if _, ok := p.(providers.Preparer); ok {
		ops = append(ops, "prepare")
	}
	if _, ok := p.(providers.Poller); ok {
		ops = append(ops, "poll")
	}
	if _, ok := p.(providers.Reconciler); ok {
		ops = append(ops, "reconcile")
	}
	return ops
}

// InitCalls creates p's series of settlement_provider_call_seconds (each
// of its CallOps, ok and error) at zero, so that rate() and
// histogram_quantile() have a series from the start, not "no data" until
// its first call. A nil p creates none.
func (m *Metrics) InitCalls(p providers.Provider) {
	if m == nil || p == nil {
		return
	}
	for _, op := range CallOps(p) {
		for _, res := range CallResults {
			m.calls.WithLabelValues(p.Name(), op, res)
		}
	}
}

func (m *Metrics) outcome(provider, outcome string) {
	if m != nil {
		m.outcomes.WithLabelValues(provider, outcome).Inc()
	}
}

func (m *Metrics) retry(provider string) {
	if m != nil {
		m.retries.WithLabelValues(provider).Inc()
	}
}

func (m *Metrics) call(provider, op string, d time.Duration, err error) {
	if m != nil {
		res := CallResults[0]
		if err != nil {
			res = CallResults[1]
		}
		m.calls.WithLabelValues(provider, op, res).Observe(d.Seconds())
	}
}

func (m *Metrics) held(provider, handler string, d float64) {
	if m != nil {
		m.heldStoreDown.WithLabelValues(provider, handler).Add(d)
	}
}

func (m *Metrics) panicked(provider, handler string) {
	if m != nil {
		m.panics.WithLabelValues(provider, handler).Inc()
	}
}

// round counts one sweeper round by outcome; a completed one sets the
// last completed round's time to at.
func (m *Metrics) round(outcome string, at time.Time) {
	if m == nil {
		return
	}
	m.rounds.WithLabelValues(outcome).Inc()
	if outcome == "completed" {
		m.lastRound.Set(float64(at.Unix()))
	}
}

func (m *Metrics) sweptOne(provider, state, action string) {
	if m != nil {
		m.swept.WithLabelValues(provider, state, action).Inc()
	}
}
