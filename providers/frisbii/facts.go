package frisbii

import "github.com/settlement-worker/settlement-worker/providers"

var _ providers.Declarer = (*Client)(nil)

// Facts declares what the pipeline needs to keep money safe with frisbii.
// Frisbii deduplicates on the idempotency key (the requestId), so an uncertain attempt is repeated with the same key after the settle window.
func (c *Client) Facts() providers.Facts {
	return providers.Facts{
		MoneyHeaders:      []string{HeaderChargeHandle, HeaderAcquirerReference},
		RequireTenderType: false,
		CallTimeout:       c.cfg.Timeout,
		SettleWindow:      c.cfg.SettleWindow,
		Idempotent:        true,
	}
}
