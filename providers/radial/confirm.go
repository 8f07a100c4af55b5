package radial

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
)

// ReasonFundsNotAvailable starts the Reason of a Fail answer.
const ReasonFundsNotAvailable = "funds not available"

// RefConfirmRequestID is the ConfirmResult.Refs key of the ConfirmFunds
// requestId: the one the last call sent, or, after Radial answered
// Timeout, the new one the next call sends. It is returned with every
// answer and every failure, and the pipeline records it before the retry.
const RefConfirmRequestID = "radial_confirm_request_id"

// ConfirmFunds asks Radial to re-authorize the original authorization amount
// before a debit. Success → Available; Fail → not available (the shipment
// must be withheld); Timeout → transient, retried with a new requestId.
//
// A reauthorization holds the customer's funds again, so the requestId
// follows Radial's rule (seed 003): after a read timeout, a transport
// failure, a fault, a 5xx or any reply that is not an answer, the retry
// sends the same requestId (recorded in RefConfirmRequestID), and Radial
// answers a reauthorization it performed from its record instead of
// performing another; only a Timeout answer earns a new one.
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
	id := req.Refs[RefConfirmRequestID]
	if id == "" {
		// The first confirmation, or a settlement recorded by an earlier
		// version (which took one per attempt).
		id = ConfirmRequestID(req.RequestID, req.Attempt)
	}
	refs := map[string]string{RefConfirmRequestID: id}
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
	// Until Radial answers, the call may have reauthorized: every failure
	// returns refs, so that the retry asks again under the same requestId.
	uncertain := providers.ConfirmResult{Refs: refs}
	r, err := c.post(ctx, op, endpoint, body)
	if err != nil {
		return uncertain, err
	}
	secrets := []string{c.cfg.APIKey, account(req.Message)}
	if r.status != http.StatusOK {
		return uncertain, failure(op, r, secrets...)
	}
	rep, err := messages.DecodeConfirmFundsReply(r.body)
	if err != nil {
		return uncertain, failure(op, r, secrets...)
	}
	if err := rep.Validate(); err != nil {
		return uncertain, providers.TransientError("", redact("radial ConfirmFunds: invalid reply: "+err.Error(), secrets...), nil)
	}
	if other := otherPayment(rep, req); other != "" {
		return uncertain, providers.TransientError("", "radial ConfirmFunds: the reply echoes "+other+
			": it is not this confirmation's answer (asked again under the same requestId)", nil)
	}
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
		// Radial requires a new requestId after Timeout (its record of
		// this one would answer Timeout again): one no attempt has sent.
		next := map[string]string{RefConfirmRequestID: ConfirmRequestID(req.RequestID, req.Attempt+1)}
		return providers.ConfirmResult{Refs: next}, providers.TransientError(messages.FundsTimeout,
			"radial ConfirmFunds: Timeout (the processor did not answer); the next attempt uses a new requestId", nil)
	}
}

// otherPayment says which order a reply echoes when it is not the
// request's ("" when it echoes the request's, or none). Radial echoes the
// payment context it answers; a reply naming another order (a proxy or
// cache mixing replies up) answers another confirmation, whatever it
// says. The account number is not compared: Radial may echo it in
// another form (a token for the number sent), as its statuses may.
func otherPayment(rep *messages.ConfirmFundsReply, req *providers.Request) string {
	if rep.PaymentContext == nil && rep.PaymentContextBase == nil {
		return ""
	}
	order := messages.OrderIDOf(rep.PaymentContext, rep.PaymentContextBase)
	if o, want := strings.TrimSpace(order), strings.TrimSpace(req.OrderID); o != want {
		return fmt.Sprintf("OrderId %q, not this request's %q", providers.Quoted(o), providers.Quoted(want))
	}
	return ""
}
