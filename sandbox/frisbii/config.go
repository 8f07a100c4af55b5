package frisbii

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
)

// Defaults applied by Config.WithDefaults to zero fields.
const (
	DefaultAPIKey       = "priv_sandbox"
	DefaultMaxBodyBytes = 1 << 20
	// DefaultProcessingRecheck is how long a scripted "processing" refund
	// stays processing when its script gives no ProcessingMS.
	DefaultProcessingRecheck = 500 * time.Millisecond
)

// Config configures a Sandbox. Zero fields take the defaults listed on each
// field; call WithDefaults to see the effective values.
type Config struct {
	// Prefix is the URL path prefix every route is served under, for
	// example "/frisbii" so that one process can host several providers.
	// Empty serves at the root. A trailing slash is ignored.
	Prefix string
	// APIKey is the private API key callers must send as the HTTP basic
	// auth user name (with an empty password). Default "priv_sandbox".
	APIKey string
	// MaxBodyBytes limits request bodies; larger ones get 413. Default 1 MiB.
	MaxBodyBytes int64
	// RandSeed seeds the generator behind FailPerMille; 0 picks a seed from
	// the clock. Set it for reproducible fault patterns.
	RandSeed uint64
	// AllowRemoteAdmin serves the admin API to non-loopback callers too.
	// Default false: only 127.0.0.0/8 and ::1 may use {prefix}/_sandbox/.
	AllowRemoteAdmin bool
	// KeyLifetime is how long an idempotency key is remembered: a settle or
	// refund whose key was first recorded KeyLifetime ago or longer is
	// treated as new (it may move money again), as by a Frisbii that has
	// forgotten the key. Zero (the default) remembers keys for ever. Seed
	// 002 gives no lifetime ("multiple requests with the same key will
	// yield the same result"); this is a fault knob for the case the
	// client cannot rule out, not a claim about Frisbii.
	KeyLifetime time.Duration
	// Now returns the current time (tests may freeze it). Default time.Now.
	Now func() time.Time
	// Logger receives the sandbox's logs (never the API key). The zero
	// Logger discards everything.
	Logger zerolog.Logger
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	c.Prefix = kit.CleanPrefix(c.Prefix)
	if c.APIKey == "" {
		c.APIKey = DefaultAPIKey
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports configuration errors of c after defaults are applied.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	if strings.ContainsAny(c.Prefix, "{} ") || strings.Contains(c.Prefix, "//") {
		errs = append(errs, fmt.Errorf("prefix %q is not a plain path", c.Prefix))
	}
	if strings.ContainsAny(c.APIKey, ": \t\r\n") {
		errs = append(errs, errors.New("API key must not contain ':' or white space (it is a basic auth user name)"))
	}
	if c.MaxBodyBytes < 0 {
		errs = append(errs, errors.New("max body bytes must not be negative"))
	}
	if c.KeyLifetime < 0 {
		errs = append(errs, errors.New("key lifetime must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("frisbii sandbox config: %w", err)
	}
	return nil
}
