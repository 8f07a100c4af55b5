package frisbii

import "encoding/json"

// Charge states (Frisbii's charge object, field state).
const (
	StateCreated    = "created"
	StateAuthorized = "authorized"
	StateSettled    = "settled"
	StateFailed     = "failed"
	StateCancelled  = "cancelled"
	StatePending    = "pending"
)

// Error states of a failed transaction (charge and refund field
// error_state). Frisbii: "A soft decline is possibly recoverable and a
// subsequent request with the same card may succeed. E.g. insufficient
// funds. A processing error indicates an error processing the card either at
// Reepay, the acquirer, or between Reepay and the acquirer."
const (
	ErrorStateHardDeclined    = "hard_declined"
	ErrorStateSoftDeclined    = "soft_declined"
	ErrorStateProcessingError = "processing_error"
)

// Refund states (Frisbii's refund object, field state). processing is only
// returned for asynchronous payment methods.
const (
	RefundRefunded   = "refunded"
	RefundFailed     = "failed"
	RefundProcessing = "processing"
)

// Charge is Frisbii's charge object as the sandbox returns it. Amounts are
// integer minor units. Per Frisbii's documentation, amount is the invoice
// amount, and "if partial settles are performed amount represents the total
// settled amount"; authorized_amount is "the maximum amount that can be
// settled". Unknown fields are never relied upon by clients (Frisbii: "open
// for extension").
type Charge struct {
	Handle           string      `json:"handle"`
	State            string      `json:"state"`
	Customer         string      `json:"customer"`
	Amount           int64       `json:"amount"`
	Currency         string      `json:"currency"`
	Authorized       string      `json:"authorized,omitempty"`
	Settled          string      `json:"settled,omitempty"`
	Cancelled        string      `json:"cancelled,omitempty"`
	Created          string      `json:"created"`
	Transaction      string      `json:"transaction,omitempty"`
	Error            string      `json:"error,omitempty"`
	ErrorState       string      `json:"error_state,omitempty"`
	Processing       bool        `json:"processing"`
	Source           ChargeSrc   `json:"source"`
	OrderLines       []OrderLine `json:"order_lines"`
	RefundedAmount   int64       `json:"refunded_amount"`
	AuthorizedAmount int64       `json:"authorized_amount,omitempty"`
}

// ChargeSrc is the charge's source. The sandbox never holds card data: it
// only says the source type.
type ChargeSrc struct {
	Type string `json:"type"`
}

// OrderLine is an order line of a charge (a subset of Frisbii's fields).
// Amount is the line total including VAT; UnitAmount the per-quantity
// amount including VAT.
type OrderLine struct {
	ID                   string      `json:"id"`
	OrderText            string      `json:"ordertext"`
	Amount               int64       `json:"amount"`
	Vat                  json.Number `json:"vat"`
	Quantity             int64       `json:"quantity"`
	Origin               string      `json:"origin"`
	Timestamp            string      `json:"timestamp"`
	UnitAmount           int64       `json:"unit_amount"`
	AmountDefinedInclVat bool        `json:"amount_defined_incl_vat"`
}

// CreateOrderLine is an order line in a settle request: ordertext and the
// per-quantity amount are required; quantity defaults to 1 and
// amount_incl_vat to true.
type CreateOrderLine struct {
	OrderText     string       `json:"ordertext"`
	Amount        *json.Number `json:"amount"`
	Vat           *json.Number `json:"vat,omitempty"`
	Quantity      *json.Number `json:"quantity,omitempty"`
	AmountInclVat *bool        `json:"amount_incl_vat,omitempty"`
}

// SettleRequest is the body of POST /v1/charge/{handle}/settle (seed
// 002: key, amount, ordertext, order_lines, acquirer_reference,
// manual_settle). Numbers are kept as json.Number so that a fraction or an
// out-of-range value is refused instead of being rounded.
type SettleRequest struct {
	Key               string            `json:"key,omitempty"`
	Amount            *json.Number      `json:"amount,omitempty"`
	OrderText         string            `json:"ordertext,omitempty"`
	OrderLines        []CreateOrderLine `json:"order_lines,omitempty"`
	AcquirerReference *string           `json:"acquirer_reference,omitempty"`
	ManualSettle      json.RawMessage   `json:"manual_settle,omitempty"`
}

// CreateRefund is the body of POST /v1/refund: invoice (the charge handle),
// an optional idempotency key, an optional amount (default: everything
// refundable) and text for the credit note.
type CreateRefund struct {
	Invoice           string       `json:"invoice"`
	Key               string       `json:"key,omitempty"`
	Amount            *json.Number `json:"amount,omitempty"`
	Text              string       `json:"text,omitempty"`
	AcquirerReference *string      `json:"acquirer_reference,omitempty"`
}

// Refund is Frisbii's refund object.
type Refund struct {
	ID              string `json:"id"`
	State           string `json:"state"`
	Invoice         string `json:"invoice"`
	Amount          int64  `json:"amount"`
	Currency        string `json:"currency"`
	Transaction     string `json:"transaction"`
	Error           string `json:"error,omitempty"`
	Type            string `json:"type"`
	Created         string `json:"created"`
	CreditNoteID    string `json:"credit_note_id,omitempty"`
	RefTransaction  string `json:"ref_transaction,omitempty"`
	ErrorState      string `json:"error_state,omitempty"`
	AcquirerMessage string `json:"acquirer_message,omitempty"`
}

// ErrorBody is Frisbii's error answer, for example
//
//	{"code":79,"error":"Invoice already settled","path":"/v1/charge/o-1/settle",
//	 "timestamp":"2025-08-04T12:46:01.853+00:00","http_status":400,
//	 "http_reason":"Bad Request","request_id":"…"}
//
// (shape from Frisbii's "Feature Restrictions" reference page). Message, when
// present, gives details.
type ErrorBody struct {
	Code       int    `json:"code"`
	Error      string `json:"error"`
	Message    string `json:"message,omitempty"`
	Path       string `json:"path"`
	Timestamp  string `json:"timestamp"`
	HTTPStatus int    `json:"http_status"`
	HTTPReason string `json:"http_reason"`
	RequestID  string `json:"request_id"`
}
