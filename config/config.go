// Package config reads the worker's configuration from the environment,
// applies defaults, and validates it with errors that say what to fix.
package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/intake"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
	"github.com/settlement-worker/settlement-worker/webhook"
)

// MinOutboxRelayAfter is the least OUTBOX_RELAY_AFTER: a confirmed
// event's publish mark waits up to the Marker's linger (50ms) plus one
// batch write before it is in the store, and a relay must not take such an
// event for a lost one. (The relay of the same process flushes the marks
// first; this margin is for the other replicas'.)
const MinOutboxRelayAfter = time.Second

// MinSweepTimeout is the least SWEEP_TIMEOUT: a round takes the sweep
// lock (waiting up to 200ms for it) and then reads and publishes batches.
const MinSweepTimeout = time.Second

// Config is the worker's configuration. Each field's `help` tag documents it
// for `settlement-worker --help` and the README.
type Config struct {
	// AMQPURL is the broker the worker consumes requests from and publishes
	// status events to.
	AMQPURL string `env:"AMQP_URL" envDefault:"amqp://guest:guest@127.0.0.1:5672/" help:"Broker for requests and status events (amqp:// or amqps://)."`
	// AMQPTLSCAFile, AMQPTLSCertFile and AMQPTLSKeyFile configure TLS for
	// every amqps:// connection (ours, the webhook's, a provider's).
	AMQPTLSCAFile   string `env:"AMQP_TLS_CA_FILE" help:"PEM CA bundle that signed the broker certificates of amqps:// URLs (default: the system's roots)."`
	AMQPTLSCertFile string `env:"AMQP_TLS_CERT_FILE" help:"PEM client certificate for brokers that verify clients (with AMQP_TLS_KEY_FILE)."`
	AMQPTLSKeyFile  string `env:"AMQP_TLS_KEY_FILE" help:"PEM key of AMQP_TLS_CERT_FILE."`
	// AMQPRefusedGrace is how long a broker that refuses the connection is
	// retried before the worker stops.
	AMQPRefusedGrace time.Duration `env:"AMQP_REFUSED_GRACE" envDefault:"1m" help:"How long a broker that refuses the connection (403 user or password, 530 unknown vhost) is retried before the worker stops naming the setting (users and vhosts made by an init job after start are waited for)."`
	// Providers are the providers whose request queues are consumed.
	Providers []string `env:"PROVIDERS" envDefault:"radial" help:"Comma-separated providers to settle with: {providers} (one section below each)."`
	// QueueType is the type of the request, retry and parked queues.
	QueueType string `env:"QUEUE_TYPE" envDefault:"quorum" help:"quorum (replicated; at-least-once dead-lettering) or classic."`
	// StatusQueues are the status queues declared and bound at start, as
	// name=bindingkey; empty means q.Payments.Settlements.Status.<user of AMQP_URL>=settlement.status.#.
	StatusQueues []string `env:"STATUS_QUEUES" help:"Status queues to declare, name=binding key, comma-separated (default q.Payments.Settlements.Status.<AMQP user>=settlement.status.#)."`
	// Concurrency is how many requests per provider are settled at once.
	// A settlement holds its consumer for its provider calls and store
	// commits, so the rate one provider's queue can reach is about
	// Concurrency / that time (Little's law).
	Concurrency int `env:"CONCURRENCY" envDefault:"16" help:"Requests settled at once per provider (consumers per queue). A settlement holds its consumer for its provider calls and store commits: size it as the rate wanted × that time (e.g. 64 for 500/s with 20 ms calls; docs/benchmark.md)."`
	// Prefetch is the AMQP prefetch of each consumer.
	Prefetch int `env:"PREFETCH" envDefault:"1" help:"AMQP prefetch per consumer (1 to 65535)."`
	// RetryDelays are the waits before attempts 2, 3, ... (one retry queue each).
	RetryDelays []time.Duration `env:"RETRY_DELAYS" envDefault:"1s,5s,30s,2m,10m" help:"Waits before attempt 2, 3, ... of a transient failure; the last repeats."`
	// MaxAttempts bounds the attempts before a request is parked.
	MaxAttempts int `env:"MAX_ATTEMPTS" envDefault:"6" help:"Attempts before a transiently failing request is parked; for a pending settlement, failed polls in a row (an answered poll starts the count over)."`
	// DeliveryLimit parks a message redelivered this many times without an
	// ack (a poison message crashing the worker). 0 disables it.
	DeliveryLimit int `env:"DELIVERY_LIMIT" envDefault:"20" help:"Quorum-queue delivery limit before a message that keeps crashing the worker is parked (0: the worker sets none; a limit the broker applies itself, such as RabbitMQ 4.0-4.2's default of 20, still parks, never drops)."`
	// OrderLockWait bounds a delivery's wait for its order's lock.
	OrderLockWait time.Duration `env:"ORDER_LOCK_WAIT" envDefault:"250ms" help:"How long a request waits for its order's lock (another delivery of the same order holds it) before it is deferred through the shortest retry queue, uncounted, freeing its consumer; 0 waits without bound."`
	// MaxRequestBytes parks a request message with a larger body before it
	// is parsed or sent to a provider; the HTTP intake refuses such a
	// request at the door. A provider status (Radial's) above it is parked
	// unread too.
	MaxRequestBytes int64 `env:"MAX_REQUEST_BYTES" envDefault:"1048576" help:"Largest settlement request body in bytes; a larger one is parked (intake: refused) before any provider call. A provider status (Radial's status queue) above it is parked unread."`
	// StoreDSN selects the durable store.
	StoreDSN string `env:"STORE_DSN" envDefault:"sqlite:settlement-worker.db" help:"sqlite:PATH (embedded, one process) or postgres://... (replicas sharing state). SQLite options: _pragma=name(value), one pragma each; journal_mode, synchronous, foreign_keys and busy_timeout are the worker's and checked at open; a cache_size given here applies to the writer and the four readers (by default the writer keeps SQLite's 2 MiB, each reader 128 KiB)."`
	// StorePoolSize bounds the PostgreSQL sessions a worker runs its store
	// statements on; the sessions holding order locks are apart.
	StorePoolSize int `env:"STORE_POOL_SIZE" envDefault:"8" help:"PostgreSQL: the most sessions this worker runs its store statements on at once; the rest wait in the worker. Order locks are held on 2 sessions apart from these. A few busy sessions per server core do more than many (64 burned twice the server CPU per statement of 8 on 2 cores; docs/benchmark.md). SQLite ignores it."`
	// StoreOutageHold bounds how long a delivery is held while the store
	// does not answer; StoreOutageBackoff bounds the wait between two
	// checks of the store meanwhile.
	StoreOutageHold    time.Duration `env:"STORE_OUTAGE_HOLD" envDefault:"10m" help:"How long a request (or provider status) whose handling failed while the store does not answer (a PostgreSQL restart or failover) is held unacked on its consumer, not counted towards DELIVERY_LIMIT, and run again once the store answers; past it, it is parked with a reason. 0 holds none (it goes back to the queue, counted). At most 25m: RabbitMQ's consumer_timeout (30 min by default) closes the channel of a delivery unacked longer."`
	StoreOutageBackoff time.Duration `env:"STORE_OUTAGE_BACKOFF" envDefault:"5s" help:"Longest wait between two checks of a store that does not answer, while deliveries are held (STORE_OUTAGE_HOLD); the first waits 250ms."`
	// StoreEncryptionKey seals request and status event bodies (which may
	// hold raw card numbers) in the store; StoreEncryptionOldKeys still
	// open what earlier keys sealed.
	StoreEncryptionKey     string   `env:"STORE_ENCRYPTION_KEY" help:"Base64 256-bit key (openssl rand -base64 32) sealing request and status bodies, and a recorded request header holding a card number, at rest with AES-GCM (they may hold raw card numbers; never logged); without it they are stored in clear. Use STORE_ENCRYPTION_KEY_FILE. Replicas share it: one whose keys do not open the check value the first replica with a key recorded in the store, or that has none then, does not start; one running without a key stops once a replica with one has started."`
	StoreEncryptionOldKeys []string `env:"STORE_ENCRYPTION_OLD_KEYS" help:"Earlier STORE_ENCRYPTION_KEYs, comma-separated: still open what they sealed (never logged), bodies and recorded request header values holding a card number. Keep a key while rows sealed with it remain: the sweeper skips rows no key opens. BODY_RETENTION empties bodies, never headers: a key that sealed a header value is needed as long as that settlement's record is kept (without it the settlement, a later status for it and show fail as unreadable)."`
	// ShutdownTimeout bounds the graceful shutdown on SIGTERM.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"30s" help:"How long in-flight settlements may take to finish on SIGTERM."`
	// HTTPAddr serves /healthz, /readyz and /metrics; "off" disables it.
	HTTPAddr string `env:"HTTP_ADDR" envDefault:"127.0.0.1:9090" help:"Address for /healthz, /readyz and /metrics, served from start (off: disabled; an address that cannot be bound stops the worker)."`
	// PprofAddr serves Go's profiles (/debug/pprof/); off by default, and
	// meant for loopback: profiles reveal the process's internals.
	PprofAddr string `env:"PPROF_ADDR" envDefault:"off" help:"Address for /debug/pprof/ profiles (off: disabled; keep it on loopback)."`
	// LogLevel is the zerolog level.
	LogLevel string `env:"LOG_LEVEL" envDefault:"info" help:"debug, info, warn or error."`
	// PendingDeadline parks a settlement still pending at its provider
	// (Paysafe before batching) this long after it first was.
	PendingDeadline time.Duration `env:"PENDING_DEADLINE" envDefault:"72h" help:"Park a settlement still pending at the provider after this long (Paysafe batches daily); checked on every poll, answered or failed."`
	// SweepInterval is the time between the sweeper's rounds (outbox relay,
	// overdue verdicts, stuck settlements); 0 disables the sweeper.
	SweepInterval time.Duration `env:"SWEEP_INTERVAL" envDefault:"30s" help:"Time between sweeper rounds: relay unpublished status events, park overdue verdicts, resume stuck settlements (0: off; PostgreSQL only, where another replica sweeps: refused with SQLite)."`
	// SweepTimeout is the longest one sweeper round may take: a store
	// statement or publish still running then is cancelled, the round ends
	// with an error and the sweep lock is released for the next round
	// (here or on another replica); 0 is 10 × SweepInterval (at least
	// MinSweepTimeout).
	SweepTimeout time.Duration `env:"SWEEP_TIMEOUT" envDefault:"0s" help:"Longest a sweeper round may take: a store statement or publish still running then is cancelled and the sweep lock released for the next round (0: 10 × SWEEP_INTERVAL, at least 1s)."`
	// StuckAfter is how long a settlement may stay in flight without a
	// transition before the sweeper republishes its request to resume it.
	StuckAfter time.Duration `env:"STUCK_AFTER" envDefault:"1h" help:"Resume a settlement that made no progress for this long in received/confirming/submitting/pending (longer than the longest RETRY_DELAYS plus settle window)."`
	// BodyRetention is how long the bodies of a finished settlement are
	// kept (they may hold a raw card number); 0 keeps them.
	BodyRetention time.Duration `env:"BODY_RETENTION" envDefault:"2160h" help:"Empty the request and status bodies (which may hold raw card numbers) of settlements finished this long ago; their record (ids, amounts, states, history) stays; a later duplicate is parked, not republished (0: keep them)."`
	// OutboxRelayAfter is how old a recorded but unpublished status event
	// must be before the sweeper publishes it (at least
	// MinOutboxRelayAfter).
	OutboxRelayAfter time.Duration `env:"OUTBOX_RELAY_AFTER" envDefault:"1m" help:"Publish a status event recorded but not confirmed as published after this long (at least 1s)."`
	// AllowUnknown names variables set in the environment that are within
	// a typo of one the worker reads but are not meant for it (a
	// platform's own): misspelt leaves exactly these alone.
	AllowUnknown []string `env:"CONFIG_ALLOW_UNKNOWN" help:"Names, comma-separated, of variables set in the environment for something else that the worker would take for a misspelling of one of its own (a set variable within a typo of one it reads, STORE_DNS for STORE_DSN, stops it): exactly these are left alone; a name the worker reads is refused."`
	// Sections are the registered providers' configuration sections by
	// name, each read from the variables under its EnvPrefix (all of them
	// are read; only the enabled ones are validated and built).
	Sections map[string]providers.Section `env:"-"`
	// Intake configures the HTTP intake (RetailOPS webhook, Radial-format
	// endpoint); INTAKE_ADDR=off (the default) disables it.
	Intake intake.Config `envPrefix:"INTAKE_"`
	// IntakeChannels is the RetailOPS channel map (see intake.ParseChannels).
	IntakeChannels string `env:"INTAKE_RETAILOPS_CHANNELS" help:"RetailOPS channels: ID=provider:store:tender:currency,... e.g. 21=radial:ABCXYZ:PY:USD."`
	// Webhook configures delivery of status events as
	// PaymentSettlementStatusList batches; empty WEBHOOK_URL disables it.
	Webhook webhook.Config `envPrefix:"WEBHOOK_"`
	// CrashAt makes the worker kill itself with SIGKILL at a crash point
	// (after_confirm, after_settle_call, after_terminal_commit, after_status_publish). Tests only.
	CrashAt string `env:"SETTLEMENT_WORKER_CRASH_AT" help:"Test only: SIGKILL the worker at this crash point (after_confirm, after_settle_call, after_terminal_commit, after_status_publish)."`

	// registry is the providers Load was given, in order.
	registry providers.Registry
}

