package webhook

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the deliverer's Prometheus metrics. A nil *Metrics records
// nothing. The depth of the deliverer's queues is exported by the worker
// (settlement_webhook_queue_messages).
type Metrics struct {
	statuses    *prometheus.CounterVec
	posts       *prometheus.CounterVec
	lastSuccess prometheus.Gauge
}

// NewMetrics registers the metrics on reg, every label value at zero.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		statuses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "settlement_webhook_statuses_total",
			Help: "Status messages the webhook deliverer finished with, by result (delivered, parked, duplicate).",
		}, []string{"result"}),
		posts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "settlement_webhook_posts_total",
			Help: "PaymentSettlementStatusList POSTs to the webhook, by result (accepted: 2xx; failed: anything else, retried).",
		}, []string{"result"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "settlement_webhook_last_accepted_timestamp_seconds",
			Help: "Unix time of the webhook's last 2xx answer (0: none since the worker started).",
		}),
	}
	for _, r := range []string{"delivered", "parked", "duplicate"} {
		m.statuses.WithLabelValues(r)
	}
	for _, r := range []string{"accepted", "failed"} {
		m.posts.WithLabelValues(r)
	}
	reg.MustRegister(m.statuses, m.posts, m.lastSuccess)
	return m
}

func (m *Metrics) finished(result string, n int) {
	if m != nil && n > 0 {
		m.statuses.WithLabelValues(result).Add(float64(n))
	}
}

func (m *Metrics) posted(err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.posts.WithLabelValues("failed").Inc()
		return
	}
	m.posts.WithLabelValues("accepted").Inc()
	m.lastSuccess.Set(float64(time.Now().UnixNano()) / 1e9)
}
