package miva

import "github.com/settlement-worker/settlement-worker/providers"

var _ providers.Declarer = (*Client)(nil)

// Facts declares what the pipeline needs to keep money safe with miva.
// Miva has no idempotency key: an uncertain attempt is reconciled from the order's payment list once the settle window has passed, and parked if the money cannot be found.
func (c *Client) Facts() providers.Facts {
	return providers.Facts{
		MoneyHeaders:      []string{HeaderPaymentID},
		RequireTenderType: false,
		CallTimeout:       c.cfg.Timeout,
		SettleWindow:      c.cfg.SettleWindow,
		Idempotent:        false,
	}
}
