package frisbii

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
)

// Defaults applied by Config.WithDefaults.
const (
	DefaultTimeout = 10 * time.Second
	// DefaultSettleWindow is the settle window when Config.SettleWindow is
	// zero (at least twice the timeout).
	DefaultSettleWindow = time.Minute
	// DefaultRefundRecheck is how long after a refund answered "processing"
	// (asynchronous payment methods only) the pipeline polls it again.
	DefaultRefundRecheck = 30 * time.Second
	// DefaultKeyLifetime is Config.KeyLifetime when it is zero. Frisbii
	// publishes no lifetime of its idempotency keys (seed 002 says only
	// that "multiple requests with the same key will yield the same
	// result"); 24 hours is the shortest lifetime common among payment
	// APIs, an assumption to be replaced by Frisbii's own figure.
	DefaultKeyLifetime = 24 * time.Hour
)

// Config configures the Frisbii client. The lead wires each field from an
// environment variable: FRISBII_BASE_URL, FRISBII_API_KEY, FRISBII_TIMEOUT,
// FRISBII_REFUND_RECHECK.
type Config struct {
	// BaseURL is the API root before /v1/...: https://api.frisbii.com (or
	// Reepay's https://api.reepay.com) or, against the sandbox,
	// http://127.0.0.1:8081/frisbii. Required.
	BaseURL string `env:"BASE_URL" help:"Frisbii API base URL (required when frisbii is enabled)."`
	// APIKey is the private API key (priv_…), sent as the HTTP basic auth
	// user name with an empty password. Required; never logged nor put in
	// errors.
	APIKey string `env:"API_KEY" help:"Frisbii private API key (basic auth; never logged)."`
	// Timeout bounds each HTTP call (connect, send, read). Default 10s.
	Timeout time.Duration `env:"TIMEOUT" envDefault:"10s" help:"Timeout of each Frisbii HTTP call."`
	// SettleWindow is how long after a call was sent the provider may still
	// commit it; an uncertain attempt is reconciled only after it. Default
	// DefaultSettleWindow.
	SettleWindow time.Duration `env:"SETTLE_WINDOW" envDefault:"1m" help:"How long Frisbii may take to commit a call; an attempt whose outcome is unknown is reconciled only after this (at least TIMEOUT; longer than the provider takes to commit)."`
	// RefundRecheck is the delay before polling a refund Frisbii answered
	// "processing". Default 30s.
	RefundRecheck time.Duration `env:"REFUND_RECHECK" envDefault:"30s" help:"Delay before re-checking a refund still processing."`
	// KeyLifetime is how long Frisbii is trusted to remember an idempotency
	// key. A settle or refund that may repeat a call whose key was first
	// used KeyLifetime ago or longer is not sent (Frisbii, no longer
	// holding the key, would take it for a new call: a second capture or
	// refund, or a refusal although the first call moved the money): it is
	// parked for a person. Default DefaultKeyLifetime; it must exceed
	// SettleWindow.
	KeyLifetime time.Duration `env:"KEY_LIFETIME" envDefault:"24h" help:"How long Frisbii is trusted to remember an idempotency key: a settle or refund that may repeat a call whose key was first sent longer ago is not sent but parked for a person (Frisbii publishes no lifetime; set it below Frisbii's)."`
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.BaseURL = strings.TrimRight(strings.TrimSpace(c.BaseURL), "/")
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.SettleWindow == 0 {
		c.SettleWindow = max(DefaultSettleWindow, 2*c.Timeout)
	}
	if c.RefundRecheck == 0 {
		c.RefundRecheck = DefaultRefundRecheck
	}
	if c.KeyLifetime == 0 {
		c.KeyLifetime = DefaultKeyLifetime
	}
	return c
}

// Validate reports what is wrong with c once defaults are applied. It never
// quotes the API key.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	u, err := url.Parse(c.BaseURL)
	switch {
	case c.BaseURL == "":
		errs = append(errs, errors.New("BaseURL is required"))
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		errs = append(errs, fmt.Errorf("BaseURL %q is not an absolute http(s) URL", providers.RedactURL(c.BaseURL)))
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		errs = append(errs, errors.New("BaseURL must not have a query, fragment or user info"))
	}
	switch {
	case c.APIKey == "":
		errs = append(errs, errors.New("APIKey is required"))
	case strings.ContainsAny(c.APIKey, ": \t\r\n"):
		errs = append(errs, errors.New("APIKey must not contain ':' or white space"))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("Timeout must be positive"))
	}
	if c.RefundRecheck < 0 {
		errs = append(errs, errors.New("RefundRecheck must be positive"))
	}
	if c.KeyLifetime <= c.SettleWindow {
		errs = append(errs, fmt.Errorf("KeyLifetime (%s) must exceed SettleWindow (%s): every repeat would be parked", c.KeyLifetime, c.SettleWindow))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("frisbii config: %w", err)
	}
	return nil
}