// Load reads the environment (the worker's variables and each registered
// provider's section), applies defaults and validates.
//
// Every variable V may instead be given as V_FILE, the path of a file
// holding its value (the Docker and Kubernetes secrets convention; one
// trailing newline is dropped).
func Load(reg providers.Registry) (Config, error) {
	c := Config{registry: reg, Sections: map[string]providers.Section{}}
	environ, err := environment(Vars(reg))
	if err != nil {
		return c, fmt.Errorf("read configuration: %w", err)
	}
	errs := []error{}
	if err := env.ParseWithOptions(&c, env.Options{Environment: environ}); err != nil {
		errs = append(errs, err)
	}
	trimMaps(reflect.ValueOf(&c))
	for _, r := range reg {
		sec := r.NewSection()
		if err := env.ParseWithOptions(sec, env.Options{Prefix: r.EnvPrefix, Environment: environ}); err != nil {
			errs = append(errs, err)
		}
		trimMaps(reflect.ValueOf(sec))
		c.Sections[r.Name] = sec
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("read configuration: %w", nameVariables(err, reg, environ))
	}
	c.applyDefaults()
	return c, c.validate(append(misspelt(environ, Vars(reg), c.AllowUnknown), repeatedKeys(environ, Vars(reg))...))
}

// StoreKeys is the keyring sealing bodies at rest (nil without a key).
func (c Config) StoreKeys() (*store.Keyring, error) {
	return store.ParseKeyring(c.StoreEncryptionKey, c.StoreEncryptionOldKeys)
}

