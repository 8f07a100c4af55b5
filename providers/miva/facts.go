package miva

import (
	"net/http"

	"github.com/settlement-worker/settlement-worker/providers"
)

// Provider registers miva with the worker: its configuration section
// (MIVA_*), its client and its facts.
var Provider = providers.Registration{
	Name:       "miva",
	EnvPrefix:  "MIVA_",
	Summary:    "Miva Merchant JSON API (OrderPaymentList_Load, capture, refund): no idempotency key, reconciled from the payment list.",
	NewSection: func() providers.Section { return new(Config) },
}

var (
	_ providers.Declarer = (*Client)(nil)
	_ providers.Section  = (*Config)(nil)
)

// Facts declares what the pipeline needs to keep money safe with miva.
// Miva has no idempotency key: an uncertain attempt is reconciled from the
// order's payment list once the settle window has passed, and parked if the
// money cannot be found.
func (c Config) Facts() providers.Facts {
	return providers.Facts{
		MoneyHeaders:      []string{HeaderPaymentID},
		RequireTenderType: false,
		CallTimeout:       c.Timeout,
		SettleWindow:      c.SettleWindow,
		Idempotent:        false,
		OneStore:          true,
	}
}

// Facts are the client's configuration's facts.
func (c *Client) Facts() providers.Facts { return c.cfg.Facts() }

// Resolve applies the section's defaults.
func (c *Config) Resolve(providers.Host) { *c = c.WithDefaults() }

// Check reports every problem of the section.
func (c *Config) Check(providers.Host) []error {
	return providers.CheckSection(c.Validate(), c.Timeout, c.SettleWindow)
}

// NewProvider builds the miva client.
func (c *Config) NewProvider(hc *http.Client) (providers.Provider, error) { return New(*c, hc) }
