package radial

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
)

// ReasonFundsNotAvailable starts the Reason of a Fail answer.
const ReasonFundsNotAvailable = "funds not available"

// RefConfirmRequestID is the ConfirmResult.Refs key of the ConfirmFunds
// requestId used.
const RefConfirmRequestID = "radial_confirm_request_id"

// ConfirmFunds asks Radial to re-authorize the original authorization amount
// before a debit. Success → Available; Fail → not available (the shipment
// must be withheld); Timeout → transient, retried with a new requestId on
// the next attempt.
func (c *Client) ConfirmFunds(ctx context.Context, req *providers.Request) (providers.ConfirmResult, error) {
	const op = "ConfirmFunds"
	if req == nil || req.Message == nil {
		return providers.ConfirmResult{}, errors.New("radial ConfirmFunds: request has no message")
	}
	endpoint, err := c.endpointURL(req, "funds/confirm")
	if err != nil {
		return providers.ConfirmResult{}, err
	}
	amount := req.AuthorizationAmount
	if amount.Currency == "" {
		amount = req.Amount
	}
	id := ConfirmRequestID(req.RequestID, req.Attempt)
	cf := &messages.ConfirmFundsRequest{
		RequestID:              id,
		PaymentContext:         req.Message.PaymentContext,
		PaymentContextBase:     req.Message.PaymentContextBase,
		Amount:                 messages.Amount{CurrencyCode: amount.Currency, Value: amount.String()},
		PerformReauthorization: true,
	}
	// A request Radial's schema refuses (an original authorization amount
	// with a third decimal: 10.005 KWD is whole minor units, but the wire
	// format carries two) would only earn a validation Fault on every
	// attempt: it is refused before the call, naming the problem.
	if err := cf.Validate(); err != nil {
		return providers.ConfirmResult{}, providers.PermanentError("", redact("radial ConfirmFunds: the funds confirmation cannot be sent to Radial: "+err.Error(), c.cfg.APIKey, account(req.Message)), nil)
	}
	body, err := messages.Encode(cf)
	if err != nil {
		return providers.ConfirmResult{}, fmt.Errorf("radial ConfirmFunds: %w", err)
	}
	r, err := c.post(ctx, op, endpoint, body)
	if err != nil {
		return providers.ConfirmResult{}, err
	}
	secrets := []string{c.cfg.APIKey, account(req.Message)}
	if r.status != http.StatusOK {
		return providers.ConfirmResult{}, failure(op, r, secrets...)
	}
	rep, err := messages.DecodeConfirmFundsReply(r.body)
	if err != nil {
		return providers.ConfirmResult{}, failure(op, r, secrets...)
	}
	if err := rep.Validate(); err != nil {
		return providers.ConfirmResult{}, providers.TransientError("", redact("radial ConfirmFunds: invalid reply: "+err.Error(), secrets...), nil)
	}
	refs := map[string]string{RefConfirmRequestID: id}
	switch rep.FundsAvailable {
	case messages.FundsSuccess:
		return providers.ConfirmResult{Available: true, Refs: refs}, nil
	case messages.FundsFail:
		reason := ReasonFundsNotAvailable
		if rep.ReauthorizationAttempted != "" {
			reason += " (reauthorization attempted: " + rep.ReauthorizationAttempted + ")"
		}
		return providers.ConfirmResult{Available: false, Reason: reason, Refs: refs}, nil
	default: // Timeout
		return providers.ConfirmResult{}, providers.TransientError(messages.FundsTimeout,
			"radial ConfirmFunds: Timeout (the processor did not answer); the next attempt uses a new requestId", nil)
	}
}
