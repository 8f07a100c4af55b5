package paysafe

import "github.com/settlement-worker/settlement-worker/providers"

var _ providers.Declarer = (*Client)(nil)

// Facts declares what the pipeline needs to keep money safe with paysafe.
// Paysafe deduplicates on merchantRefNum (the requestId, sent with dupCheck):
// an uncertain attempt is looked up by merchantRefNum once the settle window
// has passed, and submitted again with the same merchantRefNum if it is not
// found — a late commit of the first makes Paysafe refuse the second (5031),
// which the client reads as the existing settlement.
func (c *Client) Facts() providers.Facts {
	return providers.Facts{
		MoneyHeaders:      []string{HeaderAuthorizationID, HeaderSettlementID},
		RequireTenderType: false,
		CallTimeout:       c.cfg.Timeout,
		SettleWindow:      c.cfg.SettleWindow,
		Idempotent:        true,
	}
}
