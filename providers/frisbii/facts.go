package frisbii

import (
	"net/http"

	"github.com/settlement-worker/settlement-worker/providers"
)

// Provider registers frisbii with the worker: its configuration section
// (FRISBII_*), its client and its facts.
var Provider = providers.Registration{
	Name:       "frisbii",
	EnvPrefix:  "FRISBII_",
	Summary:    "Frisbii (Reepay): charge settle and refund, deduplicated on an idempotency key.",
	NewSection: func() providers.Section { return new(Config) },
}

var (
	_ providers.Declarer = (*Client)(nil)
	_ providers.Section  = (*Config)(nil)
)

// Facts declares what the pipeline needs to keep money safe with frisbii.
// Frisbii deduplicates on the idempotency key (the requestId), so an
// uncertain attempt is repeated with the same key after the settle window.
func (c Config) Facts() providers.Facts {
	return providers.Facts{
		MoneyHeaders:      []string{HeaderChargeHandle, HeaderAcquirerReference},
		RequireTenderType: false,
		CallTimeout:       c.Timeout,
		SettleWindow:      c.SettleWindow,
		Idempotent:        true,
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

// NewProvider builds the frisbii client.
func (c *Config) NewProvider(hc *http.Client) (providers.Provider, error) { return New(*c, hc) }
