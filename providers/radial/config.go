package radial

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
)

// Defaults applied by Config.WithDefaults.
const (
	DefaultVersion = "v1.0"
	DefaultTimeout = 10 * time.Second
	// DefaultSettleWindow is the settle window when Config.SettleWindow is
	// zero (at least twice the timeout).
	DefaultSettleWindow = time.Minute
)

var versionRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+$`)

// Config configures the Radial client.
type Config struct {
	// BaseURL is the Radial API root, before /v{M.m}/stores/...: for example
	// https://api.radial.example or, against the sandbox,
	// http://127.0.0.1:8081/radial. Required.
	BaseURL string `env:"BASE_URL" help:"Radial API base URL (required when radial is enabled)."`
	// APIKey is sent in the apikey header of every call. Required; never
	// logged nor put in errors.
	APIKey string `env:"API_KEY" help:"Radial API key, sent as the apikey header (never logged)."`
	// Version is the API version segment of the URI. Default "v1.0".
	Version string `env:"API_VERSION" envDefault:"v1.0" help:"Radial API version in the URI."`
	// Timeout bounds each HTTP call (connect, send, read). Default 10s.
	Timeout time.Duration `env:"TIMEOUT" envDefault:"10s" help:"Timeout of each Radial HTTP call."`
	// SettleWindow is how long after a call was sent the provider may still
	// commit it; an uncertain attempt is reconciled only after it. Default
	// DefaultSettleWindow.
	SettleWindow time.Duration `env:"SETTLE_WINDOW" envDefault:"1m" help:"How long Radial may take to commit a call; an attempt whose outcome is unknown is reconciled only after this (at least TIMEOUT; longer than the provider takes to commit)."`
	// StatusDeadline is how long an acknowledged settlement may wait for
	// its status on Radial's queue before it is parked for a person
	// (0: no deadline).
	StatusDeadline time.Duration `env:"STATUS_DEADLINE" envDefault:"24h" help:"Park a settlement Radial acknowledged but sent no status for after this long (0: never)."`

	// AMQPURL is the broker holding Radial's status queue (may be Radial's
	// own); Resolve defaults it to the worker's. Not used by the client.
	AMQPURL string `env:"AMQP_URL" help:"Broker with Radial's status queue (default: AMQP_URL)."`
	// StatusQueue is Radial's status queue, consumed passively. Not used
	// by the client.
	StatusQueue string `env:"STATUS_QUEUE" help:"Radial's status queue (default q.Payments.Settlements.Status.<user of RADIAL_AMQP_URL> when RADIAL_AMQP_URL is Radial's own broker or vhost; required on ours, and never one of our own queues)."`
	// StatusConcurrency is how many Radial statuses are handled at once
	// (statuses of one order always one at a time, in queue order). A
	// status handler holds its consumer for the order lock, a store commit
	// and the publish of our event with its confirm; below CONCURRENCY
	// the statuses become the stage settlements queue before.
	// StatusRetryRuns and StatusRetryFor are the retry budget of a status
	// whose every run fails while the store answers (a store that refuses
	// its transition, a bug): it is parked with its last error once it
	// failed StatusRetryRuns runs, or at least twice over StatusRetryFor
	// since its first failure. Runs held through a store outage, and the
	// time held, are not counted (STORE_OUTAGE_HOLD bounds those).
	StatusRetryRuns   int           `env:"STATUS_RETRY_RUNS" envDefault:"40" help:"Park a Radial status whose every run fails while the store answers (a refused transition, a bug) after this many failed runs; runs held through a store outage (STORE_OUTAGE_HOLD) are not counted. At least 1."`
	StatusRetryFor    time.Duration `env:"STATUS_RETRY_FOR" envDefault:"10m" help:"Park such a status also once it has failed at least twice over this long since its first failure, the time held through a store outage not counted; whichever of RADIAL_STATUS_RETRY_RUNS and this comes first. Positive."`
	StatusConcurrency int           `env:"STATUS_CONCURRENCY" envDefault:"16" help:"Radial statuses handled at once; those of one order one at a time, in queue order (an S before its chargeback R). Each settlement yields one status: with SQLite size it as CONCURRENCY (more writers share each commit); with PostgreSQL the server's cores bound it (docs/benchmark.md)."`
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.BaseURL = strings.TrimRight(strings.TrimSpace(c.BaseURL), "/")
	if c.Version == "" {
		c.Version = DefaultVersion
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.SettleWindow == 0 {
		c.SettleWindow = max(DefaultSettleWindow, 2*c.Timeout)
	}
	return c
}

// Validate reports what is wrong with c once defaults are applied.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	u, err := url.Parse(c.BaseURL)
	switch {
	case c.BaseURL == "":
		errs = append(errs, errors.New("BaseURL is required"))
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		errs = append(errs, fmt.Errorf("BaseURL %q is not an absolute http(s) URL", providers.RedactURL(c.BaseURL)))
	case u.RawQuery != "" || u.Fragment != "":
		errs = append(errs, errors.New("BaseURL must not have a query or fragment"))
	}
	if c.APIKey == "" {
		errs = append(errs, errors.New("APIKey is required"))
	}
	if !versionRE.MatchString(c.Version) {
		errs = append(errs, fmt.Errorf("Version %q must look like v1.0", c.Version))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("Timeout must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("radial config: %w", err)
	}
	return nil
}