// AMQPTLS names the TLS files of amqps:// connections.
func (c Config) AMQPTLS() broker.TLSFiles {
	return broker.TLSFiles{CAFile: c.AMQPTLSCAFile, CertFile: c.AMQPTLSCertFile, KeyFile: c.AMQPTLSKeyFile}
}

// Registry returns the providers the configuration was loaded with.
func (c Config) Registry() providers.Registry { return c.registry }

// Host is what the providers' sections may know of the worker: its broker
// and the queues it owns there.
func (c Config) Host() providers.Host {
	h := providers.Host{AMQPURL: c.AMQPURL}
	for _, sq := range c.StatusQueueBindings() {
		h.OwnQueues = append(h.OwnQueues, sq.Name)
	}
	for q := range c.requestQueues() {
		h.OwnQueues = append(h.OwnQueues, q)
	}
	// The webhook deliverer's queue is bound to our status exchange even
	// when it is not enabled here (another replica may run it).
	h.OwnQueues = append(h.OwnQueues, webhook.DefaultQueue)
	if c.Webhook.Queue != "" && c.Webhook.Queue != webhook.DefaultQueue {
		h.OwnQueues = append(h.OwnQueues, c.Webhook.Queue)
	}
	return h
}

// Facts returns the enabled providers' facts by name.
func (c Config) Facts() map[string]providers.Facts {
	out := map[string]providers.Facts{}
	for _, name := range c.Providers {
		if sec, ok := c.Sections[name]; ok {
			out[name] = sec.Facts()
		}
	}
	return out
}

