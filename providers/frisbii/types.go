package frisbii

// Frisbii charge states (charge object, field state).
const (
	stateAuthorized = "authorized"
	stateSettled    = "settled"
	stateFailed     = "failed"
	stateCancelled  = "cancelled"
)

// Error states of a failed transaction.
const (
	errorStateHard       = "hard_declined"
	errorStateSoft       = "soft_declined"
	errorStateProcessing = "processing_error"
)

// Refund states.
const (
	refundRefunded   = "refunded"
	refundFailed     = "failed"
	refundProcessing = "processing"
)

// charge is the part of Frisbii's charge object the client reads. Unknown
// fields are ignored (Frisbii's API is "open for extension").
type charge struct {
	Handle      string `json:"handle"`
	State       string `json:"state"`
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	Transaction string `json:"transaction"`
	Error       string `json:"error"`
	ErrorState  string `json:"error_state"`
	Processing  bool   `json:"processing"`
	// AuthorizedAmount is "the maximum amount that can be settled".
	AuthorizedAmount int64 `json:"authorized_amount"`
	RefundedAmount   int64 `json:"refunded_amount"`
}

// authorized is the most that can be settled: authorized_amount, or the
// amount when Frisbii omits it.
func (c charge) authorized() int64 {
	if c.AuthorizedAmount > 0 {
		return c.AuthorizedAmount
	}
	return c.Amount
}

// settledSoFar is the total settled. Frisbii: amount is the invoice amount
// and "if partial settles are performed amount represents the total settled
// amount"; any settle moves the state to settled ("For multiple settles the
// state is already settled"), so an authorized charge has settled nothing.
func (c charge) settledSoFar() int64 {
	if c.State == stateSettled {
		return c.Amount
	}
	return 0
}

// refund is the part of Frisbii's refund object the client reads.
type refund struct {
	ID              string `json:"id"`
	State           string `json:"state"`
	Invoice         string `json:"invoice"`
	Amount          int64  `json:"amount"`
	Currency        string `json:"currency"`
	Transaction     string `json:"transaction"`
	Error           string `json:"error"`
	ErrorState      string `json:"error_state"`
	AcquirerMessage string `json:"acquirer_message"`
}

// settleBody is the body of POST /v1/charge/{handle}/settle.
type settleBody struct {
	Key               string      `json:"key"`
	Amount            int64       `json:"amount,omitempty"`
	OrderText         string      `json:"ordertext,omitempty"`
	OrderLines        []orderLine `json:"order_lines,omitempty"`
	AcquirerReference *string     `json:"acquirer_reference,omitempty"`
}

// refundBody is the body of POST /v1/refund.
type refundBody struct {
	Invoice           string  `json:"invoice"`
	Key               string  `json:"key"`
	Amount            int64   `json:"amount"`
	Text              string  `json:"text,omitempty"`
	AcquirerReference *string `json:"acquirer_reference,omitempty"`
}

// Refs keys the client records (ConfirmResult.Refs and Outcome.Refs).
const (
	// RefChargeHandle is the charge settled or refunded.
	RefChargeHandle = "frisbii_charge_handle"
	// RefAuthorizedAmount and RefSettledAmount are the charge's authorized
	// and already settled amounts (minor units) when funds were confirmed.
	RefAuthorizedAmount = "frisbii_authorized_amount"
	RefSettledAmount    = "frisbii_settled_amount"
	// RefTransaction is Frisbii's transaction id of the settle or refund.
	RefTransaction = "frisbii_transaction"
	// RefRefundID is the refund's id (polled while processing).
	RefRefundID = "frisbii_refund_id"
	// RefIdempotencyKey is the key sent (the request id).
	RefIdempotencyKey = "frisbii_idempotency_key"
	// RefSettleMode is "order_lines" or "amount": how the settle was sent.
	RefSettleMode = "frisbii_settle_mode"
	// RefKeyFirstUsed is when the idempotency key was first about to be
	// sent (RFC 3339, UTC), recorded durably before the first call:
	// by ConfirmFunds for a debit, by Prepare for a credit. A possible
	// repeat past Config.KeyLifetime is not sent (keyMayBeForgotten).
	RefKeyFirstUsed = "frisbii_key_first_used_at"
	// RefSettledBy is no longer set: error 79 on a retry is Unresolved
	// (hole 4). Kept so that refs recorded by older versions still parse.
	RefSettledBy = "frisbii_settled_by"
)
