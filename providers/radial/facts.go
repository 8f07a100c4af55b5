package radial

import "github.com/settlement-worker/settlement-worker/providers"

var _ providers.Declarer = (*Client)(nil)

// Facts declares what the pipeline needs to keep money safe with radial.
// Radial deduplicates on requestId, so an uncertain attempt is simply submitted again; its verdict arrives on its status queue, awaited at most StatusDeadline.
func (c *Client) Facts() providers.Facts {
	return providers.Facts{
		MoneyHeaders:      nil,
		RequireTenderType: true,
		CallTimeout:       c.cfg.Timeout,
		SettleWindow:      c.cfg.SettleWindow,
		Idempotent:        true,
		StatusDeadline:    c.cfg.StatusDeadline,
	}
}
