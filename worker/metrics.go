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
	"github.com/settlement-worker/settlement-worker/store"
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

// RegisterStoreMetrics registers the store's own counters on reg, those st
// offers: SQLite's group commit (WriteStats) and PostgreSQL's order-lock
// sessions (LockStats). Both read st at scrape time.
func RegisterStoreMetrics(reg prometheus.Registerer, st any) {
	if ws, ok := st.(interface{ WriteStats() (int64, int64) }); ok {
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "settlement_store_write_batches_total",
				Help: "SQLite write transactions committed (one fsync each); each holds the writes queued meanwhile (group commit).",
			}, func() float64 { b, _ := ws.WriteStats(); return float64(b) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "settlement_store_writes_total",
				Help: "SQLite writes committed (Register, Transition, a batch of publish marks); divided by settlement_store_write_batches_total, the mean batch size.",
			}, func() float64 { _, w := ws.WriteStats(); return float64(w) }),
		)
	}
	if ls, ok := st.(interface{ LockStats() store.LockCounts }); ok {
		registerLockStats(reg, ls.LockStats)
	}
}

// registerLockStats registers the counters of PostgreSQL's order-lock
// sessions (store.LockStats; all 0 with SQLite).
func registerLockStats(reg prometheus.Registerer, stats func() store.LockCounts) {
	counter := func(name, help string, pick func(store.LockCounts) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 {
			return float64(pick(stats()))
		})
	}
	reg.MustRegister(
		counter("settlement_store_lock_sessions_opened_total",
			"PostgreSQL sessions opened to hold order locks (2 per replica, and one for each that ended).",
			func(c store.LockCounts) int64 { return c.Opened }),
		counter("settlement_store_lock_sessions_ended_total",
			"PostgreSQL order-lock sessions that ended while the worker ran (dropped, terminated, a failed or timed-out statement, a reset): each released every order lock on it, and its holders retried before any provider call.",
			func(c store.LockCounts) int64 { return c.Ended }),
		counter("settlement_store_lock_statements_total",
			"Statements the PostgreSQL order-lock sessions ran; each serves the locks, unlocks and checks queued meanwhile.",
			func(c store.LockCounts) int64 { return c.Statements }),
		counter("settlement_store_lock_requests_total",
			"Order-lock requests (lock tries, unlocks, checks) the PostgreSQL sessions served; divided by settlement_store_lock_statements_total, the mean batch.",
			func(c store.LockCounts) int64 { return c.Requests }),
	)
}