func (c *Config) applyDefaults() {
	// PROVIDERS is forgiving: " Radial, PAYSAFE " is radial,paysafe, and an
	// empty entry or a repeat is dropped.
	var names []string
	for _, p := range c.Providers {
		p = strings.ToLower(strings.TrimSpace(p))
		if p != "" && !slices.Contains(names, p) {
			names = append(names, p)
		}
	}
	c.Providers = names
	if c.SweepTimeout == 0 {
		c.SweepTimeout = max(10*c.SweepInterval, MinSweepTimeout)
	}
	if c.Intake.Addr == "" {
		c.Intake.Addr = "off"
	}
	c.Intake.ApplyDefaults()
	if ch, err := intake.ParseChannels(c.IntakeChannels); err == nil {
		c.Intake.RetailOPS.Channels = ch
	}
	if c.Webhook.AMQPURL == "" {
		c.Webhook.AMQPURL = c.AMQPURL
	}
	if c.Webhook.QueueType == "" {
		c.Webhook.QueueType = c.QueueType
	}
	c.Webhook.ApplyDefaults()
	if len(c.StatusQueues) == 0 {
		c.StatusQueues = []string{broker.StatusQueueName(broker.Username(c.AMQPURL)) + "=settlement.status.#"}
	}
	h := c.Host()
	for _, sec := range c.Sections {
		sec.Resolve(h)
	}
}

// IntakeEnabled reports whether the HTTP intake runs.
func (c Config) IntakeEnabled() bool { return c.Intake.Addr != "off" && c.Intake.Addr != "" }

// WebhookEnabled reports whether status events are delivered to a webhook.
func (c Config) WebhookEnabled() bool { return c.Webhook.URL != "" }

