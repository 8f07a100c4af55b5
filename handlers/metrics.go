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
	reg.MustRegister(m.outcomes, m.retries, m.calls)
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
