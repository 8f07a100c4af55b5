package paysafe

import (
	"net/http"

	"github.com/settlement-worker/settlement-worker/providers"
)

// Provider registers paysafe with the worker: its configuration section
// (PAYSAFE_*), its client and its facts.
var Provider = providers.Registration{
	Name:       "paysafe",
	EnvPrefix:  "PAYSAFE_",
	Summary:    "Paysafe Card Payments: settlements and refunds of an authorization; pending until Paysafe batches, deduplicated on merchantRefNum.",
	NewSection: func() providers.Section { return new(Config) },
}

var (
	_ providers.Declarer = (*Client)(nil)
	_ providers.Section  = (*Config)(nil)
)

// Facts declares what the pipeline needs to keep money safe with paysafe.
// Paysafe deduplicates on merchantRefNum (the requestId, sent with dupCheck):
// an uncertain attempt (a timeout, a lost reply, a 5xx including 503) is
// looked up by merchantRefNum once the settle window has passed, and
// submitted again with the same merchantRefNum if it is not found. Seed
// 001 does not say whether Paysafe checks the merchantRefNum when a call
// arrives or when it commits: only a commit within the settle window is
// sure to be seen (a later one makes Paysafe refuse the repeat with 5031,
// read as the existing settlement, only when it checks at commit), so the
// window must exceed the time Paysafe may take to commit.
func (c Config) Facts() providers.Facts {
	return providers.Facts{
		MoneyHeaders:      []string{HeaderAuthorizationID, HeaderSettlementID},
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

// NewProvider builds the paysafe client.
func (c *Config) NewProvider(hc *http.Client) (providers.Provider, error) { return New(*c, hc) }
