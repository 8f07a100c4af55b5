package miva

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/settlement-worker/settlement-worker/money"
	"github.com/settlement-worker/settlement-worker/providers"
)

// DefaultTimeout bounds each HTTP call when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// DefaultCurrency is the store's currency when Config.Currency is empty.
const DefaultCurrency = "USD"

// DefaultSettleWindow is the settle window when Config.SettleWindow is
// zero (at least twice the timeout).
const DefaultSettleWindow = time.Minute

// Config configures the Miva client. Its String method masks the secrets,
// so a Config can be logged.
type Config struct {
	// BaseURL is the store's JSON API URL, json.mvc included: for example
	// https://www.example.com/mm5/json.mvc or, against the sandbox,
	// http://127.0.0.1:8081/miva/mm5/json.mvc. Required.
	BaseURL string `env:"BASE_URL" help:"Miva JSON API URL, .../mm5/json.mvc (required when miva is enabled)."`
	// StoreCode is sent as Store_code in every call. Required.
	StoreCode string `env:"STORE_CODE" help:"Miva store code."`
	// APIToken is the API access token (Miva admin: Users > API Tokens),
	// sent in X-Miva-API-Authorization. Required; never logged nor put in
	// errors.
	APIToken string `env:"API_TOKEN" help:"Miva API access token (never logged)."`
	// SigningKey is the token's base64 HMAC signing key. When set, every
	// call is signed "MIVA-HMAC-SHA256 <token>:<signature>"; when empty
	// the header is "MIVA <token>". Never logged nor put in errors.
	SigningKey string `env:"SIGNING_KEY" help:"Optional Miva HMAC-SHA256 signing key (never logged)."`
	// Currency is the store's currency (ISO 4217). Miva's API carries no
	// currency: every amount is in the store's, so a settlement in another
	// currency is refused before any call (a JPY 700 would otherwise
	// capture 700.00 in the store's currency). Default USD.
	Currency string `env:"CURRENCY" envDefault:"USD" help:"The Miva store's currency (ISO 4217): Miva's API has no currency field, so settlements in another currency are refused before any call."`
	// Timeout bounds each HTTP call (connect, send, read). Default 10s.
	Timeout time.Duration `env:"TIMEOUT" envDefault:"10s" help:"Timeout of each Miva HTTP call."`
	// SettleWindow is how long after a call was sent the provider may still
	// commit it; an uncertain attempt is reconciled only after it. Default
	// DefaultSettleWindow.
	SettleWindow time.Duration `env:"SETTLE_WINDOW" envDefault:"1m" help:"How long Miva may take to commit a call; an attempt whose outcome is unknown is reconciled only after this (at least TIMEOUT; longer than the provider takes to commit)."`
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.BaseURL = strings.TrimSpace(c.BaseURL)
	c.StoreCode = strings.TrimSpace(c.StoreCode)
	c.SigningKey = strings.TrimSpace(c.SigningKey)
	c.Currency = strings.ToUpper(strings.TrimSpace(c.Currency))
	if c.Currency == "" {
		c.Currency = DefaultCurrency
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.SettleWindow == 0 {
		c.SettleWindow = max(DefaultSettleWindow, 2*c.Timeout)
	}
	return c
}

// Validate reports what is wrong with c once defaults are applied. Its
// messages never contain the token or the signing key.
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
	if c.StoreCode == "" {
		errs = append(errs, errors.New("StoreCode is required"))
	}
	switch {
	case c.APIToken == "":
		errs = append(errs, errors.New("APIToken is required"))
	case strings.ContainsAny(c.APIToken, " :\t\r\n"):
		errs = append(errs, errors.New("APIToken must not contain white space or ':'"))
	}
	if c.SigningKey != "" {
		if k, err := base64.StdEncoding.DecodeString(c.SigningKey); err != nil || len(k) == 0 {
			errs = append(errs, errors.New("SigningKey must be the base64 key Miva shows for the token"))
		}
	}
	if !money.ValidCurrency(c.Currency) {
		errs = append(errs, fmt.Errorf("Currency %q is not an ISO 4217 code", c.Currency))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("Timeout must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("miva config: %w", err)
	}
	return nil
}

// String describes c with the token and signing key masked.
func (c Config) String() string {
	mask := func(s string) string {
		if s == "" {
			return `""`
		}
		return "****"
	}
	return fmt.Sprintf("miva.Config{BaseURL:%q, StoreCode:%q, APIToken:%s, SigningKey:%s, Currency:%q, Timeout:%s}",
		providers.RedactURL(c.BaseURL), c.StoreCode, mask(c.APIToken), mask(c.SigningKey), c.Currency, c.Timeout)
}

// GoString is String, so that %#v masks the secrets too.
func (c Config) GoString() string { return c.String() }
