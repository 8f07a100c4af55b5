package frisbii

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/settlement-worker/settlement-worker/providers"
)

// ErrorClass is one row of the classification of Frisbii's error codes.
type ErrorClass struct {
	// Code and Error are Frisbii's error code and text; HTTPStatus the
	// status it comes with.
	Code       int
	HTTPStatus int
	Error      string
	// Class says whether the request is retried with the same key
	// (Transient) or ends with status R and this reason (Permanent).
	Class providers.Class
	// Note says why, or what an operator should do.
	Note string
}

// ErrorClasses classifies Frisbii's error codes (codes and texts from
// Frisbii's published error list). Codes not listed follow the HTTP status:
// everything unknown is transient (retried, then parked for an operator),
// because refusing a payment by mistake is worse than a parked message.
// Frisbii's advice: "Communication error (no HTTP response) or HTTP server
// error 5xx: Retry operation ... preferably with an idempotency key";
// "HTTP client error 4xx: Check your implementation. One error that can be
// expected for full settles ... is 'Invoice already settled' ... For a retry
// it can be interpreted as success" (settle charge reference).
var ErrorClasses = []ErrorClass{
	{1, 400, "Invalid request", providers.Permanent, "the request does not fit Frisbii's rules (also: an idempotency key reused with other content); on a settle or refund that may repeat an earlier one (attempt > 1, Reconcile or Poll) Unresolved: the key's first use may have moved this request's money (parked for a person)"},
	{2, 500, "Internal error", providers.Transient, "Frisbii failed; retried with the same key"},
	{6, 401, "Not authenticated", providers.Transient, "check FRISBII_API_KEY, then replay the parked request"},
	{7, 403, "Unauthorized", providers.Transient, "the key lacks a permission; fix it, then replay the parked request"},
	{8, 404, "Not found", providers.Permanent, ""},
	{29, 400, "Invoice already cancelled", providers.Permanent, "the authorization was cancelled: nothing can be settled"},
	{31, 404, "Invoice not found", providers.Permanent, "no charge with this handle"},
	{64, 400, "Invoice not settled", providers.Permanent, "a refund of a charge with nothing settled"},
	{65, 400, "Refund amount too high", providers.Permanent, "refund beyond settled − refunded; on a possible repeat (attempt > 1, Reconcile, Poll) Unresolved: a key Frisbii no longer holds makes the repeat a new refund, refused because the first took the room (parked for a person)"},
	{66, 400, "Refund failed", providers.Permanent, ""},
	{70, 404, "Transaction not found", providers.Permanent, ""},
	{74, 409, "Concurrent resource update", providers.Transient, "another update of the charge raced ours; retried with the same key"},
	{77, 400, "Transaction declined", providers.Permanent, ""},
	{78, 400, "Transaction processing error", providers.Transient, "retried with the same key"},
	{79, 400, "Invoice already settled", providers.Permanent, "nothing left to settle; on a retry (attempt > 1 or after an uncertain attempt) Unresolved: a settle performed under the same key would have been replayed, so other settles used the charge (parked for a person)"},
	{80, 400, "Invoice has processing transaction", providers.Transient, "an earlier transaction is still processing; retried later"},
	{81, 400, "Online refund not supported, use manual refund", providers.Permanent, ""},
	{82, 400, "Invoice wrong state", providers.Permanent, ""},
	{102, 400, "Amount higher than authorized amount", providers.Permanent, "settle beyond authorized − settled; on a possible repeat, as every refusal of one, R only when the charge shows no more settled than at confirmation, else Unresolved (parked for a person)"},
	{106, 400, "Invoice must be authorized", providers.Permanent, "the charge is not authorized (failed, pending, …)"},
	{107, 404, "Refund not found", providers.Permanent, ""},
	{109, 400, "Transaction wrong state for operation", providers.Permanent, ""},
	{122, 429, "Request rate limit exceeded", providers.Transient, "retried later"},
	{123, 429, "Concurrent request limit exceeded", providers.Transient, "retried later"},
	{129, 400, "Multiple settles not allowed for payment method", providers.Permanent, ""},
	{130, 400, "Partial settle not allowed for payment method", providers.Permanent, ""},
	{131, 400, "Multiple refunds not allowed for payment method", providers.Permanent, "on a possible repeat Unresolved, as 65"},
	{132, 400, "Partial refund not allowed for payment method", providers.Permanent, ""},
	{141, 400, "Too many settle attempts", providers.Permanent, ""},
	{145, 400, "Invoice has zero amount", providers.Permanent, ""},
	{146, 400, "Non positive amount", providers.Permanent, ""},
	{147, 400, "Payment method failed", providers.Permanent, "scheme rules forbid using the payment method again"},
}

// CodeInvoiceAlreadySettled is Frisbii's error 79 "Invoice already settled".
const CodeInvoiceAlreadySettled = 79

