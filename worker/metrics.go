package worker

import (
	"context"

	wmmetrics "github.com/ThreeDotsLabs/watermill/components/metrics"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/backlog"
	"github.com/settlement-worker/settlement-worker/config"
	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/intake"
	"github.com/settlement-worker/settlement-worker/webhook"
)

// Telemetry is what the worker records its metrics with. Every counter of
// the enabled providers (and endpoints) starts at zero.
type Telemetry struct {
	Handlers *handlers.Metrics
	// Webhook is nil when the webhook deliverer is off.
	Webhook *webhook.Metrics
	// Intake is nil when the HTTP intake is off.
	Intake *intake.Metrics
	// Backlog reads the store and the broker at scrape time.
	Backlog *backlog.Collector
	// Lag times every request the request handlers take (consumer lag).
	Lag    *backlog.Lag
	router wmmetrics.PrometheusMetricsBuilder
}

// RegisterMetrics registers the worker's metrics on reg: the pipeline's
// counters, the webhook's and the intake's when they are on, and the
// backlog gauges read from st and the broker behind conn (either may be nil
// in tests: the source is then reported down).
func RegisterMetrics(reg prometheus.Registerer, cfg config.Config, st backlog.Counter, conn func(context.Context) (*amqp.Connection, error)) *Telemetry {
	t := &Telemetry{
		Handlers: handlers.NewMetrics(reg),
		router:   wmmetrics.NewPrometheusMetricsBuilder(reg, "settlement", "router"),
	}
	t.Handlers.Init(cfg.Providers)
	t.Lag = backlog.NewLag(reg, cfg.Providers, nil)
	bcfg := backlog.Config{Providers: cfg.Providers, RetryDelays: cfg.RetryDelays, Conn: conn, Lag: t.Lag}
	if st != nil {
		bcfg.Store = st
	}
	if cfg.WebhookEnabled() {
		t.Webhook = webhook.NewMetrics(reg)
		w := cfg.Webhook
		w.ApplyDefaults()
		bcfg.WebhookQueue, bcfg.WebhookParkedQueue = w.Queue, w.ParkedQueue
	}
	if cfg.IntakeEnabled() {
		t.Intake = intake.NewMetrics(reg)
		icfg := cfg.Intake
		icfg.ApplyDefaults()
		t.Intake.Init(icfg.Endpoints()...)
	}
	t.Backlog = backlog.New(bcfg)
	reg.MustRegister(t.Backlog)
	return t
}

// Instrument adds Watermill's router metrics (settlement_router_*: handler
// execution time, messages received by the subscribers) to router.
func (t *Telemetry) Instrument(router *message.Router) {
	t.router.AddPrometheusRouterMetrics(router)
}