// Enabled reports whether provider p is enabled.
func (c Config) Enabled(p string) bool { return slices.Contains(c.Providers, p) }

// StatusQueueBindings parses StatusQueues.
func (c Config) StatusQueueBindings() []broker.StatusQueue {
	var out []broker.StatusQueue
	for _, s := range c.StatusQueues {
		name, key, ok := strings.Cut(s, "=")
		if !ok {
			key = "settlement.status.#"
		}
		out = append(out, broker.StatusQueue{Name: strings.TrimSpace(name), BindingKey: strings.TrimSpace(key)})
	}
	return out
}

// Validate reports every problem at once.
func (c Config) Validate() error { return c.validate(nil) }

// validate reports the problems found before it (Load's misspelt
// variables) and every problem of c.
func (c Config) validate(found []error) error {
	errs := slices.Clone(found)
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}
	if err := broker.CheckURL(c.AMQPURL); err != nil {
		bad("AMQP_URL", "%v", err)
	}
	known := strings.Join(c.registry.Names(), ", ")
	if len(c.Providers) == 0 {
		bad("PROVIDERS", "name at least one provider (%s)", known)
	}
	for _, p := range c.Providers {
		if _, ok := c.registry.Lookup(p); !ok {
			bad("PROVIDERS", "unknown provider %q (known: %s)", p, known)
		}
	}
	if c.QueueType != broker.QueueQuorum && c.QueueType != broker.QueueClassic {
		bad("QUEUE_TYPE", "must be quorum or classic (got %q)", c.QueueType)
	}
	for _, sq := range c.StatusQueueBindings() {
		if sq.Name == "" || sq.BindingKey == "" {
			bad("STATUS_QUEUES", "entries are name=binding.key (got %q)", sq.Name+"="+sq.BindingKey)
		} else if !broker.StatusBindingReaches(sq.BindingKey) {
			bad("STATUS_QUEUES", "binding key %q of %s matches no status event: %s", sq.BindingKey, sq.Name, broker.StatusRouting)
		}
	}
	if c.Concurrency < 1 || c.Concurrency > 1024 {
		bad("CONCURRENCY", "must be between 1 and 1024 (got %d)", c.Concurrency)
	}
	if c.Prefetch < 1 || c.Prefetch > broker.MaxPrefetch {
		bad("PREFETCH", "must be between 1 and %d, the most AMQP carries (got %d)", broker.MaxPrefetch, c.Prefetch)
	}
	if len(c.RetryDelays) == 0 {
		bad("RETRY_DELAYS", "give at least one delay, e.g. 1s,5s,30s")
	}
	for _, d := range c.RetryDelays {
		if d < 10*time.Millisecond {
			bad("RETRY_DELAYS", "delays must be at least 10ms (got %s)", d)
		}
	}
	if c.MaxAttempts < 1 {
		bad("MAX_ATTEMPTS", "must be at least 1 (got %d)", c.MaxAttempts)
	}
	if c.DeliveryLimit < 0 {
		bad("DELIVERY_LIMIT", "must be 0 (off) or positive (got %d)", c.DeliveryLimit)
	}
	if c.OrderLockWait < 0 {
		bad("ORDER_LOCK_WAIT", "must be 0 (wait without bound) or positive (got %s)", c.OrderLockWait)
	}
	if c.MaxRequestBytes <= 0 {
		bad("MAX_REQUEST_BYTES", "must be positive (got %d)", c.MaxRequestBytes)
	}
	if strings.TrimSpace(c.StoreDSN) == "" {
		bad("STORE_DSN", "is required: sqlite:/path/to/file.db or postgres://user:pass@host/db")
	} else if err := store.CheckDSN(c.StoreDSN); err != nil {
		bad("STORE_DSN", "%s", strings.TrimLeft(strings.TrimPrefix(err.Error(), "STORE_DSN"), ": "))
	}
	if c.StoreOutageHold < 0 || c.StoreOutageHold > 25*time.Minute {
		bad("STORE_OUTAGE_HOLD", "must be between 0 (hold none) and 25m, below RabbitMQ's consumer_timeout (got %s)", c.StoreOutageHold)
	}
	if c.StoreOutageBackoff <= 0 {
		bad("STORE_OUTAGE_BACKOFF", "must be positive (got %s)", c.StoreOutageBackoff)
	}
	if c.StorePoolSize < 1 || c.StorePoolSize > 1024 {
		bad("STORE_POOL_SIZE", "must be between 1 and 1024 (got %d)", c.StorePoolSize)
	}
	for _, a := range []struct{ name, addr string }{{"HTTP_ADDR", c.HTTPAddr}, {"PPROF_ADDR", c.PprofAddr}} {
		if a.addr == "off" || (a.name == "HTTP_ADDR" && a.addr == "") {
			continue
		}
		if _, port, err := net.SplitHostPort(a.addr); err != nil || port == "" {
			bad(a.name, "must be host:port (e.g. 127.0.0.1:9090) or off (got %q)", a.addr)
		}
	}
	if c.PprofAddr != "off" && c.PprofAddr == c.HTTPAddr {
		bad("PPROF_ADDR", "must differ from HTTP_ADDR: profiles are served on their own address")
	}
	if _, err := c.AMQPTLS().Load(); err != nil {
		bad("AMQP_TLS_CA_FILE", "or AMQP_TLS_CERT_FILE / AMQP_TLS_KEY_FILE: %v", err)
	}
	if c.StoreEncryptionKey != "" && strings.TrimSpace(c.StoreEncryptionKey) == "" {
		// ParseKeyring takes a blank key for none: bodies in clear.
		bad("STORE_ENCRYPTION_KEY", "is set but white space only; give the key (openssl rand -base64 32) or unset it")
	} else if _, err := c.StoreKeys(); err != nil {
		bad("STORE_ENCRYPTION_KEY", "%v", err)
	}
	if c.BodyRetention < 0 {
		bad("BODY_RETENTION", "must be 0 (keep) or positive (got %s)", c.BodyRetention)
	}
	if c.AMQPRefusedGrace < 0 {
		bad("AMQP_REFUSED_GRACE", "must be 0 or positive (got %s)", c.AMQPRefusedGrace)
	}
	if c.ShutdownTimeout <= 0 {
		bad("SHUTDOWN_TIMEOUT", "must be positive (got %s)", c.ShutdownTimeout)
	}
	if _, ok := map[string]bool{"debug": true, "info": true, "warn": true, "error": true}[c.LogLevel]; !ok {
		bad("LOG_LEVEL", "must be debug, info, warn or error (got %q)", c.LogLevel)
	}
	if c.CrashAt != "" && !slices.Contains([]string{"after_confirm", "after_settle_call", "after_terminal_commit", "after_status_publish"}, c.CrashAt) {
		bad("SETTLEMENT_WORKER_CRASH_AT", "unknown crash point %q", c.CrashAt)
	}
	if c.PendingDeadline <= 0 {
		bad("PENDING_DEADLINE", "must be positive (got %s)", c.PendingDeadline)
	}
	c.validateSweeper(bad)
	c.validateQueues(bad)
	h := c.Host()
	for _, name := range c.Providers {
		r, ok := c.registry.Lookup(name)
		sec := c.Sections[name]
		if !ok || sec == nil {
			continue
		}
		for _, err := range sec.Check(h) {
			errs = append(errs, sectionProblem(err, sec, r))
		}
	}
	if c.IntakeEnabled() {
		if _, err := intake.ParseChannels(c.IntakeChannels); err != nil {
			bad("INTAKE_RETAILOPS_CHANNELS", "%v", err)
		}
		// The intake publishes for a provider another replica may run, but
		// one no binary knows has no request queue: every request would be
		// unroutable.
		if !c.known(c.Intake.Radial.Provider) {
			bad("INTAKE_RADIAL_PROVIDER", "unknown provider %q (known: %s)", c.Intake.Radial.Provider, known)
		}
		for _, id := range slices.Sorted(maps.Keys(c.Intake.RetailOPS.Channels)) {
			if p := c.Intake.RetailOPS.Channels[id].Provider; !c.known(p) {
				bad("INTAKE_RETAILOPS_CHANNELS", "channel %s: unknown provider %q (known: %s)", id, p, known)
			}
		}
		if err := c.Intake.Validate(); err != nil {
			bad("INTAKE_ADDR", "the HTTP intake is enabled (%s), but:\n  %s", c.Intake.Addr, withEnvNames(err.Error(), reflect.TypeOf(c.Intake), "INTAKE_"))
		}
	}
	if c.WebhookEnabled() {
		if err := c.Webhook.Validate(); err != nil {
			bad("WEBHOOK_URL", "status delivery to a webhook is enabled, but:\n  %s", withEnvNames(err.Error(), reflect.TypeOf(c.Webhook), "WEBHOOK_"))
		}
	}
	if len(errs) > 0 {
		lines := make([]string, len(errs))
		for i, e := range errs {
			lines[i] = "  " + e.Error()
		}
		return errors.New("invalid configuration:\n" + strings.Join(lines, "\n"))
	}
	return nil
}

