package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/redact"
)

// Authentication modes of the webhook POST.
const (
	// AuthBasic sends Username and Password as HTTP basic auth.
	AuthBasic = "basic"
	// AuthHeaders sends them in two headers (UsernameHeader, PasswordHeader).
	AuthHeaders = "headers"
	// AuthNone sends no credentials.
	AuthNone = "none"
)

// Defaults of Config.
const (
	DefaultQueue          = "q.Payments.Settlements.Status.webhook"
	DefaultBindingKey     = "settlement.status.#"
	DefaultQueueType      = broker.QueueQuorum
	DefaultUsernameHeader = "username"
	DefaultPasswordHeader = "password"
	DefaultBatchSize      = 50
	DefaultBatchWait      = 500 * time.Millisecond
	DefaultHTTPTimeout    = 10 * time.Second
	DefaultRetryInitial   = time.Second
	DefaultRetryMax       = time.Minute
	DefaultRecentIDs      = 10000
	// MaxBatchSize bounds BatchSize (it is also the consumer's prefetch).
	MaxBatchSize = 1000
)

// Config configures the webhook deliverer. Zero fields take the defaults
// above (ApplyDefaults); Validate reports every problem at once. The env
// tags are the names the lead maps under the WEBHOOK_ prefix. Password and
// the URL's userinfo, path and query are secrets: never logged (String
// shows the URL's scheme, host and fingerprint only).
type Config struct {
	// AMQPURL is the broker holding the status exchange.
	AMQPURL string `env:"AMQP_URL" help:"Broker with the status exchange (default: AMQP_URL). The worker publishes its status events on AMQP_URL only: another broker or vhost here is refused unless WEBHOOK_EVENTS_RELAYED is set."`
	// EventsRelayed says that the status events the worker publishes on its
	// own broker (AMQP_URL) are moved to AMQPURL's (a shovel, federation):
	// without it, an AMQPURL naming another broker or vhost is refused, as
	// the deliverer would receive none of them.
	EventsRelayed bool `env:"EVENTS_RELAYED" help:"true: the status events published on AMQP_URL are shovelled (or federated) to WEBHOOK_AMQP_URL's broker and vhost, which may then differ from AMQP_URL's."`
	// Queue is the deliverer's own durable queue; it is declared and bound
	// at start, so that no status is missed while the webhook is down.
	Queue string `env:"QUEUE" help:"Durable queue the deliverer consumes."`
	// BindingKeys bind Queue to payments.settlements.status:
	// settlement.status.# (every store) or settlement.status.<store_id>.
	// Bindings are only ever added: remove an old one by hand.
	BindingKeys []string `env:"BINDING_KEYS" help:"Binding keys of the queue on payments.settlements.status, comma-separated."`
	// QueueType is quorum (replicated) or classic.
	QueueType string `env:"QUEUE_TYPE" help:"quorum or classic."`
	// ParkedQueue receives status messages that cannot be decoded (they
	// cannot be put in a PaymentSettlementStatusList), body and properties
	// intact, with parked_reason, and those the webhook queue dead-letters
	// past its delivery limit (with x-death). Default: Queue + ".parked".
	ParkedQueue string `env:"PARKED_QUEUE" help:"Queue for the statuses the deliverer parks: undecodable ones (parked_reason) and those dead-lettered past the webhook queue's delivery limit (x-death); alert WebhookStatusesParked (default <queue>.parked)."`
	// URL receives the PaymentSettlementStatusList POSTs (http or https).
	// Secret: many services put a token in its path or query, so only its
	// scheme, host and fingerprint (the first 8 hex digits of its SHA-256)
	// are ever logged.
	URL string `env:"URL" help:"Webhook URL receiving PaymentSettlementStatusList batches (logged as scheme, host and sha256 fingerprint only)."`
	// AuthMode is basic, headers or none; default basic when Username is
	// set, else none.
	AuthMode string `env:"AUTH_MODE" help:"basic, headers (username/password headers) or none."`
	// Username is the webhook's user name.
	Username string `env:"USERNAME" help:"Webhook user name."`
	// Password is the webhook's password. Secret.
	Password string `env:"PASSWORD" help:"Webhook password (never logged)."`
	// UsernameHeader and PasswordHeader name the headers of AuthHeaders.
	UsernameHeader string `env:"USERNAME_HEADER" help:"Header carrying the user name in headers mode."`
	// PasswordHeader names the password header of AuthHeaders.
	PasswordHeader string `env:"PASSWORD_HEADER" help:"Header carrying the password in headers mode."`
	// BatchSize is the most statuses in one POST (also the prefetch).
	BatchSize int `env:"BATCH_SIZE" help:"Most statuses per POST."`
	// BatchWait is how long the first status of a batch waits for others.
	BatchWait time.Duration `env:"BATCH_WAIT" help:"Longest wait for a batch to fill after its first status."`
	// HTTPTimeout bounds each POST (and how long Close waits for one).
	HTTPTimeout time.Duration `env:"HTTP_TIMEOUT" help:"Timeout of each webhook POST."`
	// RetryInitial is the first wait after a failed POST; it doubles up to
	// RetryMax. A batch is retried until it is delivered or Close.
	RetryInitial time.Duration `env:"RETRY_INITIAL" help:"First wait after a failed POST (doubles)."`
	// RetryMax caps the wait between retries.
	RetryMax time.Duration `env:"RETRY_MAX" help:"Longest wait between retries of a batch."`
	// RecentIDs is how many delivered message_ids are remembered to drop
	// republished duplicates across batches (0: the default; negative: off).
	RecentIDs int `env:"RECENT_IDS" help:"Delivered message_ids remembered to drop republished duplicates."`
}

