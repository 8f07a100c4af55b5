// Package config reads the worker's configuration from the environment,
// applies defaults, and validates it with errors that say what to fix.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/intake"
	"github.com/settlement-worker/settlement-worker/webhook"
)

// Providers the worker knows.
var KnownProviders = []string{"radial", "paysafe", "frisbii", "miva"}

// Config is the worker's configuration. Each field's `help` tag documents it
// for `settlement-worker --help` and the README.
type Config struct {
	// AMQPURL is the broker the worker consumes requests from and publishes
	// status events to.
	AMQPURL string `env:"AMQP_URL" envDefault:"amqp://guest:guest@127.0.0.1:5672/" help:"Broker for requests and status events (amqp:// or amqps://)."`
	// Providers are the providers whose request queues are consumed.
	Providers []string `env:"PROVIDERS" envDefault:"radial" help:"Comma-separated providers to settle with: radial, paysafe, frisbii, miva."`
	// QueueType is the type of the request, retry and parked queues.
	QueueType string `env:"QUEUE_TYPE" envDefault:"quorum" help:"quorum (replicated; at-least-once dead-lettering) or classic."`
	// StatusQueues are the status queues declared and bound at start, as
	// name=bindingkey; empty means q.Payments.Settlements.Status.<user of AMQP_URL>=settlement.status.#.
	StatusQueues []string `env:"STATUS_QUEUES" help:"Status queues to declare, name=binding key, comma-separated (default q.Payments.Settlements.Status.<AMQP user>=settlement.status.#)."`
	// Concurrency is how many requests per provider are settled at once.
	Concurrency int `env:"CONCURRENCY" envDefault:"16" help:"Requests settled at once per provider (consumers per queue)."`
	// Prefetch is the AMQP prefetch of each consumer.
	Prefetch int `env:"PREFETCH" envDefault:"1" help:"AMQP prefetch per consumer."`
	// RetryDelays are the waits before attempts 2, 3, ... (one retry queue each).
	RetryDelays []time.Duration `env:"RETRY_DELAYS" envDefault:"1s,5s,30s,2m,10m" help:"Waits before attempt 2, 3, ... of a transient failure; the last repeats."`
	// MaxAttempts bounds the attempts before a request is parked.
	MaxAttempts int `env:"MAX_ATTEMPTS" envDefault:"6" help:"Attempts before a transiently failing request is parked."`
	// DeliveryLimit parks a message redelivered this many times without an
	// ack (a poison message crashing the worker). 0 disables it.
	DeliveryLimit int `env:"DELIVERY_LIMIT" envDefault:"20" help:"Quorum-queue delivery limit before a message that keeps crashing the worker is parked (0: off)."`
	// MaxRequestBytes parks a request message with a larger body before it
	// is parsed or sent to a provider; the HTTP intake refuses such a
	// request at the door.
	MaxRequestBytes int64 `env:"MAX_REQUEST_BYTES" envDefault:"1048576" help:"Largest settlement request body in bytes; a larger one is parked (intake: refused) before any provider call."`
	// StoreDSN selects the durable store.
	StoreDSN string `env:"STORE_DSN" envDefault:"sqlite:settlement-worker.db" help:"sqlite:PATH (embedded, one process) or postgres://... (replicas sharing state)."`
	// ShutdownTimeout bounds the graceful shutdown on SIGTERM.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"30s" help:"How long in-flight settlements may take to finish on SIGTERM."`
	// HTTPAddr serves /healthz, /readyz and /metrics; "off" disables it.
	HTTPAddr string `env:"HTTP_ADDR" envDefault:"127.0.0.1:9090" help:"Address for /healthz, /readyz and /metrics (off: disabled)."`
	// LogLevel is the zerolog level.
	LogLevel string `env:"LOG_LEVEL" envDefault:"info" help:"debug, info, warn or error."`
	// PendingDeadline parks a settlement still pending at its provider
	// (Paysafe before batching) this long after it first was.
	PendingDeadline time.Duration `env:"PENDING_DEADLINE" envDefault:"72h" help:"Park a settlement still pending at the provider after this long (Paysafe batches daily)."`
	// SweepInterval is the time between the sweeper's rounds (outbox relay,
	// overdue verdicts, stuck settlements); 0 disables the sweeper.
	SweepInterval time.Duration `env:"SWEEP_INTERVAL" envDefault:"30s" help:"Time between sweeper rounds: relay unpublished status events, park overdue verdicts, resume stuck settlements (0: off)."`
	// StuckAfter is how long a settlement may stay in flight without a
	// transition before the sweeper republishes its request to resume it.
	StuckAfter time.Duration `env:"STUCK_AFTER" envDefault:"1h" help:"Resume a settlement that made no progress for this long in received/confirming/submitting/pending (longer than the longest RETRY_DELAYS plus settle window)."`
	// OutboxRelayAfter is how old a recorded but unpublished status event
	// must be before the sweeper publishes it.
	OutboxRelayAfter time.Duration `env:"OUTBOX_RELAY_AFTER" envDefault:"1m" help:"Publish a status event recorded but not confirmed as published after this long."`
	// Radial configures the Radial provider.
	Radial Radial `envPrefix:"RADIAL_"`
	// Paysafe configures the Paysafe provider.
	Paysafe Paysafe `envPrefix:"PAYSAFE_"`
	// Frisbii configures the Frisbii (Reepay) provider.
	Frisbii Frisbii `envPrefix:"FRISBII_"`
	// Miva configures the Miva Merchant provider.
	Miva Miva `envPrefix:"MIVA_"`
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
}

