package miva

import (
	"errors"
	"fmt"
	"strings"

	"github.com/settlement-worker/settlement-worker/providers"
)

// ErrorClass is one row of the error classification table.
type ErrorClass struct {
	// Code is Miva's error_code, or a transport condition in parentheses.
	Code string
	// Class says whether the settlement is retried (transient: retried,
	// then parked for an operator) or refused (permanent: status R with
	// Miva's error_message as DeclineReason).
	Class providers.Class
	// Meaning explains the row.
	Meaning string
}

// ErrorClasses is the classification of Miva failures, for the README.
// Miva's documentation defines the error envelope ({"success":0,
// "error_code","error_message"}) but publishes no code catalogue: the codes
// below are those of the project's sandbox; any other code is transient,
// because refusing a payment by mistake is worse than parking it for a
// person. Authentication and configuration problems are transient too: a
// fixed token or store code makes the replayed request succeed.
var ErrorClasses = []ErrorClass{
	{"access_denied", providers.Transient, "API token missing or unknown (or IP / function not permitted): fix MIVA_API_TOKEN, then replay"},
	{"invalid_signature", providers.Transient, "HMAC signature missing or wrong: fix MIVA_SIGNING_KEY, then replay"},
	{"invalid_timestamp", providers.Transient, "Miva_Request_Timestamp outside the token's window: clock skew"},
	{"invalid_store", providers.Transient, "Store_code unknown: fix MIVA_STORE_CODE, then replay"},
	{"invalid_function", providers.Transient, "function not available on this store: configuration"},
	{"processor_unavailable", providers.Transient, "payment gateway unreachable; a capture retry reconciles first"},
	{"invalid_request", providers.Permanent, "the request body was not accepted"},
	{"missing_parameter", providers.Permanent, "a required parameter is missing"},
	{"invalid_parameter", providers.Permanent, "a parameter is invalid (for example an amount with too many decimals)"},
	{"order_not_found", providers.Permanent, "no such Miva order"},
	{"payment_not_found", providers.Permanent, "no such payment record"},
	{"invalid_payment_type", providers.Permanent, "the record cannot be captured / refunded / voided"},
	{"amount_exceeds_available", providers.Permanent, "capture beyond the authorization's available amount"},
	{"amount_exceeds_refundable", providers.Permanent, "refund beyond what the capture has left"},
	{"authorization_expired", providers.Permanent, "the authorization expired"},
	{"payment_declined", providers.Permanent, "the payment gateway declined"},
	{"(any other error_code)", providers.Transient, "unknown to this client: retried, then parked"},
	{"(HTTP 401 / 403)", providers.Transient, "credentials refused: configuration"},
	{"(HTTP 429 / 503 without Miva's error answer)", providers.Transient, "may be a proxy's after it forwarded the call: uncertain, reconciled after the settle window, parked if not found"},
	{"(HTTP 5xx, 502 of a lost reply)", providers.Transient, "Miva or its proxy failed; a capture retry reconciles first"},
	{"(other HTTP status, unparseable reply)", providers.Transient, "unexpected answer"},
	{"(payment list with data null, missing or not a list of records)", providers.Transient, "malformed answer: not evidence that the order has no payment (never read as an empty list)"},
	{"(timeout, connection error)", providers.Transient, "no answer; the call may have acted, a retry reconciles first"},
}

// classByCode indexes ErrorClasses by Miva error_code.
var classByCode = func() map[string]providers.Class {
	m := map[string]providers.Class{}
	for _, c := range ErrorClasses {
		if !strings.HasPrefix(c.Code, "(") {
			m[c.Code] = c.Class
		}
	}
	return m
}()

// ClassOfCode classifies a Miva error_code (unknown codes are transient).
func ClassOfCode(code string) providers.Class {
	if c, ok := classByCode[code]; ok {
		return c
	}
	return providers.Transient
}

// configCodes are the codes whose remedy is the client's configuration.
var configCodes = map[string]string{
	"access_denied":     "check the Miva API token (MIVA_API_TOKEN) and its permissions, then replay the parked request",
	"invalid_signature": "check the Miva signing key (MIVA_SIGNING_KEY), then replay the parked request",
	"invalid_timestamp": "check the worker's clock, then replay the parked request",
	"invalid_store":     "check the Miva store code (MIVA_STORE_CODE), then replay the parked request",
	"invalid_function":  "check that the Miva store offers this function to the token, then replay the parked request",
}

// APIError is a {"success":0} answer of Miva's JSON API.
type APIError struct {
	Function string
	Code     string
	Message  string
}

// Error describes the answer: function, message and code.
func (e *APIError) Error() string {
	return fmt.Sprintf("miva %s: %s (%s)", e.Function, e.Message, e.Code)
}

// classify wraps a Miva error answer into a classified provider error. A
// permanent error's Reason is Miva's error_message (the DeclineReason).
func (c *Client) classify(function, code, message string) error {
	code = strings.TrimSpace(code)
	class := ClassOfCode(code)
	hint, configCode := configCodes[code]
	code = providers.QuotedCode(c.redact(code))
	message = providers.Quoted(c.redact(strings.TrimSpace(message)))
	if message == "" {
		message = "Miva answered error " + code
	}
	ae := &APIError{Function: function, Code: code, Message: message}
	if class == providers.Permanent {
		return providers.PermanentError(code, message, ae)
	}
	reason := fmt.Sprintf("miva %s: %s (%s)", function, message, code)
	if configCode {
		reason += "; " + hint
		// Authentication, store and function refusals come before the
		// function runs: nothing can have been committed.
		return providers.NotSentError(code, reason, nil)
	}
	return providers.TransientError(code, reason, nil)
}

// refusal returns the reason of a permanent Miva error answer.
func refusal(err error) (string, bool) {
	var pe *providers.Error
	if errors.As(err, &pe) && pe.Class == providers.Permanent {
		return pe.Reason, true
	}
	return "", false
}

// redact masks the token and the signing key wherever a reply could echo them.
func (c *Client) redact(s string) string {
	for _, v := range []string{c.cfg.APIToken, c.cfg.SigningKey} {
		if v != "" {
			s = strings.ReplaceAll(s, v, "****")
		}
	}
	return s
}

// codeExceedsRefundable is Miva's refusal of a refund beyond what the
// capture record has left: nothing was refunded.
const codeExceedsRefundable = "amount_exceeds_refundable"

// codeExceedsAvailable is Miva's refusal of a capture beyond the
// authorization's available amount: nothing was captured.
const codeExceedsAvailable = "amount_exceeds_available"

// codeAuthorizationExpired is Miva's refusal of a capture on an
// authorization whose expiry date is past: nothing was captured.
const codeAuthorizationExpired = "authorization_expired"

// authorizationSpent reports whether a capture refusal of this code says
// that the authorization tried can no longer capture the amount (beyond
// its available, or expired) while nothing moved: another authorization
// of the order may still cover it (nextAuthorization).
func authorizationSpent(code string) bool {
	return code == codeExceedsAvailable || code == codeAuthorizationExpired
}
