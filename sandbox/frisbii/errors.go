package frisbii

import "net/http"

// Error codes the sandbox answers with. Codes and texts are Frisbii's (the
// list published with Reepay's API and kept in its WooCommerce plugin);
// which operation answers which code follows Frisbii's reference pages
// where they say so, and is a sandbox choice where marked.
const (
	CodeInvalidRequest      = 1   // 400 malformed body or parameter
	CodeInternalError       = 2   // 500 injected failures
	CodeNotAuthenticated    = 6   // 401 missing or wrong private key
	CodeUnauthorized        = 7   // 403 "Unauthorized": the key lacks a permission (error_next only)
	CodeNotFound            = 8   // 404 "Not found" (answered by the error_next fault)
	CodeInvoiceCancelled    = 29  // 400 "Invoice already cancelled"
	CodeInvoiceNotFound     = 31  // 404 "Invoice not found" (charge = invoice)
	CodeInvoiceNotSettled   = 64  // 400 refund of a charge with nothing settled
	CodeRefundAmountTooHigh = 65  // 400 refund beyond settled − refunded
	CodeRefundFailed        = 66  // 400 "Refund failed" (error_next only)
	CodeInvoiceSettled      = 79  // 400 "Invoice already settled": nothing left to settle
	CodeProcessingTxn       = 80  // 400 "Invoice has processing transaction"
	CodeConcurrentUpdate    = 74  // 409 "Concurrent resource update": the key is in flight
	CodeAmountTooHigh       = 102 // 400 "Amount higher than authorized amount"
	CodeMustBeAuthorized    = 106 // 400 settle of a charge that is not authorized
	CodeRefundNotFound      = 107 // 404 "Refund not found"
	CodeRateLimit           = 122 // 429 "Request rate limit exceeded" (error_next only)
	CodeConcurrencyLimit    = 123 // 429 "Concurrent request limit exceeded" (error_next only)
	CodeNonPositiveAmount   = 146 // 400 "Non positive amount"
)

// errorTexts are Frisbii's texts for the codes above.
var errorTexts = map[int]string{
	CodeInvalidRequest:      "Invalid request",
	CodeInternalError:       "Internal error",
	CodeNotAuthenticated:    "Not authenticated",
	CodeUnauthorized:        "Unauthorized",
	CodeNotFound:            "Not found",
	CodeInvoiceCancelled:    "Invoice already cancelled",
	CodeInvoiceNotFound:     "Invoice not found",
	CodeInvoiceNotSettled:   "Invoice not settled",
	CodeRefundAmountTooHigh: "Refund amount too high",
	CodeRefundFailed:        "Refund failed",
	CodeInvoiceSettled:      "Invoice already settled",
	CodeProcessingTxn:       "Invoice has processing transaction",
	CodeConcurrentUpdate:    "Concurrent resource update",
	CodeAmountTooHigh:       "Amount higher than authorized amount",
	CodeMustBeAuthorized:    "Invoice must be authorized",
	CodeRefundNotFound:      "Refund not found",
	CodeRateLimit:           "Request rate limit exceeded",
	CodeConcurrencyLimit:    "Concurrent request limit exceeded",
	CodeNonPositiveAmount:   "Non positive amount",
}

// codeStatus is the HTTP status of each code.
var codeStatus = map[int]int{
	CodeInvalidRequest:   http.StatusBadRequest,
	CodeInternalError:    http.StatusInternalServerError,
	CodeNotAuthenticated: http.StatusUnauthorized,
	CodeUnauthorized:     http.StatusForbidden,
	CodeNotFound:         http.StatusNotFound,
	CodeInvoiceNotFound:  http.StatusNotFound,
	CodeConcurrentUpdate: http.StatusConflict,
	CodeRefundNotFound:   http.StatusNotFound,
	CodeRateLimit:        http.StatusTooManyRequests,
	CodeConcurrencyLimit: http.StatusTooManyRequests,
}

// apiError is an error answer decided while handling a call.
type apiError struct {
	code    int
	message string
	status  int // 0: the code's status
}

func (e *apiError) Error() string { return errorTexts[e.code] + ": " + e.message }

func newAPIError(code int, message string) *apiError {
	return &apiError{code: code, message: message}
}

func (e *apiError) httpStatus() int {
	if e.status != 0 {
		return e.status
	}
	if s, ok := codeStatus[e.code]; ok {
		return s
	}
	return http.StatusBadRequest
}