// Radial is the Radial provider's configuration.
type Radial struct {
	// BaseURL is Radial's API root, e.g. https://.../ (the sandbox: http://127.0.0.1:8081/radial).
	BaseURL string `env:"BASE_URL" help:"Radial API base URL (required when radial is enabled)."`
	// APIKey is sent in the apikey header. Never logged.
	APIKey string `env:"API_KEY" help:"Radial API key, sent as the apikey header (never logged)."`
	// APIVersion is the v[M.m] part of Radial's URIs.
	APIVersion string `env:"API_VERSION" envDefault:"v1.0" help:"Radial API version in the URI."`
	// Timeout bounds each Radial HTTP call.
	Timeout time.Duration `env:"TIMEOUT" envDefault:"10s" help:"Timeout of each Radial HTTP call."`
	// SettleWindow is how long after a call was sent Radial may still commit
	// it; an uncertain attempt is reconciled only after it.
	SettleWindow time.Duration `env:"SETTLE_WINDOW" envDefault:"1m" help:"How long Radial may take to commit a call; an attempt whose outcome is unknown is reconciled only after this (at least TIMEOUT; longer than the provider takes to commit)."`
	// StatusDeadline parks an acknowledged settlement that got no status
	// on Radial's queue this long after it was acknowledged.
	StatusDeadline time.Duration `env:"STATUS_DEADLINE" envDefault:"24h" help:"Park a settlement Radial acknowledged but sent no status for after this long (0: never)."`
	// AMQPURL is the broker holding Radial's status queue (may be Radial's own).
	AMQPURL string `env:"AMQP_URL" help:"Broker with Radial's status queue (default: AMQP_URL)."`
	// StatusQueue is Radial's status queue, consumed passively.
	StatusQueue string `env:"STATUS_QUEUE" help:"Radial's status queue (default q.Payments.Settlements.Status.<user of RADIAL_AMQP_URL> when RADIAL_AMQP_URL is Radial's own broker or vhost; required on ours, and never one of our own queues)."`
	// StatusConcurrency is how many Radial statuses are handled at once.
	StatusConcurrency int `env:"STATUS_CONCURRENCY" envDefault:"16" help:"Radial statuses handled at once."`
}

