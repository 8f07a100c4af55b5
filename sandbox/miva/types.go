package miva

import (
	"time"
)

// Payment record types: OrderPaymentList_Load "type" (seed document).
const (
	TypeDeclined      = 0
	TypeLegacyAuth    = 1
	TypeLegacyCapture = 2
	TypeAuth          = 3
	TypeCapture       = 4
	TypeAuthCapture   = 5
	TypeRefund        = 6
	TypeVoid          = 7
)

// TypeName returns a short English name of a payment record type.
func TypeName(t int) string {
	switch t {
	case TypeDeclined:
		return "declined"
	case TypeLegacyAuth:
		return "legacy authorization"
	case TypeLegacyCapture:
		return "legacy capture"
	case TypeAuth:
		return "authorization"
	case TypeCapture:
		return "capture"
	case TypeAuthCapture:
		return "authorization + capture"
	case TypeRefund:
		return "refund"
	case TypeVoid:
		return "void"
	}
	return "unknown"
}

// isAuth reports whether records of type t can be captured or voided.
func isAuth(t int) bool { return t == TypeLegacyAuth || t == TypeAuth || t == TypeAuthCapture }

// isCapture reports whether records of type t can be refunded.
func isCapture(t int) bool {
	return t == TypeLegacyCapture || t == TypeCapture || t == TypeAuthCapture
}

// JSON API function names the sandbox serves.
const (
	FunctionPaymentList = "OrderPaymentList_Load"
	FunctionCapture     = "OrderPayment_Capture"
	FunctionRefund      = "OrderPayment_Refund"
	FunctionVoid        = "OrderPayment_VOID"
)

// AuthorizationHeader is the header carrying the API token (and signature).
const AuthorizationHeader = "X-Miva-API-Authorization"

// Error codes the sandbox answers in {"success":0,"error_code":...}. Miva's
// public documentation defines the envelope but no code catalogue: these
// codes are the project's (see the client's ErrorClasses).
const (
	// CodeAccessDenied: missing or unknown API token.
	CodeAccessDenied = "access_denied"
	// CodeInvalidSignature: HMAC signature missing, malformed or wrong.
	CodeInvalidSignature = "invalid_signature"
	// CodeInvalidTimestamp: Miva_Request_Timestamp missing or outside the window.
	CodeInvalidTimestamp = "invalid_timestamp"
	// CodeInvalidStore: Store_code missing or not this store.
	CodeInvalidStore = "invalid_store"
	// CodeInvalidFunction: Function missing or not served.
	CodeInvalidFunction = "invalid_function"
	// CodeInvalidRequest: the body is not a JSON object.
	CodeInvalidRequest = "invalid_request"
	// CodeMissingParameter: a required parameter is absent.
	CodeMissingParameter = "missing_parameter"
	// CodeInvalidParameter: a parameter has the wrong type or value (for
	// example an Amount with more decimals than the currency allows).
	CodeInvalidParameter = "invalid_parameter"
	// CodeOrderNotFound: no order with that Order_ID.
	CodeOrderNotFound = "order_not_found"
	// CodePaymentNotFound: no payment record with that OrderPayment_ID.
	CodePaymentNotFound = "payment_not_found"
	// CodeInvalidPaymentType: the record's type does not allow the function
	// (capturing a refund, refunding an authorization, ...).
	CodeInvalidPaymentType = "invalid_payment_type"
	// CodeAmountExceedsAvailable: capture or void beyond available.
	CodeAmountExceedsAvailable = "amount_exceeds_available"
	// CodeAmountExceedsRefundable: refund beyond captured less refunded.
	CodeAmountExceedsRefundable = "amount_exceeds_refundable"
	// CodeAuthorizationExpired: the authorization's expires date is past.
	CodeAuthorizationExpired = "authorization_expired"
	// CodePaymentDeclined: the payment gateway declined (scripted).
	CodePaymentDeclined = "payment_declined"
	// CodeProcessorUnavailable: the payment gateway could not be reached
	// (the default of the error_next fault).
	CodeProcessorUnavailable = "processor_unavailable"
)

// PaymentRecord is one OrderPaymentList_Load record, in the seed's shape.
type PaymentRecord struct {
	ID                 int64  `json:"id"`
	OrderID            int64  `json:"order_id"`
	Type               int    `json:"type"`
	Refnum             string `json:"refnum"`
	Amount             Number `json:"amount"`
	FormattedAmount    string `json:"formatted_amount"`
	Available          Number `json:"available"`
	FormattedAvailable string `json:"formatted_available"`
	// DTStamp is a Unix timestamp written as a string, as in the seed.
	DTStamp string `json:"dtstamp"`
	// Expires is a Unix timestamp string, or "" when the record never expires.
	Expires  string `json:"expires"`
	PayID    int64  `json:"pay_id"`
	PaySecID int64  `json:"pay_secid"`
}

// OrderPaymentTotal is the data of OrderPayment_Capture, _Refund and _VOID
// answers (Miva SDK model OrderPaymentTotal).
type OrderPaymentTotal struct {
	OrderID            int64  `json:"order_id"`
	TotalAuth          Number `json:"total_auth"`
	FormattedTotalAuth string `json:"formatted_total_auth"`
	TotalCapt          Number `json:"total_capt"`
	FormattedTotalCapt string `json:"formatted_total_capt"`
	TotalRfnd          Number `json:"total_rfnd"`
	FormattedTotalRfnd string `json:"formatted_total_rfnd"`
	NetCapt            Number `json:"net_capt"`
	FormattedNetCapt   string `json:"formatted_net_capt"`
}

