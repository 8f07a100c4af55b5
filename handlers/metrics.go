package handlers

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the pipeline's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	outcomes *prometheus.CounterVec
	retries  *prometheus.CounterVec
	calls    *prometheus.HistogramVec
	panics   *prometheus.CounterVec
	swept    *prometheus.CounterVec
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
		Help: "Settlements the sweeper acted on past their state's deadline, by provider, state and action (parked, relayed).",
	}, []string{"provider", "state", "action"})
	reg.MustRegister(m.outcomes, m.retries, m.calls, m.panics, m.swept)
	return m
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
		res := "ok"
		if err != nil {
			res = "error"
		}
		m.calls.WithLabelValues(provider, op, res).Observe(d.Seconds())
	}
}

func (m *Metrics) panicked(provider, handler string) {
	if m != nil {
		m.panics.WithLabelValues(provider, handler).Inc()
	}
}

func (m *Metrics) sweptOne(provider, state, action string) {
	if m != nil {
		m.swept.WithLabelValues(provider, state, action).Inc()
	}
}