// Paysafe is the Paysafe Card Payments provider's configuration.
type Paysafe struct {
	// BaseURL is Paysafe's API root (the sandbox: http://127.0.0.1:8081/paysafe).
	BaseURL string `env:"BASE_URL" help:"Paysafe API base URL (required when paysafe is enabled)."`
	// Username and Password are the API key (HTTP basic auth). Never logged.
	Username string `env:"USERNAME" help:"Paysafe API key user name (basic auth)."`
	Password string `env:"PASSWORD" help:"Paysafe API key password (basic auth; never logged)."`
	// Accounts maps each store to its Paysafe account id.
	Accounts map[string]string `env:"ACCOUNTS" help:"Paysafe account per store: STORE:ACCOUNT,STORE2:ACCOUNT2."`
	// Currencies maps an account to its currency, to refuse a request in
	// another currency before any call.
	Currencies map[string]string `env:"CURRENCIES" help:"Optional currency per Paysafe account: ACCOUNT:USD,..."`
	// Timeout bounds each Paysafe HTTP call.
	Timeout time.Duration `env:"TIMEOUT" envDefault:"10s" help:"Timeout of each Paysafe HTTP call."`
	// SettleWindow is how long after a call was sent Paysafe may still commit
	// it; an uncertain attempt is reconciled only after it.
	SettleWindow time.Duration `env:"SETTLE_WINDOW" envDefault:"1m" help:"How long Paysafe may take to commit a call; an attempt whose outcome is unknown is reconciled only after this (at least TIMEOUT; longer than the provider takes to commit)."`
	// RecheckAfter is the delay before re-checking a pending settlement.
	RecheckAfter time.Duration `env:"RECHECK_AFTER" envDefault:"30s" help:"Delay before re-checking a PENDING settlement (rounded up to a RETRY_DELAYS queue)."`
}

// Frisbii is the Frisbii (Reepay) provider's configuration.
type Frisbii struct {
	// BaseURL is Frisbii's API root (the sandbox: http://127.0.0.1:8081/frisbii).
	BaseURL string `env:"BASE_URL" help:"Frisbii API base URL (required when frisbii is enabled)."`
	// APIKey is the private API key (basic auth user). Never logged.
	APIKey string `env:"API_KEY" help:"Frisbii private API key (basic auth; never logged)."`
	// Timeout bounds each Frisbii HTTP call.
	Timeout time.Duration `env:"TIMEOUT" envDefault:"10s" help:"Timeout of each Frisbii HTTP call."`
	// SettleWindow is how long after a call was sent Frisbii may still commit
	// it; an uncertain attempt is reconciled only after it.
	SettleWindow time.Duration `env:"SETTLE_WINDOW" envDefault:"1m" help:"How long Frisbii may take to commit a call; an attempt whose outcome is unknown is reconciled only after this (at least TIMEOUT; longer than the provider takes to commit)."`
	// RefundRecheck is the delay before re-checking a refund answered "processing".
	RefundRecheck time.Duration `env:"REFUND_RECHECK" envDefault:"30s" help:"Delay before re-checking a refund still processing."`
}

// Miva is the Miva Merchant JSON API provider's configuration.
type Miva struct {
	// BaseURL is the store's json.mvc URL (the sandbox: http://127.0.0.1:8081/miva/mm5/json.mvc).
	BaseURL string `env:"BASE_URL" help:"Miva JSON API URL, .../mm5/json.mvc (required when miva is enabled)."`
	// StoreCode is the Miva store code.
	StoreCode string `env:"STORE_CODE" help:"Miva store code."`
	// APIToken is the API access token. Never logged.
	APIToken string `env:"API_TOKEN" help:"Miva API access token (never logged)."`
	// SigningKey, when set, signs requests with HMAC-SHA256. Never logged.
	SigningKey string `env:"SIGNING_KEY" help:"Optional Miva HMAC-SHA256 signing key (never logged)."`
	// Timeout bounds each Miva HTTP call.
	Timeout time.Duration `env:"TIMEOUT" envDefault:"10s" help:"Timeout of each Miva HTTP call."`
	// SettleWindow is how long after a call was sent Miva may still commit
	// it; an uncertain attempt is reconciled only after it.
	SettleWindow time.Duration `env:"SETTLE_WINDOW" envDefault:"1m" help:"How long Miva may take to commit a call; an attempt whose outcome is unknown is reconciled only after this (at least TIMEOUT; longer than the provider takes to commit)."`
}

