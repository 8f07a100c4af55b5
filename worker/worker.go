// Package worker wires the settlement worker together: store, broker
// topology, Watermill router with one handler per provider queue plus the
// providers' asynchronous status queues, health and metrics endpoints, and
// graceful shutdown.
package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/cenkalti/backoff/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
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
//
// /healthz, /readyz and /metrics are served from the start (an HTTP_ADDR
// that cannot be bound is an error); /readyz is 503 until every dependency
// is up and whenever one is down. A broker that refuses the connection
// (credentials, vhost) stops the worker with an error naming the setting;
// one that is not reachable yet is waited for, and so is a PostgreSQL
// server not reachable yet (store.Unreachable; one that refuses, or an
// SQLite file that cannot be opened, stops it). A provider's status queue is
// waited for in the background: the other providers settle meanwhile.
func Run(ctx context.Context, cfg config.Config, deps Deps, log zerolog.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ready := NewReadiness()
	ready.Waiting("store", "opening")
	ready.Waiting("broker", "connecting")
	ready.Waiting("router", "starting")

	// A failure that must stop the worker (a refused broker, a server that
	// died) cancels runCtx with its cause.
	runCtx, stopRun := context.WithCancelCause(ctx)
	defer stopRun(nil)
	fatal := func(err error) { stopRun(err) }

	ops, err := listen(cfg.HTTPAddr, opsMux(ready, reg), opsWriteTimeout)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR %s cannot be served: %w", cfg.HTTPAddr, err)
	}
	defer ops.shutdown()
	ops.serve(func(err error) { fatal(fmt.Errorf("HTTP_ADDR %s: server stopped: %w", cfg.HTTPAddr, err)) })
	prof, err := listen(cfg.PprofAddr, pprofMux(), 0)
	if err != nil {
		return fmt.Errorf("PPROF_ADDR %s cannot be served: %w", cfg.PprofAddr, err)
	}
	defer prof.shutdown()
	prof.serve(func(err error) { log.Error().Err(err).Str("addr", cfg.PprofAddr).Msg("pprof server stopped") })

	broker.RefusedGrace = cfg.AMQPRefusedGrace
	tlsConfig, err := cfg.AMQPTLS().Load()
	if err != nil {
		return fmt.Errorf("AMQP_TLS_*: %w", err)
	}
	broker.UseTLS(tlsConfig)
	keys, err := cfg.StoreKeys()
	if err != nil {
		return fmt.Errorf("STORE_ENCRYPTION_KEY: %w", err)
	}
	if keys == nil {
		log.Warn().Msg("STORE_ENCRYPTION_KEY is not set: request and status bodies, and the request headers that steer money " +
			"(store_id, tender_type, original_authorization_amount, each provider's own) as sent, are stored in clear " +
			"(raw card numbers in them too); set it in production")
	}
	// PostgreSQL: each settlement and status in flight holds a session for
	// its order lock, and runs its statements on a small pool beside them
	// (STORE_POOL_SIZE): open them all before consuming (a session opened
	// under load also prepares and plans every statement it runs while the
	// others wait).
	sources := statusSources(cfg, deps)
	// A provider with a status queue hands its requests, decoded, from its
	// settlement handler to its status handler (handlers.Requests).
	requests := make(map[string]*handlers.Requests, len(sources))
	for name := range sources {
		requests[name] = handlers.NewRequests(requestsKept)
	}
	inFlight := cfg.Concurrency * len(cfg.Providers)
	for _, s := range sources {
		inFlight += s.Concurrency
	}
	// A PostgreSQL server not reachable yet (a failover, a restart) is
	// waited for, as the broker is; one that refuses stops the worker.
	rawStore, err := waitForStore(runCtx, cfg, ready, log, "", "cannot reach the store yet; retrying", func() (store.Store, error) {
		return store.Open(runCtx, cfg.StoreDSN, store.WithWarmPool(inFlight), store.WithPoolSize(cfg.StorePoolSize))
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer rawStore.Close()
	// Replicas sharing a database must seal with the same key: one with
	// another key (or none) would seal rows the others cannot open. The
	// check reads and writes the store: a server gone away meanwhile (a
	// failover, a restart, writes refused for a moment) is waited for as
	// Open waits for it, every STORE_OUTAGE_BACKOFF at most, logged and
	// said by /readyz; a mismatch, or any other failure, stops the worker.
	if _, err := waitForStore(runCtx, cfg, ready, log, "key check: ", "cannot run the store key check yet (STORE_ENCRYPTION_KEY); retrying", func() (struct{}, error) {
		return struct{}{}, store.CheckKeys(runCtx, rawStore, keys)
	}); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		if runCtx.Err() != nil {
			return err // its cause
		}
		return fmt.Errorf("STORE_ENCRYPTION_KEY: %w", err)
	}
	if keys == nil && store.Shared(cfg.StoreDSN) {
		// A keyed replica started beside this one records its check
		// (CheckKeys recorded nothing here, so that a key may be set
		// later): this one, which cannot open what that one seals,
		// stops then, so that one configuration runs on the store.
		// Only a store replicas share (PostgreSQL) is watched: an
		// SQLite file is this process's alone (store.Open locks it),
		// so no replica can start beside this one there.
		wctx, stopWatch := context.WithCancel(runCtx)
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			watchKeyCheck(wctx, rawStore, fatal, log)
		}()
		defer func() { stopWatch(); <-watched }() // before the store closes: nothing outlives Run
	}
	st := store.Encrypted(rawStore, keys)
	ready.Set("store", st.Ping)
	// Publish marks are written in batches, off the handlers' path; closed
	// (its queued marks written) after the router and the sweeper stopped,
	// before the store (defers run in reverse).
	marks := store.NewMarker(st, store.MarkerOptions{OnError: func(err error, n int) {
		log.Warn().Err(err).Int("events", n).Msg("publish marks not written; those events will be relayed again (same message_id)")
	}})
	defer marks.Close()

	publishers := cfg.Concurrency*len(cfg.Providers) + cfg.Intake.PublishConcurrency + 2
	for _, s := range sources {
		publishers += s.Concurrency
	}
	pub, err := broker.NewPublisher(runCtx, cfg.AMQPURL, publishers, log)
	if err != nil {
		return brokerError("AMQP_URL", err)
	}
	defer pub.Close()
	// Reconnects if the connection was lost; down while the broker blocks
	// publishing (a resource alarm).
	ready.Set("broker", pub.Ready)
	// The broker may accept connections before it can declare queues (a
	// node starting, a quorum not formed yet): retry like the connection.
	b := backoff.NewExponentialBackOff()
	b.MaxInterval = 10 * time.Second
	if _, err := backoff.Retry(runCtx, func() (struct{}, error) {
		err := declare(runCtx, cfg, sources, pub, log)
		if err != nil {
			if broker.IsRefused(err) {
				return struct{}{}, backoff.Permanent(err)
			}
			log.Warn().Err(err).Msg("cannot declare the topology yet; retrying")
		}
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0)); err != nil {
		return brokerError("AMQP_URL", err)
	}
	log.Info().Str("broker", broker.Redact(cfg.AMQPURL)).Strs("providers", cfg.Providers).Msg("topology declared")
	tel := RegisterMetrics(reg, cfg, st, pub.Conn)
	metrics := tel.Handlers
	for _, name := range cfg.Providers {
		metrics.InitCalls(deps.Providers[name])
	}
	RegisterStoreMetrics(reg, rawStore)

	wlog := newWMLogger(log)
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: cfg.ShutdownTimeout}, wlog)
	if err != nil {
		return fmt.Errorf("create router: %w", err)
	}
	tel.Instrument(router)
	ready.Set("router", func(context.Context) error {
		if !router.IsRunning() {
			return errors.New("not running")
		}
		return nil
	})
	// A handler returns an error only when the store or the broker is
	// unavailable; retry in place with backoff before the message is nacked
	// and requeued (each run is idempotent). A run that failed while the
	// store does not answer is held inside the handler instead
	// (handlers.StoreOutage), so only a message that keeps failing while
	// the store answers is parked by the request queue's delivery limit.
	router.AddMiddleware(middleware.Retry{
		MaxRetries: 3, InitialInterval: 500 * time.Millisecond, Multiplier: 2, MaxInterval: 5 * time.Second,
		Logger: wlog,
	}.Middleware)
	retry := handlers.RetryPolicy{Delays: cfg.RetryDelays, MaxAttempts: cfg.MaxAttempts}
	// A delivery whose run failed while the store does not answer is held
	// unacked (a quorum queue does not count it) and run again once the
	// store answers, up to STORE_OUTAGE_HOLD, then parked with a reason.
	outage := &handlers.StoreOutage{Ping: st.Ping, Hold: cfg.StoreOutageHold, MaxBackoff: cfg.StoreOutageBackoff,
		Stopping: runCtx.Done(), Metrics: metrics}
	for _, name := range cfg.Providers {
		p, ok := deps.Providers[name]
		if !ok {
			return fmt.Errorf("provider %s is enabled but has no client", name)
		}
		sub, err := broker.NewSubscriber(runCtx, broker.SubscriberConfig{URL: cfg.AMQPURL, Prefetch: cfg.Prefetch}, wlog)
		if err != nil {
			return brokerError("AMQP_URL", err)
		}
		ready.Set("consumer "+name, connected(sub.IsConnected))
		h := &handlers.Settlement{
			Provider: p, Store: st, Outage: outage, Marks: marks, Pub: pub, Retry: retry, Requests: requests[name],
			ReplayKeys:      keys,
			Log:             log.With().Str("handler", "settle").Logger(),
			PendingDeadline: cfg.PendingDeadline,
			StuckAfter:      cfg.StuckAfter,
			Metrics:         metrics, Crash: deps.Crash,
			MaxRequestBytes: cfg.MaxRequestBytes,
			LockWait:        cfg.OrderLockWait,
		}
		router.AddConsumerHandler("settle-"+name, broker.RequestQueue(name),
			broker.NewConcurrentSubscriber(sub, cfg.Concurrency, cfg.ShutdownTimeout, log), h.HandleSafely).
			AddMiddleware(tel.Lag.Middleware(name))
	}

	// The HTTP intake, the webhook deliverer, the sweeper and the status
	// consumers' start-up stop with runCtx; the publisher is closed
	// (deferred) only after they returned.
	var aux sync.WaitGroup
	defer aux.Wait()
	auxCtx, cancelAux := context.WithCancel(runCtx)
	defer cancelAux() // runs before aux.Wait: nothing outlives Run

	for _, name := range cfg.Providers {
		src, ok := sources[name]
		if !ok {
			continue
		}
		dep := name + " status queue"
		ready.Waiting(dep, "waiting for "+src.Queue)
		aux.Add(1)
		go func() {
			defer aux.Done()
			if err := consumeStatuses(auxCtx, cfg, name, src, router, st, outage, marks, pub, requests[name], metrics, deps, ready, log); err != nil && auxCtx.Err() == nil {
				fatal(err)
			}
		}()
	}

	if cfg.IntakeEnabled() {
		readyFn := func(ctx context.Context) error {
			if err := pub.Ready(ctx); err != nil {
				return err
			}
			if !router.IsRunning() {
				return errors.New("router not running")
			}
			return nil
		}
		icfg := cfg.Intake
		icfg.MaxRequestBytes = cfg.MaxRequestBytes
		in, err := intake.New(icfg, pub, readyFn, log.With().Str("component", "intake").Logger())
		if err != nil {
			return fmt.Errorf("intake: %w", err)
		}
		in.Metrics = tel.Intake
		// Listening before anything runs: an intake that cannot listen
		// stops the worker, as HTTP_ADDR does, instead of leaving its
		// clients refused while the worker reports ready.
		ln, err := in.Listen()
		if err != nil {
			return fmt.Errorf("INTAKE_ADDR %s cannot be served: %w", cfg.Intake.Addr, err)
		}
		aux.Add(1)
		go func() {
			defer aux.Done()
			switch err := in.RunOn(auxCtx, ln); {
			case err == nil:
			case auxCtx.Err() == nil: // it stopped serving on its own
				fatal(fmt.Errorf("INTAKE_ADDR %s: http intake stopped: %w", cfg.Intake.Addr, err))
			default:
				log.Error().Err(err).Msg("http intake stopped")
			}
		}()
		log.Info().Str("addr", cfg.Intake.Addr).Msg("http intake listening")
	}
	if cfg.WebhookEnabled() {
		if !broker.SameBroker(cfg.Webhook.AMQPURL, cfg.AMQPURL) {
			// Allowed only with WEBHOOK_EVENTS_RELAYED (config): say so at
			// every start, since nothing here can see the shovel.
			log.Warn().Str("amqp_url", broker.Redact(cfg.AMQPURL)).Str("webhook_amqp_url", broker.Redact(cfg.Webhook.AMQPURL)).
				Msg("the webhook deliverer consumes another broker or vhost than the one status events are published on (WEBHOOK_EVENTS_RELAYED): it receives only what a shovel or federation moves there")
		}
		d, err := webhook.New(cfg.Webhook, log.With().Str("component", "webhook").Logger())
		if err != nil {
			return fmt.Errorf("webhook: %w", err)
		}
		d.Metrics = tel.Webhook
		ready.Set("webhook", connected(d.Ready))
		ready.Set("webhook target", func(context.Context) error { return d.TargetErr() })
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
			Store: st, Marks: marks, Pub: pub, Providers: enabled, Interval: cfg.SweepInterval, RoundTimeout: cfg.SweepTimeout,
			StuckAfter: cfg.StuckAfter, OutboxAfter: cfg.OutboxRelayAfter, Retention: cfg.BodyRetention,
			Log: log.With().Str("component", "sweeper").Logger(), Metrics: metrics,
		}
		aux.Add(1)
		go func() {
			defer aux.Done()
			_ = sw.Run(auxCtx)
		}()
	}

	log.Info().Int("concurrency", cfg.Concurrency).Msg("settlement worker running")
	runErr := router.Run(runCtx)
	log.Info().Msg("router stopped")
	if cause := context.Cause(runCtx); cause != nil && ctx.Err() == nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	if runErr != nil && ctx.Err() == nil {
		return fmt.Errorf("router: %w", runErr)
	}
	return nil
}