// environment is the process environment with every documented variable V
// that is unset but has V_FILE set read from that file. Setting both is an
// error, as is a file that cannot be read or holds nothing but white
// space; no error shows a value.
func environment(vars []Var) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[k] = v
		}
	}
	var errs []error
	for _, v := range vars {
		path, ok := out[v.Name+"_FILE"]
		if !ok || path == "" {
			continue
		}
		if val, set := out[v.Name]; set && val != "" {
			errs = append(errs, fmt.Errorf("%s: set either %s or %s_FILE, not both", v.Name, v.Name, v.Name))
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s_FILE: cannot read %s: %w", v.Name, path, errors.Unwrap(err)))
			continue
		}
		val := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if strings.TrimSpace(val) == "" {
			// Taken for unset, V would get its default without a word (an
			// empty STORE_DSN_FILE: a local SQLite file; an empty
			// STORE_ENCRYPTION_KEY_FILE: bodies in clear).
			errs = append(errs, fmt.Errorf("%s_FILE: %s is empty: it would leave %s at its default; put the value in it or unset %s_FILE", v.Name, path, v.Name, v.Name))
			continue
		}
		out[v.Name] = val
	}
	return out, errors.Join(errs...)
}

// sectionProblem words a provider section's problem like the others: the
// Go field names its Check uses become the variables that set them, and a
// message that starts with one ("RADIAL_API_KEY is required") is put as
// "RADIAL_API_KEY: is required (PROVIDERS includes radial)".
func sectionProblem(err error, sec providers.Section, r providers.Registration) error {
	msg := withEnvNames(err.Error(), reflect.TypeOf(sec).Elem(), r.EnvPrefix)
	first, rest, _ := strings.Cut(msg, " ")
	if strings.HasPrefix(first, r.EnvPrefix) && !strings.HasPrefix(rest, "and ") {
		msg = first + ": " + rest
	} else {
		msg = r.EnvPrefix + "*: " + msg
	}
	return fmt.Errorf("%s (PROVIDERS includes %s)", msg, r.Name)
}