// Load reads the environment, applies defaults and validates.
func Load() (Config, error) {
	var c Config
	if err := env.Parse(&c); err != nil {
		return c, fmt.Errorf("read configuration: %w", nameVariables(err))
	}
	c.applyDefaults()
	return c, c.Validate()
}

func (c *Config) applyDefaults() {
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
	if c.Radial.AMQPURL == "" {
		c.Radial.AMQPURL = c.AMQPURL
	}
	// Radial's status queue defaults to q.Payments.Settlements.Status.<user>
	// only on Radial's own broker or vhost: on ours, that is the name of our
	// own status queue, and consuming it would feed the worker its own
	// events. There it must be named (Validate says so).
	if c.Radial.StatusQueue == "" && !SameBroker(c.Radial.AMQPURL, c.AMQPURL) {
		c.Radial.StatusQueue = broker.StatusQueueName(broker.Username(c.Radial.AMQPURL))
	}
	if len(c.StatusQueues) == 0 {
		c.StatusQueues = []string{broker.StatusQueueName(broker.Username(c.AMQPURL)) + "=settlement.status.#"}
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
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}
	checkAMQP := func(name, v string) {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") || u.Host == "" {
			bad(name, "must be an amqp:// or amqps:// URL with a host (got %q)", broker.Redact(v))
		}
	}
	checkAMQP("AMQP_URL", c.AMQPURL)
	if len(c.Providers) == 0 {
		bad("PROVIDERS", "name at least one provider (%s)", strings.Join(KnownProviders, ", "))
	}
	for _, p := range c.Providers {
		if !slices.Contains(KnownProviders, p) {
			bad("PROVIDERS", "unknown provider %q (known: %s)", p, strings.Join(KnownProviders, ", "))
		}
	}
	if c.QueueType != broker.QueueQuorum && c.QueueType != broker.QueueClassic {
		bad("QUEUE_TYPE", "must be quorum or classic (got %q)", c.QueueType)
	}
	for _, sq := range c.StatusQueueBindings() {
		if sq.Name == "" || sq.BindingKey == "" {
			bad("STATUS_QUEUES", "entries are name=binding.key (got %q)", sq.Name+"="+sq.BindingKey)
		}
	}
	if c.Concurrency < 1 || c.Concurrency > 1024 {
		bad("CONCURRENCY", "must be between 1 and 1024 (got %d)", c.Concurrency)
	}
	if c.Prefetch < 1 {
		bad("PREFETCH", "must be at least 1 (got %d)", c.Prefetch)
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
	if c.MaxRequestBytes <= 0 {
		bad("MAX_REQUEST_BYTES", "must be positive (got %d)", c.MaxRequestBytes)
	}
	if strings.TrimSpace(c.StoreDSN) == "" {
		bad("STORE_DSN", "is required: sqlite:/path/to/file.db or postgres://user:pass@host/db")
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
	if c.Enabled("radial") {
		u, err := url.Parse(c.Radial.BaseURL)
		if c.Radial.BaseURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("RADIAL_BASE_URL", "must be Radial's http(s) base URL (got %q)", redactHTTP(c.Radial.BaseURL))
		}
		if c.Radial.APIKey == "" {
			bad("RADIAL_API_KEY", "is required when radial is enabled")
		}
		if c.Radial.Timeout <= 0 {
			bad("RADIAL_TIMEOUT", "must be positive")
		}
		checkAMQP("RADIAL_AMQP_URL", c.Radial.AMQPURL)
		c.validateRadialQueue(bad)
		if c.Radial.StatusConcurrency < 1 {
			bad("RADIAL_STATUS_CONCURRENCY", "must be at least 1")
		}
	}
	checkHTTP := func(name, v string) {
		u, err := url.Parse(v)
		if v == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(name, "must be an http(s) URL (got %q)", redactHTTP(v))
		}
	}
	if c.PendingDeadline <= 0 {
		bad("PENDING_DEADLINE", "must be positive (got %s)", c.PendingDeadline)
	}
	c.validateWindows(bad)
	c.validateSweeper(bad)
	if c.Enabled("paysafe") {
		checkHTTP("PAYSAFE_BASE_URL", c.Paysafe.BaseURL)
		if c.Paysafe.Username == "" || c.Paysafe.Password == "" {
			bad("PAYSAFE_USERNAME", "and PAYSAFE_PASSWORD are required when paysafe is enabled")
		}
		if len(c.Paysafe.Accounts) == 0 {
			bad("PAYSAFE_ACCOUNTS", "map each store to its Paysafe account, e.g. STORE1:89987201")
		}
	}
	if c.Enabled("frisbii") {
		checkHTTP("FRISBII_BASE_URL", c.Frisbii.BaseURL)
		if c.Frisbii.APIKey == "" {
			bad("FRISBII_API_KEY", "is required when frisbii is enabled")
		}
	}
	if c.Enabled("miva") {
		checkHTTP("MIVA_BASE_URL", c.Miva.BaseURL)
		if c.Miva.StoreCode == "" {
			bad("MIVA_STORE_CODE", "is required when miva is enabled")
		}
		if c.Miva.APIToken == "" {
			bad("MIVA_API_TOKEN", "is required when miva is enabled")
		}
	}
	if c.IntakeEnabled() {
		if _, err := intake.ParseChannels(c.IntakeChannels); err != nil {
			bad("INTAKE_RETAILOPS_CHANNELS", "%v", err)
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

// nameVariables rewrites caarlos0/env's parse errors, which name the Go
// field ("Timeout"), to name the environment variable(s) that were set for it.
func nameVariables(err error) error {
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
		for _, v := range Vars() {
			if _, set := os.LookupEnv(v.Name); set && v.field == pe.Name {
				names = append(names, v.Name)
			}
		}
		if len(names) == 0 {
			out = append(out, e)
			continue
		}
		out = append(out, fmt.Errorf("%s: cannot parse %q as %s: %v", strings.Join(names, " or "), os.Getenv(names[0]), pe.Type, pe.Err))
	}
	return errors.Join(out...)
}

// redactHTTP hides the password of an http(s) URL.
func redactHTTP(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable url)"
	}
	return u.Redacted()
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