// requestsKept bounds each provider's handlers.Requests, which covers the
// settlements of one process awaiting their status under load; past it, a
// status looks its settlement up and decodes its request from the store as
// before. Full, it holds 1 to 2 MiB of decoded requests (measured: ~1 KB
// for a minimal Radial request, ~2 KB for one with both optional
// contexts) and ~0.5 MiB of the rows statuses are applied from, kept
// when the call is recorded and replaced when it is acknowledged (~500
// bytes each, one per entry: no body, headers or refs; handlers'
// TestInProcessRowsStayWithinAMiB bounds them to 1 MiB).
const requestsKept = 1024

// consumeStatuses waits for a provider's status queue (it belongs to the
// provider; the worker never declares it), then adds its handler to the
// running router. Only a refused connection is an error.
func consumeStatuses(ctx context.Context, cfg config.Config, name string, src providers.StatusSource, router *message.Router,
	st store.Store, outage *handlers.StoreOutage, marks *store.Marker, pub *broker.Publisher, requests *handlers.Requests, metrics *handlers.Metrics, deps Deps,
	ready *Readiness, log zerolog.Logger,
) error {
	dep := name + " status queue"
	err := broker.WaitForQueue(ctx, src.AMQPURL, src.Queue, func(err error) {
		ready.Waiting(dep, "waiting for "+src.Queue+": "+err.Error())
		log.Warn().Err(err).Str("provider", name).Str("queue", src.Queue).Msg("waiting for the provider's status queue")
	})
	if err != nil {
		return brokerError(src.URLSetting, fmt.Errorf("%s status queue %s: %w", name, src.Queue, err))
	}
	if err := notOurOwn(ctx, cfg, name, src, func(err error) {
		ready.Waiting(dep, "checking that "+src.Queue+" is not our own: "+err.Error())
		log.Warn().Err(err).Str("provider", name).Str("queue", src.Queue).Msg("cannot check that the provider's status queue is not our own yet")
	}); err != nil {
		return err
	}
	// Statuses of one order are applied in queue order (an S before its
	// chargeback R), those of different orders concurrently.
	h := statusHandler(cfg, name, src, log)
	h.Store, h.Outage, h.Marks, h.Pub, h.Requests, h.Metrics, h.Crash = st, outage, marks, pub, requests, metrics, deps.Crash
	sub := &broker.KeyedSubscriber{URL: src.AMQPURL, Passive: true, N: src.Concurrency, Key: h.OrderKey,
		DrainTimeout: cfg.ShutdownTimeout, Log: log.With().Str("queue", src.Queue).Logger()}
	router.AddConsumerHandler("status-"+name, src.Queue, sub, h.HandleSafely)
	select {
	case <-router.Running():
	case <-ctx.Done():
		return nil
	}
	if err := router.RunHandlers(ctx); err != nil {
		return fmt.Errorf("%s status queue %s: %w", name, src.Queue, err)
	}
	ready.Set(dep, connected(sub.Connected))
	log.Info().Str("provider", name).Str("queue", src.Queue).Msg("consuming the provider's status queue")
	return nil
}

