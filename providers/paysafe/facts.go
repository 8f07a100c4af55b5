package paysafe

import "github.com/settlement-worker/settlement-worker/providers"

var _ providers.Declarer = (*Client)(nil)

// Facts declares what the pipeline needs to keep money safe with paysafe.
// Paysafe has no idempotency key: an uncertain attempt is looked up by merchantRefNum once the settle window has passed, and parked if it cannot be found.
func (c *Client) Facts() providers.Facts {
	return providers.Facts{
		MoneyHeaders:      []string{HeaderAuthorizationID, HeaderSettlementID},
		RequireTenderType: false,
		CallTimeout:       c.cfg.Timeout,
		SettleWindow:      c.cfg.SettleWindow,
		Idempotent:        false,
	}
}