// validateWindows checks each enabled provider's settle window: an attempt
// is uncertain for at least its call timeout, so a shorter window would
// reconcile while the call may still be in flight.
func (c Config) validateWindows(bad func(name, format string, args ...any)) {
	windows := []struct {
		provider, prefix string
		timeout, window  time.Duration
	}{
		{"radial", "RADIAL_", c.Radial.Timeout, c.Radial.SettleWindow},
		{"paysafe", "PAYSAFE_", c.Paysafe.Timeout, c.Paysafe.SettleWindow},
		{"frisbii", "FRISBII_", c.Frisbii.Timeout, c.Frisbii.SettleWindow},
		{"miva", "MIVA_", c.Miva.Timeout, c.Miva.SettleWindow},
	}
	for _, w := range windows {
		if c.Enabled(w.provider) && w.window < w.timeout {
			bad(w.prefix+"SETTLE_WINDOW", "must be at least %sTIMEOUT (%s): a call may still be in flight until then (got %s)", w.prefix, w.timeout, w.window)
		}
	}
	if c.Enabled("radial") && c.Radial.StatusDeadline < 0 {
		bad("RADIAL_STATUS_DEADLINE", "must be 0 (never) or positive (got %s)", c.Radial.StatusDeadline)
	}
}

// validateSweeper checks the sweeper's deadlines: a settlement waiting in a
// retry queue or for a settle window must not be taken for a stuck one.
func (c Config) validateSweeper(bad func(name, format string, args ...any)) {
	if c.SweepInterval < 0 {
		bad("SWEEP_INTERVAL", "must be 0 (off) or positive (got %s)", c.SweepInterval)
	}
	if c.SweepInterval == 0 {
		return
	}
	longest := time.Duration(0)
	for _, d := range c.RetryDelays {
		longest = max(longest, d)
	}
	longest += max(c.Radial.SettleWindow, c.Paysafe.SettleWindow, c.Frisbii.SettleWindow, c.Miva.SettleWindow)
	if c.StuckAfter <= longest {
		bad("STUCK_AFTER", "must be longer than the longest RETRY_DELAYS plus the longest *_SETTLE_WINDOW (%s), or a settlement waiting to be retried would be taken for a stuck one (got %s)", longest, c.StuckAfter)
	}
	if c.OutboxRelayAfter <= 0 {
		bad("OUTBOX_RELAY_AFTER", "must be positive (got %s)", c.OutboxRelayAfter)
	}
}

