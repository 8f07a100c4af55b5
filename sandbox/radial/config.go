package radial

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
)

// Defaults applied by NewSandbox to zero Config fields.
const (
	DefaultAPIKey          = "sandbox-key"
	DefaultStatusQueue     = "q.Payments.Settlements.Status.guest"
	DefaultStatusDelay     = 200 * time.Millisecond
	DefaultMaxBodyBytes    = 1 << 20
	DefaultPublishTimeout  = 5 * time.Second
	DefaultRetryMinBackoff = 100 * time.Millisecond
	DefaultRetryMaxBackoff = 5 * time.Second
)

// StatusQueuePrefix is the fixed part of Radial's status queue name; the
// suffix is the RabbitMQ user name (or, in some integrations, the store id).
const StatusQueuePrefix = "q.Payments.Settlements.Status."

// Config configures a Sandbox. Zero fields take the defaults listed on each
// field; call WithDefaults to see the effective values.
type Config struct {
	// Prefix is the URL path prefix every route is served under, for
	// example "/radial" so that one process can host several providers.
	// Empty serves at the root. A trailing slash is ignored.
	Prefix string
	// APIKey is the value the apikey header must carry. Default "sandbox-key".
	APIKey string
	// AutoAuthorize makes ConfirmFunds (and a debit) for an order with no
	// authorization create one for the requested amount. nil means true;
	// use Bool(false) to require explicit Authorize calls.
	AutoAuthorize *bool
	// StatusAMQPURL is the RabbitMQ URL (Radial's broker and vhost) the
	// PaymentSettlementStatus messages are published to by Start. Empty
	// keeps statuses in the outbox only (in-process tests without a broker).
	StatusAMQPURL string
	// StatusQueue is the full name of the status queue, declared durable
	// by the sandbox. Default "q.Payments.Settlements.Status.guest".
	StatusQueue string
	// StatusDelay is how long after an accepted settlement its status (S or
	// R) is decided and published. Default 200ms.
	StatusDelay time.Duration
	// MaxBodyBytes limits request bodies; larger ones get 413. Default 1 MiB.
	MaxBodyBytes int64
	// PublishTimeout bounds one publish and its broker confirm. Default 5s.
	PublishTimeout time.Duration
	// RetryMinBackoff and RetryMaxBackoff bound the exponential backoff
	// between reconnect/publish attempts while the broker is unavailable.
	// Defaults 100ms and 5s.
	RetryMinBackoff time.Duration
	RetryMaxBackoff time.Duration
	// RandSeed seeds the generator behind FailPerMille; 0 picks a seed from
	// the clock. Set it for reproducible fault patterns.
	RandSeed uint64
	// AllowRemoteAdmin serves the admin API to non-loopback callers too.
	// Default false: only 127.0.0.0/8 and ::1 may use {prefix}/_sandbox/.
	AllowRemoteAdmin bool
	// Logger receives the sandbox's logs (account numbers are masked). The
	// zero Logger discards everything.
	Logger zerolog.Logger
}

// Bool returns a pointer to v, for Config.AutoAuthorize.
func Bool(v bool) *bool { return &v }

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	c.Prefix = kit.CleanPrefix(c.Prefix)
	if c.APIKey == "" {
		c.APIKey = DefaultAPIKey
	}
	if c.AutoAuthorize == nil {
		c.AutoAuthorize = Bool(true)
	}
	if c.StatusQueue == "" {
		c.StatusQueue = DefaultStatusQueue
	}
	if c.StatusDelay == 0 {
		c.StatusDelay = DefaultStatusDelay
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = DefaultPublishTimeout
	}
	if c.RetryMinBackoff == 0 {
		c.RetryMinBackoff = DefaultRetryMinBackoff
	}
	if c.RetryMaxBackoff == 0 {
		c.RetryMaxBackoff = DefaultRetryMaxBackoff
	}
	return c
}

// Validate reports configuration errors of c after defaults are applied.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	if strings.ContainsAny(c.Prefix, "{}") || strings.Contains(c.Prefix, "//") {
		errs = append(errs, fmt.Errorf("prefix %q is not a plain path", c.Prefix))
	}
	if !strings.HasPrefix(c.StatusQueue, StatusQueuePrefix) || len(c.StatusQueue) == len(StatusQueuePrefix) {
		errs = append(errs, fmt.Errorf("status queue %q must be %s<suffix>", c.StatusQueue, StatusQueuePrefix))
	}
	if c.StatusDelay < 0 {
		errs = append(errs, errors.New("status delay must not be negative"))
	}
	if c.MaxBodyBytes < 0 {
		errs = append(errs, errors.New("max body bytes must not be negative"))
	}
	if c.PublishTimeout < 0 || c.RetryMinBackoff < 0 || c.RetryMaxBackoff < c.RetryMinBackoff {
		errs = append(errs, errors.New("publish timeout and backoffs must be positive, min ≤ max"))
	}
	if c.StatusAMQPURL != "" && !strings.HasPrefix(c.StatusAMQPURL, "amqp://") && !strings.HasPrefix(c.StatusAMQPURL, "amqps://") {
		errs = append(errs, errors.New("status AMQP URL must start with amqp:// or amqps://"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("radial sandbox config: %w", err)
	}
	return nil
}