// Response is the JSON API envelope.
type Response struct {
	Success      int    `json:"success"`
	Data         any    `json:"data,omitempty"`
	ErrorCode    string `json:"error_code,omitempty"`
	ErrorMessage string `json:"error_message,omitempty"`
}

// OrderSeed creates or replaces an order and its payment records: the body
// of PUT {prefix}/_sandbox/orders.
type OrderSeed struct {
	// OrderID is Miva's order number (positive).
	OrderID int64 `json:"order_id"`
	// Currency is the order's ISO 4217 currency; default the store's.
	Currency string `json:"currency,omitempty"`
	// Records are the payment records, in order. Derived records (types 2,
	// 4, 6, 7) name their authorization or capture in ParentID and are
	// taken verbatim (they do not change the parent's available).
	Records []RecordSeed `json:"records"`
}

// RecordSeed is one payment record of an OrderSeed.
type RecordSeed struct {
	// ID is the payment record id, unique in the sandbox; 0 assigns the
	// next free one.
	ID   int64 `json:"id,omitempty"`
	Type int   `json:"type"`
	// Amount is a decimal string ("7.00") in the order's currency.
	Amount string `json:"amount"`
	// Available is the amount still capturable (authorization types only).
	// Empty: Amount for types 1 and 3, 0 otherwise (a type 5 sale captured
	// everything unless told otherwise).
	Available string `json:"available,omitempty"`
	Refnum    string `json:"refnum,omitempty"`
	// DTStamp is the record's Unix time; 0 uses the sandbox clock.
	DTStamp int64 `json:"dtstamp,omitempty"`
	// Expires is the authorization's expiry (Unix time); 0 never expires.
	Expires  int64 `json:"expires,omitempty"`
	PayID    int64 `json:"pay_id,omitempty"`
	PaySecID int64 `json:"pay_secid,omitempty"`
	// ParentID links a derived record (2, 4, 6, 7) to its parent.
	ParentID int64 `json:"parent_id,omitempty"`
	// DeclineCapture makes every OrderPayment_Capture of this record fail
	// with payment_declined and this message (a gateway decline).
	DeclineCapture string `json:"decline_capture,omitempty"`
	// DeclineRefund does the same for OrderPayment_Refund.
	DeclineRefund string `json:"decline_refund,omitempty"`
}

// OrderState is an order as the admin API shows it.
type OrderState struct {
	StoreCode string            `json:"store_code"`
	OrderID   int64             `json:"order_id"`
	Currency  string            `json:"currency"`
	Records   []RecordState     `json:"records"`
	Totals    OrderPaymentTotal `json:"totals"`
}

// RecordState is a payment record with what the sandbox knows beyond the
// API's fields.
type RecordState struct {
	PaymentRecord
	// ParentID is the record a derived record was made from.
	ParentID int64 `json:"parent_id,omitempty"`
	// Refundable is, for capture records, what may still be refunded.
	Refundable string `json:"refundable,omitempty"`
}

// Entry is one money movement in the sandbox ledger: a capture, refund or
// void that succeeded (including those whose reply was dropped).
type Entry struct {
	Seq       int64  `json:"seq"`
	Function  string `json:"function"`
	StoreCode string `json:"store_code"`
	OrderID   int64  `json:"order_id"`
	// PaymentID is the record acted on; RecordID the record created.
	PaymentID int64  `json:"payment_id"`
	RecordID  int64  `json:"record_id"`
	Type      int    `json:"type"`
	Amount    string `json:"amount"`
	Currency  string `json:"currency"`
	// ReplyDropped is true when a drop_next fault answered 502 although
	// the money moved.
	ReplyDropped bool `json:"reply_dropped,omitempty"`
	// LateCommit is true when a late-commit fault made this call act after
	// waiting, whether or not its client was still there.
	LateCommit bool      `json:"late_commit,omitempty"`
	At         time.Time `json:"at"`
}

// LedgerFilter selects ledger entries; zero fields match everything.
type LedgerFilter struct {
	OrderID  int64
	Function string
}

func (f LedgerFilter) match(e *Entry) bool {
	return (f.OrderID == 0 || f.OrderID == e.OrderID) && (f.Function == "" || f.Function == e.Function)
}

// EndpointCalls counts the calls of one function by how they were answered.
type EndpointCalls struct {
	// Total counts every call that named this function.
	Total int `json:"total"`
	// Unauthorized counts access_denied / invalid_signature /
	// invalid_timestamp answers.
	Unauthorized int `json:"unauthorized"`
	// BadRequest counts answers to invalid requests (store, parameters,
	// unknown records, wrong types).
	BadRequest int `json:"bad_request"`
	// Declined counts business refusals (amount beyond available or
	// refundable, expired, gateway decline).
	Declined int `json:"declined"`
	// Processed counts successful calls (including dropped replies).
	Processed int `json:"processed"`
	// Injected faults: plain 5xx, Miva error bodies, hangs, dropped replies,
	// late commits (counted when the late wait begins; a late call that
	// acts is also counted in Processed, Declined or BadRequest).
	Failed5xx int `json:"failed_5xx"`
	Errored   int `json:"errored"`
	Hung      int `json:"hung"`
	Dropped   int `json:"dropped"`
	Late      int `json:"late"`
}

// Calls counts the calls per function; Other counts calls whose body or
// Function could not be read.
type Calls struct {
	List    EndpointCalls `json:"list"`
	Capture EndpointCalls `json:"capture"`
	Refund  EndpointCalls `json:"refund"`
	Void    EndpointCalls `json:"void"`
	Other   EndpointCalls `json:"other"`
}
