// Package worker wires the settlement worker together: store, broker
// topology, Watermill router with one handler per provider queue plus the
// providers' asynchronous status queues, health and metrics endpoints, and
// graceful shutdown.
package worker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/cenkalti/backoff/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/config"
	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/intake"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
	"github.com/settlement-worker/settlement-worker/webhook"
)

// Deps are what Run needs besides the configuration: the provider clients
// (built by the composition root) and an optional crash hook for tests.
type Deps struct {
	// Providers by name; each enabled provider must be present.
	Providers map[string]providers.Provider
	// Crash is called at each crash point (tests only; nil in production).
	Crash func(point string)
}

// Run runs the worker until ctx is cancelled, then shuts down gracefully:
// it stops taking messages, lets in-flight settlements finish (their final
// writes and publishes are not cancelled) within cfg.ShutdownTimeout, and
// returns nil.
func Run(ctx context.Context, cfg config.Config, deps Deps, log zerolog.Logger) error {
	st, err := store.Open(ctx, cfg.StoreDSN)
	if err != nil {
		return err
	}
	defer st.Close()

	pub, err := broker.NewPublisher(ctx, cfg.AMQPURL, cfg.Concurrency*len(cfg.Providers)+cfg.Radial.StatusConcurrency+cfg.Intake.PublishConcurrency+2, log)
	if err != nil {
		return err
	}
	defer pub.Close()
	// The broker may accept connections before it can declare queues (a
	// node starting, a quorum not formed yet): retry like the connection.
	b := backoff.NewExponentialBackOff()
	b.MaxInterval = 10 * time.Second
	if _, err := backoff.Retry(ctx, func() (struct{}, error) {
		err := declare(ctx, cfg, pub, log)
		if err != nil {
			log.Warn().Err(err).Msg("cannot declare the topology yet; retrying")
		}
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0)); err != nil {
		return err
	}
	log.Info().Str("broker", broker.Redact(cfg.AMQPURL)).Strs("providers", cfg.Providers).Msg("topology declared")

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := handlers.NewMetrics(reg)
	if ws, ok := st.(interface{ WriteStats() (int64, int64) }); ok {
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "settlement_store_write_batches_total",
				Help: "SQLite write transactions committed (one fsync each); each holds the writes queued meanwhile (group commit).",
			}, func() float64 { b, _ := ws.WriteStats(); return float64(b) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "settlement_store_writes_total",
				Help: "SQLite writes committed (Register, Transition, MarkPublished); divided by settlement_store_write_batches_total, the mean batch size.",
			}, func() float64 { _, w := ws.WriteStats(); return float64(w) }),
		)
	}

	wlog := newWMLogger(log)
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: cfg.ShutdownTimeout}, wlog)
	if err != nil {
		return fmt.Errorf("create router: %w", err)
	}
	// A handler returns an error only when the store or the broker is
	// unavailable; retry in place with backoff before the message is nacked
	// and requeued (each run is idempotent). A message that keeps failing is
	// parked by the request queue's delivery limit.
	router.AddMiddleware(middleware.Retry{
		MaxRetries: 3, InitialInterval: 500 * time.Millisecond, Multiplier: 2, MaxInterval: 5 * time.Second,
		Logger: wlog,
	}.Middleware)
	retry := handlers.RetryPolicy{Delays: cfg.RetryDelays, MaxAttempts: cfg.MaxAttempts}
	for _, name := range cfg.Providers {
		p, ok := deps.Providers[name]
		if !ok {
			return fmt.Errorf("provider %s is enabled but has no client", name)
		}
		sub, err := broker.NewSubscriber(ctx, broker.SubscriberConfig{URL: cfg.AMQPURL, Prefetch: cfg.Prefetch}, wlog)
		if err != nil {
			return err
		}
		h := &handlers.Settlement{
			Provider: p, Store: st, Pub: pub, Retry: retry,
			Log:             log.With().Str("handler", "settle").Logger(),
			PendingDeadline: cfg.PendingDeadline,
			Metrics:         metrics, Crash: deps.Crash,
		}
		router.AddConsumerHandler("settle-"+name, broker.RequestQueue(name),
			broker.NewConcurrentSubscriber(sub, cfg.Concurrency, cfg.ShutdownTimeout, log), h.HandleSafely)
	}
	if cfg.Enabled("radial") {
		q := cfg.Radial.StatusQueue
		err := broker.WaitForQueue(ctx, cfg.Radial.AMQPURL, q, func(err error) {
			log.Warn().Err(err).Str("queue", q).Msg("waiting for Radial's status queue")
		})
		if err != nil {
			return fmt.Errorf("radial status queue %s: %w", q, err)
		}
		sub, err := broker.NewSubscriber(ctx, broker.SubscriberConfig{URL: cfg.Radial.AMQPURL, Prefetch: cfg.Prefetch, Passive: true}, wlog)
		if err != nil {
			return err
		}
		h := &handlers.ProviderStatus{
			Provider: "radial", Queue: q, Store: st, Pub: pub,
			Log:     log.With().Str("handler", "radial-status").Logger(),
			Metrics: metrics, Crash: deps.Crash,
		}
		router.AddConsumerHandler("status-radial", q,
			broker.NewConcurrentSubscriber(sub, cfg.Radial.StatusConcurrency, cfg.ShutdownTimeout, log), h.HandleSafely)
	}

	srv := httpServer(cfg, st, router, reg)
	if srv != nil {
		go func() {
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error().Err(err).Str("addr", cfg.HTTPAddr).Msg("http server failed")
			}
		}()
	}

	// The HTTP intake and the webhook deliverer stop with ctx; the
	// publisher is closed (deferred) only after they returned.
	var aux sync.WaitGroup
	defer aux.Wait()
	auxCtx, cancelAux := context.WithCancel(ctx)
	defer cancelAux() // runs before aux.Wait: nothing outlives Run

	if cfg.IntakeEnabled() {
		ready := func(ctx context.Context) error {
			if _, err := pub.Conn(ctx); err != nil {
				return err
			}
			if !router.IsRunning() {
				return errors.New("router not running")
			}
			return nil
		}
		in, err := intake.New(cfg.Intake, pub, ready, log.With().Str("component", "intake").Logger())
		if err != nil {
			return fmt.Errorf("intake: %w", err)
		}
		aux.Add(1)
		go func() {
			defer aux.Done()
			if err := in.Run(auxCtx); err != nil {
				log.Error().Err(err).Msg("http intake stopped")
			}
		}()
		log.Info().Str("addr", cfg.Intake.Addr).Msg("http intake listening")
	}
	if cfg.WebhookEnabled() {
		d, err := webhook.New(cfg.Webhook, log.With().Str("component", "webhook").Logger())
		if err != nil {
			return fmt.Errorf("webhook: %w", err)
		}
		aux.Add(1)
		go func() {
			defer aux.Done()
			defer d.Close()
			if err := d.Run(auxCtx); err != nil {
				log.Error().Err(err).Msg("webhook deliverer stopped")
			}
		}()
	}

	if cfg.SweepInterval > 0 {
		enabled := map[string]providers.Provider{}
		for _, name := range cfg.Providers {
			enabled[name] = deps.Providers[name]
		}
		sw := &handlers.Sweeper{
			Store: st, Pub: pub, Providers: enabled, Interval: cfg.SweepInterval,
			StuckAfter: cfg.StuckAfter, OutboxAfter: cfg.OutboxRelayAfter,
			Log: log.With().Str("component", "sweeper").Logger(), Metrics: metrics,
		}
		aux.Add(1)
		go func() {
			defer aux.Done()
			_ = sw.Run(auxCtx)
		}()
	}

	log.Info().Int("concurrency", cfg.Concurrency).Msg("settlement worker running")
	runErr := router.Run(ctx)
	log.Info().Msg("router stopped")
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}
	if runErr != nil && ctx.Err() == nil {
		return fmt.Errorf("router: %w", runErr)
	}
	return nil
}

