package radial

import (
	"context"
	"errors"
	"fmt"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
)

// Settle submits req.Message (with whatever ClientContext the pipeline set)
// to Radial's settlement create API. An AckReply with Received means Radial
// received it: the outcome is Accepted and the request must never be
// submitted again with a new requestId; the verdict arrives on Radial's
// status queue.
func (c *Client) Settle(ctx context.Context, req *providers.Request) (providers.Outcome, error) {
	const op = "PaymentSettlement"
	if req == nil || req.Message == nil {
		return providers.Outcome{}, errors.New("radial PaymentSettlement: request has no message")
	}
	endpoint, err := c.endpointURL(req, "settlement/create")
	if err != nil {
		return providers.Outcome{}, err
	}
	body, err := messages.Encode(req.Message)
	if err != nil {
		return providers.Outcome{}, fmt.Errorf("radial PaymentSettlement: %w", err)
	}
	r, err := c.post(ctx, op, endpoint, body)
	if err != nil {
		return providers.Outcome{}, err
	}
	if r.status/100 == 2 {
		// Received is what says Radial took the settlement (seed:
		// <AckReply><Received/></AckReply>); an AckReply without it is no
		// acknowledgement, and the retry sends the same requestId.
		if ack, err := messages.DecodeAckReply(r.body); err == nil && ack.Received != nil {
			return providers.Outcome{Kind: providers.Accepted}, nil
		} else if err == nil {
			return providers.Outcome{}, providers.TransientError("", fmt.Sprintf(
				"radial %s: HTTP %d with an AckReply without Received: not an acknowledgement (retrying with the same requestId is safe)", op, r.status), nil)
		}
	}
	return providers.Outcome{}, failure(op, r, c.cfg.APIKey, account(req.Message))
}