// ApplyDefaults sets every zero field to its default.
func (c *Config) ApplyDefaults() {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&c.Queue, DefaultQueue)
	def(&c.QueueType, DefaultQueueType)
	def(&c.ParkedQueue, c.Queue+".parked")
	def(&c.UsernameHeader, DefaultUsernameHeader)
	def(&c.PasswordHeader, DefaultPasswordHeader)
	if c.AuthMode == "" {
		c.AuthMode = AuthNone
		if c.Username != "" {
			c.AuthMode = AuthBasic
		}
	}
	if len(c.BindingKeys) == 0 {
		c.BindingKeys = []string{DefaultBindingKey}
	}
	for _, d := range []struct {
		p *time.Duration
		v time.Duration
	}{{&c.BatchWait, DefaultBatchWait}, {&c.HTTPTimeout, DefaultHTTPTimeout}, {&c.RetryInitial, DefaultRetryInitial}, {&c.RetryMax, DefaultRetryMax}} {
		if *d.p == 0 {
			*d.p = d.v
		}
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.RecentIDs == 0 {
		c.RecentIDs = DefaultRecentIDs
	}
}

// headerNameRE is an HTTP header field name (RFC 9110 token).
var headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// Validate reports every problem at once, naming the field.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	if u, err := url.Parse(c.AMQPURL); err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") || u.Host == "" {
		bad("AMQPURL", "must be an amqp:// or amqps:// URL with a host (got %q)", broker.Redact(c.AMQPURL))
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("URL", "must be an http:// or https:// URL with a host (got %q)", redact.URL(c.URL))
	}
	if c.Queue == "" || c.ParkedQueue == "" || c.Queue == c.ParkedQueue {
		bad("Queue/ParkedQueue", "must be set and differ (got %q, %q)", c.Queue, c.ParkedQueue)
	}
	for _, k := range c.BindingKeys {
		if k == "" {
			bad("BindingKeys", "must not contain an empty key")
		} else if !broker.StatusBindingReaches(k) {
			bad("BindingKeys", "%q matches no status event: %s", k, broker.StatusRouting)
		}
	}
	if c.QueueType != broker.QueueQuorum && c.QueueType != broker.QueueClassic {
		bad("QueueType", "must be quorum or classic (got %q)", c.QueueType)
	}
	switch c.AuthMode {
	case AuthNone:
	case AuthBasic, AuthHeaders:
		if c.Username == "" || c.Password == "" {
			bad("Username/Password", "are required with auth mode %s", c.AuthMode)
		}
	default:
		bad("AuthMode", "must be basic, headers or none (got %q)", c.AuthMode)
	}
	if c.AuthMode == AuthHeaders {
		for _, h := range []string{c.UsernameHeader, c.PasswordHeader} {
			if !headerNameRE.MatchString(h) {
				bad("UsernameHeader/PasswordHeader", "%q is not a valid header name", h)
			}
		}
		if http.CanonicalHeaderKey(c.UsernameHeader) == http.CanonicalHeaderKey(c.PasswordHeader) {
			bad("UsernameHeader/PasswordHeader", "must differ")
		}
	}
	if c.BatchSize < 1 || c.BatchSize > MaxBatchSize {
		bad("BatchSize", "must be 1 to %d (got %d)", MaxBatchSize, c.BatchSize)
	}
	for name, d := range map[string]time.Duration{"BatchWait": c.BatchWait, "HTTPTimeout": c.HTTPTimeout,
		"RetryInitial": c.RetryInitial, "RetryMax": c.RetryMax} {
		if d <= 0 {
			bad(name, "must be positive (got %s)", d)
		}
	}
	if c.RetryMax < c.RetryInitial {
		bad("RetryMax", "must be at least RetryInitial (%s, got %s)", c.RetryInitial, c.RetryMax)
	}
	return errors.Join(errs...)
}

// String describes the configuration with the secrets redacted.
func (c Config) String() string {
	return fmt.Sprintf("webhook{broker=%s queue=%s bindings=%v url=%s auth=%s user=%q batch=%d/%s}",
		broker.Redact(c.AMQPURL), c.Queue, c.BindingKeys, redact.URL(c.URL), c.AuthMode, c.Username, c.BatchSize, c.BatchWait)
}
