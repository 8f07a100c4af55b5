package radial

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
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
	BaseURL string
	// APIKey is sent in the apikey header of every call. Required; never
	// logged nor put in errors.
	APIKey string
	// Version is the API version segment of the URI. Default "v1.0".
	Version string
	// Timeout bounds each HTTP call (connect, send, read). Default 10s.
	Timeout time.Duration
	// SettleWindow is how long after a call was sent the provider may still
	// commit it; an uncertain attempt is reconciled only after it. Default
	// DefaultSettleWindow.
	SettleWindow time.Duration
	// StatusDeadline is how long an acknowledged settlement may wait for
	// its status on Radial's queue before it is parked for a person
	// (0: no deadline).
	StatusDeadline time.Duration
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
		errs = append(errs, fmt.Errorf("BaseURL %q is not an absolute http(s) URL", c.BaseURL))
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