// statusHandler is the handler of name's status source src, as cfg and
// src configure it; the caller adds what it runs on (store, publisher,
// metrics).
func statusHandler(cfg config.Config, name string, src providers.StatusSource, log zerolog.Logger) *handlers.ProviderStatus {
	return &handlers.ProviderStatus{
		Provider: name, Queue: src.Queue,
		Log:      log.With().Str("handler", name+"-status").Logger(),
		MaxBytes: cfg.MaxRequestBytes, Redact: src.Redact,
		RetryRuns: src.RetryRuns, RetryFor: src.RetryFor,
	}
}

// notOurOwn refuses a status source whose queue bears the name of one of
// our own queues (a status queue, the webhook's, a request queue) when it is
// on our broker and vhost under another address (a host alias: the
// configuration, which compares URLs, took it for another broker): the
// worker would consume its own events as the provider's. The brokers are
// asked (broker.SameVhost), retrying until they answer.
func notOurOwn(ctx context.Context, cfg config.Config, name string, src providers.StatusSource, onRetry func(error)) error {
	if !slices.Contains(cfg.Host().OwnQueues, src.Queue) {
		return nil
	}
	b := backoff.NewExponentialBackOff()
	b.MaxInterval = 5 * time.Second
	same, err := backoff.Retry(ctx, func() (bool, error) {
		same, err := broker.SameVhost(cfg.AMQPURL, src.AMQPURL)
		if err != nil {
			onRetry(err)
		}
		return same, err
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0))
	if err != nil {
		return brokerError(src.URLSetting, fmt.Errorf("%s status queue %s: %w", name, src.Queue, err))
	}
	if same {
		return fmt.Errorf("%s: the %s status queue %s is our own queue: %s reaches AMQP_URL's broker and vhost under another address, "+
			"and the worker would consume its own events as %s's; name the queue %s publishes to", src.URLSetting, name, src.Queue, src.URLSetting, name, name)
	}
	return nil
}