// nameVariables rewrites caarlos0/env's parse errors, which name the Go
// field ("Timeout"), to name the environment variable(s) that were set for it.
func nameVariables(err error, reg providers.Registry, environ map[string]string) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	var out []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if !errors.As(e, &pe) {
			out = append(out, e)
			continue
		}
		var names []string
		for _, v := range Vars(reg) {
			if _, set := environ[v.Name]; set && v.field == pe.Name {
				names = append(names, v.Name)
			}
		}
		if len(names) == 0 {
			out = append(out, e)
			continue
		}
		out = append(out, fmt.Errorf("%s: cannot parse %q as %s: %v", strings.Join(names, " or "), environ[names[0]], pe.Type, pe.Err))
	}
	return errors.Join(out...)
}

// withEnvNames rewrites Go field paths in a sub-config's validation message
// ("Radial.APIKeys") to the environment variables that set them
// (INTAKE_RADIAL_API_KEYS).
func withEnvNames(msg string, t reflect.Type, prefix string) string {
	names, bare := map[string]string{}, map[string]string{}
	var walk func(t reflect.Type, goPath, envPrefix string)
	walk = func(t reflect.Type, goPath, envPrefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if p, ok := f.Tag.Lookup("envPrefix"); ok {
				walk(f.Type, goPath+f.Name+".", envPrefix+p)
				continue
			}
			e := strings.Split(f.Tag.Get("env"), ",")[0]
			if e == "-" && f.Name == "Channels" {
				e = "CHANNELS" // set through INTAKE_RETAILOPS_CHANNELS
			}
			if e != "" && e != "-" {
				names[goPath+f.Name] = envPrefix + e
				if _, dup := bare[f.Name]; dup {
					bare[f.Name] = ""
				} else {
					bare[f.Name] = envPrefix + e
				}
			}
		}
	}
	walk(t, "", prefix)
	for k, v := range bare {
		if _, full := names[k]; !full && v != "" {
			names[k] = v
		}
	}
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	// Longest first, so that "Radial.APIKeys" wins over "APIKeys".
	slices.SortFunc(keys, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		pairs = append(pairs, k, names[k])
	}
	return strings.ReplaceAll(strings.NewReplacer(pairs...).Replace(msg), "\n", "\n  ")
}