// validateRadialQueue refuses a Radial status queue that is one of the
// worker's own queues: consuming it would feed the worker its own status
// events (each one "matching" a settlement and publishing another).
func (c Config) validateRadialQueue(bad func(name, format string, args ...any)) {
	q := c.Radial.StatusQueue
	same := SameBroker(c.Radial.AMQPURL, c.AMQPURL)
	switch {
	case q == "" && same:
		bad("RADIAL_STATUS_QUEUE", "is required when Radial's status queue is on the worker's own broker and vhost (RADIAL_AMQP_URL unset or equal to AMQP_URL's): "+
			"its default name, %s, is the worker's own status queue; set RADIAL_STATUS_QUEUE to the queue Radial publishes to, or RADIAL_AMQP_URL to Radial's broker",
			broker.StatusQueueName(broker.Username(c.AMQPURL)))
	case q == "":
		bad("RADIAL_STATUS_QUEUE", "is required")
	case !same:
	case slices.ContainsFunc(c.StatusQueueBindings(), func(sq broker.StatusQueue) bool { return sq.Name == q }):
		bad("RADIAL_STATUS_QUEUE", "%s is our own status queue on the same broker (STATUS_QUEUES): the worker would consume its own events; name the queue Radial publishes to", q)
	case c.WebhookEnabled() && q == c.Webhook.Queue, !c.WebhookEnabled() && q == webhook.DefaultQueue:
		bad("RADIAL_STATUS_QUEUE", "%s is the webhook deliverer's queue (WEBHOOK_QUEUE), bound to our status exchange: the worker would consume its own events", q)
	}
}

// SameBroker reports whether two AMQP URLs address the same broker and
// virtual host (credentials aside; default ports and the "/" vhost made
// explicit). Unparseable URLs are compared as text.
func SameBroker(a, b string) bool {
	ua, ea := url.Parse(a)
	ub, eb := url.Parse(b)
	if ea != nil || eb != nil {
		return a == b
	}
	norm := func(u *url.URL) string {
		port := u.Port()
		if port == "" {
			port = "5672"
			if u.Scheme == "amqps" {
				port = "5671"
			}
		}
		host := strings.ToLower(u.Hostname())
		if host == "localhost" || host == "::1" {
			host = "127.0.0.1"
		}
		vhost := strings.TrimPrefix(u.Path, "/")
		if vhost == "" {
			vhost = "/"
		}
		return host + ":" + port + "/" + vhost
	}
	return norm(ua) == norm(ub)
}