// brokerError names the setting of a broker that refused the connection.
func brokerError(setting string, err error) error {
	if broker.IsRefused(err) {
		return fmt.Errorf("%s: %w", setting, err)
	}
	return err
}

// connected adapts an "is it connected" function to a readiness check.
func connected(up func() bool) func(context.Context) error {
	return func(context.Context) error {
		if !up() {
			return errors.New("disconnected (reconnecting)")
		}
		return nil
	}
}

// statusSources are the status queues of the enabled providers that have
// one (their clients are providers.StatusSourcer), by provider name.
func statusSources(cfg config.Config, deps Deps) map[string]providers.StatusSource {
	out := map[string]providers.StatusSource{}
	for _, name := range cfg.Providers {
		if s, ok := deps.Providers[name].(providers.StatusSourcer); ok {
			out[name] = s.StatusSource()
		}
	}
	return out
}

// declare declares the topology once at start.
func declare(ctx context.Context, cfg config.Config, sources map[string]providers.StatusSource, pub *broker.Publisher, log zerolog.Logger) error {
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
	for _, name := range cfg.Providers {
		if _, ok := sources[name]; ok {
			t.ParkProviderStatuses = append(t.ParkProviderStatuses, name)
		}
	}
	if err := t.Declare(conn); err != nil {
		return fmt.Errorf("declare topology: %w", err)
	}
	return nil
}