// validateSweeper checks the sweeper's deadlines: a settlement waiting in a
// retry queue or for a settle window must not be taken for a stuck one.
func (c Config) validateSweeper(bad func(name, format string, args ...any)) {
	if c.SweepInterval < 0 {
		bad("SWEEP_INTERVAL", "must be 0 (off) or positive (got %s)", c.SweepInterval)
	}
	if c.SweepInterval == 0 {
		// Another replica may sweep a PostgreSQL store; nobody else can
		// open an SQLite file (store.Open locks it), so without this
		// worker's sweeper an unpublished verdict would never be relayed
		// and no deadline enforced.
		if !store.Shared(c.StoreDSN) {
			bad("SWEEP_INTERVAL", "cannot be 0 (off) with an SQLite STORE_DSN: no other process can sweep that file, so unpublished verdicts would never be relayed nor deadlines enforced; give an interval (default 30s)")
		}
		return
	}
	if c.SweepTimeout < MinSweepTimeout {
		bad("SWEEP_TIMEOUT", "must be 0 (10 × SWEEP_INTERVAL) or at least %s, the time a round of reads and publishes needs (got %s)", MinSweepTimeout, c.SweepTimeout)
	}
	longest := time.Duration(0)
	for _, d := range c.RetryDelays {
		longest = max(longest, d)
	}
	window := time.Duration(0)
	for _, f := range c.Facts() {
		window = max(window, f.SettleWindow)
	}
	// Saturating: two durations that each parse may add up past the range
	// of a time.Duration, and a negative sum would pass any STUCK_AFTER.
	if longest > math.MaxInt64-window {
		longest = math.MaxInt64
	} else {
		longest += window
	}
	if c.StuckAfter <= longest {
		bad("STUCK_AFTER", "must be longer than the longest RETRY_DELAYS plus the longest *_SETTLE_WINDOW (%s), or a settlement waiting to be retried would be taken for a stuck one (got %s)", longest, c.StuckAfter)
	}
	if c.OutboxRelayAfter < MinOutboxRelayAfter {
		bad("OUTBOX_RELAY_AFTER", "must be at least %s, well above the delay of a confirmed event's publish mark (written in batches, store.Marker), or another replica's relay could take a confirmed event for a lost one (got %s)", MinOutboxRelayAfter, c.OutboxRelayAfter)
	}
}

// requestQueues are the queues the worker declares on AMQP_URL for the
// requests of every registered provider (another replica may run one this
// one does not): request, retry and parked queues, and the parked provider
// statuses' queue; each names its provider.
func (c Config) requestQueues() map[string]string {
	out := map[string]string{}
	for _, p := range c.registry.Names() {
		out[broker.RequestQueue(p)] = p
		out[broker.ParkedQueue(p)] = p
		out[broker.ProviderStatusParkedQueue(p)] = p
		for _, d := range c.RetryDelays {
			out[broker.RetryQueue(p, d)] = p
		}
	}
	return out
}

// validateQueues checks that the queues bound to our status exchange are
// nobody else's: two consumers of one queue each get part of its messages,
// so a status queue shared with the webhook deliverer, or with a request,
// retry or parked queue, splits or swallows the verdicts (and a request
// queue bound to the status exchange takes our own events for requests).
func (c Config) validateQueues(bad func(name, format string, args ...any)) {
	reqs := c.requestQueues()
	status := map[string]bool{}
	for _, sq := range c.StatusQueueBindings() {
		status[sq.Name] = true
		if p, ok := reqs[sq.Name]; ok {
			bad("STATUS_QUEUES", "%s is one of the worker's own queues for %s requests: status events would go into it; name another queue", sq.Name, p)
		}
	}
	if !c.WebhookEnabled() {
		return
	}
	if !broker.SameBroker(c.Webhook.AMQPURL, c.AMQPURL) {
		// Status events are published on AMQP_URL only: a deliverer on
		// another broker or vhost would receive none, in silence.
		if !c.Webhook.EventsRelayed {
			bad("WEBHOOK_AMQP_URL", "%s is another broker or vhost than AMQP_URL (%s), where the worker publishes its status events: the webhook would receive none. "+
				"Unset it (or write AMQP_URL's address), or set WEBHOOK_EVENTS_RELAYED=true if a shovel or federation moves the events there",
				broker.Redact(c.Webhook.AMQPURL), broker.Redact(c.AMQPURL))
		}
		return
	}
	for _, q := range []struct{ name, queue string }{{"WEBHOOK_QUEUE", c.Webhook.Queue}, {"WEBHOOK_PARKED_QUEUE", c.Webhook.ParkedQueue}} {
		if p, ok := reqs[q.queue]; ok {
			bad(q.name, "%s is one of the worker's own queues for %s requests; name another queue", q.queue, p)
		}
		if status[q.queue] {
			bad(q.name, "%s is also a status queue of STATUS_QUEUES (default q.Payments.Settlements.Status.<AMQP user>) on the same broker: the webhook deliverer and that queue's consumer would each get part of the status events; name another queue", q.queue)
		}
	}
}

// known reports whether provider p is registered (a replica may run it).
func (c Config) known(p string) bool {
	_, ok := c.registry.Lookup(p)
	return ok
}