// declare declares the topology once at start.
func declare(ctx context.Context, cfg config.Config, pub *broker.Publisher, log zerolog.Logger) error {
	conn, err := pub.Conn(ctx)
	if err != nil {
		return err
	}
	t := broker.Topology{
		Providers:     cfg.Providers,
		QueueType:     cfg.QueueType,
		RetryDelays:   cfg.RetryDelays,
		DeliveryLimit: cfg.DeliveryLimit,
		StatusQueues:  cfg.StatusQueueBindings(),
		Warn:          func(msg string) { log.Warn().Msg(msg) },
	}
	if cfg.Enabled("radial") {
		t.ParkProviderStatuses = []string{"radial"}
	}
	if err := t.Declare(conn); err != nil {
		return fmt.Errorf("declare topology: %w", err)
	}
	return nil
}

func httpServer(cfg config.Config, st store.Store, router *message.Router, reg *prometheus.Registry) *http.Server {
	if cfg.HTTPAddr == "" || cfg.HTTPAddr == "off" {
		return nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := st.Ping(ctx); err != nil {
			http.Error(w, "store: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if !router.IsRunning() {
			http.Error(w, "router not running", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// Profiles for incidents; HTTP_ADDR is loopback by default.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return &http.Server{Addr: cfg.HTTPAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
}