// keyCheckEvery is how often a replica without STORE_ENCRYPTION_KEY looks
// for a key check another replica recorded (one row read), and
// keyCheckRecorded how (tests count the reads).
var (
	keyCheckEvery    = 2 * time.Second
	keyCheckRecorded = store.KeyCheckRecorded
)

// watchKeyCheck stops a replica without a key (fatal, ErrKeyMismatch:
// exit 2) once a replica with one has recorded the store's key check.
// A read that fails (the store away for a moment) is tried again at the
// next tick.
func watchKeyCheck(ctx context.Context, st store.Store, fatal func(error), log zerolog.Logger) {
	t := time.NewTicker(keyCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		recorded, err := keyCheckRecorded(ctx, st)
		switch {
		case err != nil:
			log.Debug().Err(err).Msg("cannot read the store key check; trying again")
		case recorded:
			fatal(fmt.Errorf("STORE_ENCRYPTION_KEY: %w: a replica with a key has started on this store and recorded its key check since this one started without STORE_ENCRYPTION_KEY: "+
				"this replica could not read the bodies it seals, and stops; set the key the other replicas use", store.ErrKeyMismatch))
			return
		}
	}
}

// waitForStore runs f until it succeeds, waiting (backoff up to
// STORE_OUTAGE_BACKOFF, for as long as it takes) while its failure says
// the store is not reachable yet (store.Unreachable: a failover, a
// restart, writes refused for a moment), logged as waiting and said by
// /readyz ("store: down: " + what + "not reachable yet: …"). Any other
// failure (a key mismatch, whatever carries it) is returned at once;
// once runCtx ends, its cause.
func waitForStore[T any](runCtx context.Context, cfg config.Config, ready *Readiness, log zerolog.Logger, what, waiting string, f func() (T, error)) (T, error) {
	b := backoff.NewExponentialBackOff()
	b.MaxInterval = cfg.StoreOutageBackoff
	v, err := backoff.Retry(runCtx, func() (T, error) {
		v, err := f()
		switch {
		case err == nil:
			return v, nil
		case !errors.Is(err, store.ErrKeyMismatch) && store.Unreachable(err) && runCtx.Err() == nil:
			ready.Waiting("store", what+"not reachable yet: "+err.Error())
			log.Warn().Err(err).Msg(waiting)
			return v, err
		}
		return v, backoff.Permanent(err)
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0))
	if err != nil {
		if cause := context.Cause(runCtx); runCtx.Err() != nil && cause != nil {
			return v, cause
		}
	}
	return v, err
}
