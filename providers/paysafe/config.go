package paysafe

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/settlement-worker/settlement-worker/money"
)

// Defaults applied by Config.WithDefaults.
const (
	DefaultTimeout = 10 * time.Second
	// DefaultSettleWindow is the settle window when Config.SettleWindow is
	// zero (at least twice the timeout).
	DefaultSettleWindow = time.Minute
	DefaultRecheckAfter = 30 * time.Second
)

// Config configures the Paysafe client.
type Config struct {
	// BaseURL is the API root, before /cardpayments/v1/...: for example
	// https://api.paysafe.com, https://api.test.paysafe.com or, against the
	// sandbox, http://127.0.0.1:8081/paysafe. Required.
	BaseURL string `env:"BASE_URL" help:"Paysafe API base URL (required when paysafe is enabled)."`
	// Username and Password are the Paysafe API key's user name and
	// password, sent with HTTP basic authentication. Required; never logged
	// nor put in errors.
	Username string `env:"USERNAME" help:"Paysafe API key user name (basic auth)."`
	Password string `env:"PASSWORD" help:"Paysafe API key password (basic auth; never logged)."`
	// Accounts maps a store id (the request's store_id header) to the
	// Paysafe merchant account number its card payments use. At least one
	// entry is required.
	Accounts map[string]string `env:"ACCOUNTS" help:"Paysafe account per store: STORE:ACCOUNT,STORE2:ACCOUNT2. A request for a store not named here is parked (nothing sent), to be replayed once its account is set; it is never refused."`
	// Currencies optionally maps a Paysafe account number to its currency
	// (ISO 4217). Paysafe accounts settle in one currency and settlement
	// requests carry no currency, so a request in another currency would
	// be misread by a factor of ten or more: when the account's currency is
	// known here, such a request is refused before any call. Paysafe's
	// settlement has no currency: a credit on an account not named here is
	// checked only when it names its authorization (checkRefundCurrency).
	Currencies map[string]string `env:"CURRENCIES" help:"Currency per Paysafe account: ACCOUNT:USD,... Optional, but the only currency check of a credit that names no authorization (Paysafe's settlements carry no currency)."`
	// Timeout bounds each HTTP call (connect, send, read). Default 10s.
	Timeout time.Duration `env:"TIMEOUT" envDefault:"10s" help:"Timeout of each Paysafe HTTP call."`
	// SettleWindow is how long after a call was sent the provider may still
	// commit it; an uncertain attempt is reconciled only after it. Default
	// DefaultSettleWindow.
	SettleWindow time.Duration `env:"SETTLE_WINDOW" envDefault:"1m" help:"How long Paysafe may take to commit a call; an attempt whose outcome is unknown is reconciled only after this (at least TIMEOUT; longer than the provider takes to commit)."`
	// RecheckAfter is the delay before re-checking a settlement or refund
	// that Paysafe has not batched yet (Outcome.RecheckAfter of Pending).
	// Default 30s; the pipeline owns the overall deadline.
	RecheckAfter time.Duration `env:"RECHECK_AFTER" envDefault:"30s" help:"Delay before re-checking a PENDING settlement (rounded up to a RETRY_DELAYS queue)."`
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
	if c.RecheckAfter == 0 {
		c.RecheckAfter = DefaultRecheckAfter
	}
	return c
}

// Validate reports what is wrong with c once defaults are applied. Errors
// never contain the credentials.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	u, err := url.Parse(c.BaseURL)
	switch {
	case c.BaseURL == "":
		errs = append(errs, errors.New("BaseURL is required"))
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		errs = append(errs, errors.New("BaseURL is not an absolute http(s) URL"))
	case u.User != nil:
		errs = append(errs, errors.New("BaseURL must not carry credentials; use Username and Password"))
	case u.RawQuery != "" || u.Fragment != "":
		errs = append(errs, errors.New("BaseURL must not have a query or fragment"))
	}
	if c.Username == "" || c.Password == "" {
		errs = append(errs, errors.New("Username and Password (the Paysafe API key) are required"))
	}
	if strings.Contains(c.Username, ":") {
		errs = append(errs, errors.New("Username must not contain ':'"))
	}
	if len(c.Accounts) == 0 {
		errs = append(errs, errors.New("Accounts needs at least one store id → Paysafe account number"))
	}
	for _, store := range sortedKeys(c.Accounts) {
		if strings.TrimSpace(store) == "" || strings.TrimSpace(c.Accounts[store]) == "" || strings.ContainsAny(c.Accounts[store], "/?#") {
			errs = append(errs, fmt.Errorf("Accounts[%q] = %q is not a store id and an account number", store, c.Accounts[store]))
		}
	}
	for _, acct := range sortedKeys(c.Currencies) {
		if !money.ValidCurrency(c.Currencies[acct]) {
			errs = append(errs, fmt.Errorf("Currencies[%q] = %q is not an ISO 4217 code", acct, c.Currencies[acct]))
		}
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("Timeout must be positive"))
	}
	if c.RecheckAfter < 0 {
		errs = append(errs, errors.New("RecheckAfter must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("paysafe config: %w", err)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