// Other codes the client reacts to.
const (
	// codeInvalidRequest is error 1 "Invalid request", also Frisbii's
	// answer to an idempotency key reused with other content.
	codeInvalidRequest  = 1
	codeNotFound        = 8
	codeInvoiceNotFound = 31
	codeRefundNotFound  = 107
	// codeRefundAmountTooHigh (65) and codeMultipleRefunds (131) on a
	// refund's possible repeat are Unresolved (refundRoomRefused).
	codeRefundAmountTooHigh = 65
	codeMultipleRefunds     = 131
)

// DeclineClass says how an HTTP 200 answer with an error_state is treated.
type DeclineClass struct {
	ErrorState string
	// Outcome is providers.Refused for declines; processing errors are
	// transient errors instead (Outcome empty).
	Outcome providers.Kind
	Class   providers.Class
	Note    string
}

// DeclineClasses classifies the error_state of a failed settle or refund.
// Frisbii: "A soft decline is possibly recoverable and a subsequent request
// with the same card may succeed. E.g. insufficient funds. A processing
// error indicates an error processing the card either at Reepay, the
// acquirer, or between Reepay and the acquirer."
var DeclineClasses = []DeclineClass{
	{"hard_declined", providers.Refused, providers.Permanent, "ends R with the error as reason (a settle's possible repeat: only when the charge shows no more settled than at confirmation, else parked)"},
	{"soft_declined", providers.Refused, providers.Permanent, "ends R too (a settle's possible repeat: as hard_declined): a retry with the same key would replay the decline; a payments engineer may send a new request (new requestId) later"},
	{"processing_error", "", providers.Transient, "retried with the same key (the state is left unchanged and no money moved)"},
}

var errorClassByCode = func() map[int]ErrorClass {
	m := make(map[int]ErrorClass, len(ErrorClasses))
	for _, e := range ErrorClasses {
		m[e.Code] = e
	}
	return m
}()

// ClassOfCode classifies a Frisbii error code; codes not in ErrorClasses
// are transient.
func ClassOfCode(code int) providers.Class {
	if e, ok := errorClassByCode[code]; ok {
		return e.Class
	}
	return providers.Transient
}

// errorBody is Frisbii's error answer.
type errorBody struct {
	Code       int    `json:"code"`
	Error      string `json:"error"`
	Message    string `json:"message"`
	HTTPStatus int    `json:"http_status"`
}

// parseError reads Frisbii's error body, if r carries one.
func parseError(r reply) (errorBody, bool) {
	var eb errorBody
	if providers.UnmarshalReply(r.body, &eb) != nil || eb.Code == 0 {
		return errorBody{}, false
	}
	return eb, true
}

// failure classifies an answer that is not the expected object.
func (c *Client) failure(op string, r reply) error {
	if eb, ok := parseError(r); ok {
		reason := fmt.Sprintf("Frisbii refused the %s: error %d %s", op, eb.Code, providers.Quoted(c.redact(eb.Error)))
		if eb.Message != "" {
			reason += " (" + providers.Quoted(c.redact(eb.Message)) + ")"
		}
		class := ClassOfCode(eb.Code)
		if r.status == http.StatusUnauthorized || r.status == http.StatusForbidden {
			class = providers.Transient
			reason += "; check the configured Frisbii private key (FRISBII_API_KEY), then replay the parked request"
		}
		if class == providers.Transient {
			reason += fmt.Sprintf(" [HTTP %d; retried with the same idempotency key]", r.status)
		}
		return &providers.Error{Class: class, Code: strconv.Itoa(eb.Code), Reason: c.redact(reason), NotSent: refusedUnsent(r.status)}
	}
	if r.status == http.StatusUnauthorized || r.status == http.StatusForbidden {
		return providers.TransientError(strconv.Itoa(r.status), fmt.Sprintf(
			"frisbii %s: HTTP %d: check the configured Frisbii private key (FRISBII_API_KEY), then replay the parked request", op, r.status), nil)
	}
	if r.status/100 == 2 {
		return providers.TransientError("", fmt.Sprintf("frisbii %s: HTTP %d with an unparseable reply (%d bytes)", op, r.status, len(r.body)), nil)
	}
	reason := fmt.Sprintf("frisbii %s: HTTP %d %s; retrying with the same idempotency key is safe", op, r.status, http.StatusText(r.status))
	if refusedUnsent(r.status) {
		return providers.NotSentError(strconv.Itoa(r.status), reason, nil)
	}
	return providers.TransientError(strconv.Itoa(r.status), reason, nil)
}

// refusedUnsent reports whether an HTTP status proves the call was refused
// before Frisbii acted: 503 (unavailable) and 429 (rate or concurrency
// limit, errors 122/123). Every other answer, a 409 "Concurrent resource
// update" for a key still in flight included, leaves open whether the
// operation (or the one it repeats) commits, so NotSent stays false.
func refusedUnsent(status int) bool {
	return status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests
}
