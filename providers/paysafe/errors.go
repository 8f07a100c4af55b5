package paysafe

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/settlement-worker/settlement-worker/providers"
)

// Paysafe error codes the client knows (see ErrorClasses).
const (
	CodeMaxSettlements      = "3202"
	CodeAlreadySettled      = "3203"
	CodeAmountExceeds       = "3204"
	CodeAuthExpired         = "3205"
	CodeInProgress          = "3417"
	CodeRefundNotRefundable = "3402"
	CodeRefundNotBatched    = "3404"
	CodeRefundExceeds       = "3406"
	CodeDuplicate           = "5031"
	CodeNotParseable        = "5023"
	CodeFieldErrors         = "5068"
	CodeUnknownID           = "5269"
	CodeInvalidCredentials  = "5279"
)

// Where the meaning of an error code comes from.
const (
	SourceSeeds      = "seeds README (Paysafe settle errors)"
	SourceCardErrors = "Paysafe Card Errors page"
	SourceRecalled   = "Paysafe documentation as recalled; not verifiable offline"
	SourceSandbox    = "sandbox convention; verify against Paysafe's Card Errors page"
)

// ErrorRule says how the client treats one Paysafe error code.
type ErrorRule struct {
	// Class: Permanent ends the request with status R and Reason as its
	// DeclineReason (on a settlement or refund call, only once a lookup by
	// merchantRefNum finds no earlier attempt of the request: see
	// beforeRefusing); Transient retries it (the next attempt first looks the
	// transaction up by merchantRefNum), then parks it for an operator.
	Class providers.Class
	// Reconcile: on a settle or refund, the client looks the transaction up
	// by merchantRefNum and returns its outcome instead of failing.
	Reconcile bool
	// Reason explains the error in words a person can act on.
	Reason string
	// Source says where the code's meaning comes from.
	Source string
}

// ErrorClasses classifies Paysafe's error codes (error.code in the body,
// also in the X-Application-Status-Code header). A code not listed here is
// classified by its HTTP status (StatusClasses).
var ErrorClasses = map[string]ErrorRule{
	CodeMaxSettlements: {Class: providers.Permanent, Source: SourceSeeds,
		Reason: "the authorization has reached its maximum number of settlements"},
	CodeAlreadySettled: {Class: providers.Permanent, Source: SourceSeeds,
		Reason: "the authorization is already fully settled or cancelled"},
	CodeAmountExceeds: {Class: providers.Permanent, Source: SourceSeeds,
		Reason: "the settlement amount exceeds what remains on the authorization"},
	CodeAuthExpired: {Class: providers.Permanent, Source: SourceSeeds,
		Reason: "the authorization has expired; the order must be authorized again"},
	CodeInProgress: {Class: providers.Transient, Source: SourceSeeds,
		Reason: "another request for this transaction is in progress at Paysafe; retrying later"},
	CodeRefundNotRefundable: {Class: providers.Permanent, Source: SourceSandbox,
		Reason: "the settlement failed or was cancelled; there is nothing to refund"},
	CodeRefundNotBatched: {Class: providers.Transient, Source: SourceSandbox,
		Reason: "the settlement is not batched yet and cannot be refunded before the batch; the refund is pending and asked again after the batch (bounded by PENDING_DEADLINE)"},
	CodeRefundExceeds: {Class: providers.Permanent, Source: SourceSandbox,
		Reason: "the refund amount exceeds what remains refundable on the settlement"},
	CodeDuplicate: {Class: providers.Transient, Reconcile: true, Source: SourceRecalled,
		Reason: "the merchantRefNum was already used at Paysafe (transaction already processed); the earlier transaction is looked up instead"},
	CodeNotParseable: {Class: providers.Permanent, Source: SourceCardErrors,
		Reason: "Paysafe could not parse the request"},
	CodeFieldErrors: {Class: providers.Permanent, Source: SourceCardErrors,
		Reason: "Paysafe rejected a field of the request"},
	CodeUnknownID: {Class: providers.Permanent, Source: SourceCardErrors,
		Reason: "Paysafe does not know the account, authorization or settlement id"},
	CodeInvalidCredentials: {Class: providers.Transient, Source: SourceCardErrors,
		Reason: "Paysafe refused the API credentials; check PAYSAFE_USERNAME and PAYSAFE_PASSWORD, then replay the parked request"},
}

// StatusRule classifies the HTTP statuses Min..Max of a reply whose error
// code is not in ErrorClasses.
type StatusRule struct {
	Min, Max int
	Class    providers.Class
	Reason   string
}

// StatusClasses is consulted in order; the first matching rule applies.
// Timeouts and transport errors (no reply at all) are transient too.
var StatusClasses = []StatusRule{
	{401, 401, providers.Transient, "Paysafe refused the API credentials (a configuration problem); check PAYSAFE_USERNAME and PAYSAFE_PASSWORD, then replay the parked request"},
	{403, 403, providers.Transient, "the API credentials may not use this Paysafe account (a configuration problem); check PAYSAFE_ACCOUNTS and the API key, then replay the parked request"},
	{408, 408, providers.Transient, "Paysafe timed out reading the request"},
	{429, 429, providers.Transient, "Paysafe is rate limiting the requests"},
	{400, 499, providers.Permanent, "Paysafe refused the request"},
	{500, 599, providers.Transient, "Paysafe failed to answer"},
	{0, 999, providers.Transient, "Paysafe answered unexpectedly"},
}

// reasonNoCode explains an answer that would refuse the request but carries
// no Paysafe error code.
const reasonNoCode = "answered without a Paysafe error code, so not with Paysafe's refusal " +
	"(Paysafe's errors carry error.code and X-Application-Status-Code): a path nothing serves or a proxy's page; check PAYSAFE_BASE_URL"

// ruleFor returns the rule for an error code and HTTP status. A status
// that would refuse the request (a 4xx of StatusClasses' permanent rule)
// without any Paysafe error code is transient: Paysafe's own refusals
// always carry one, so the answer is not Paysafe's (reasonNoCode), and an
// R on it would refuse every request while the configuration is wrong.
func ruleFor(code string, status int) ErrorRule {
	if r, ok := ErrorClasses[code]; ok {
		return r
	}
	for _, s := range StatusClasses {
		if status >= s.Min && status <= s.Max {
			if s.Class == providers.Permanent && code == "" {
				return ErrorRule{Class: providers.Transient, Reason: reasonNoCode}
			}
			return ErrorRule{Class: s.Class, Reason: s.Reason}
		}
	}
	return ErrorRule{Class: providers.Transient, Reason: "Paysafe answered unexpectedly"}
}

// classify turns a reply that is not the expected message into a
// classified error. secrets are masked wherever a reply could echo them,
// in the message before it is cut (a cut secret is no longer found whole).
func classify(op string, r reply, secrets ...string) error {
	code, msg := r.errorCode()
	rule := ruleFor(code, r.status)
	code = providers.QuotedCode(redact(code, secrets...)) // looked up: cut for the reason
	reason := fmt.Sprintf("Paysafe %s: %s (HTTP %d", op, rule.Reason, r.status)
	if code != "" {
		reason += ", error " + code
	}
	if msg != "" {
		reason += ": " + providers.Quoted(redact(msg, secrets...))
	}
	reason += ")"
	if code == "" {
		code = strconv.Itoa(r.status)
	}
	reason = redact(reason, secrets...)
	if rule.Class == providers.Permanent {
		return providers.PermanentError(code, reason, nil)
	}
	if refusedBeforeActing(r.status, code) && !rule.Reconcile {
		return providers.NotSentError(code, reason, nil)
	}
	return providers.TransientError(code, reason, nil)
}

// refusedBeforeActing reports whether a transient answer proves Paysafe
// did not act on the call: credentials refused (HTTP 401/403, error 5279)
// or rate limited (429). 500, 502, 503, 504 and 3417 (another request in
// progress) are not: the call, or an earlier one, may be acting. A 503 in
// particular is what a proxy answers when the upstream connection resets
// before the reply's headers (Envoy: "upstream connect error or
// disconnect/reset before headers"), while the call goes on to Paysafe and
// commits; and Paysafe's duplicate check of merchantRefNum may be taken
// when a call arrives (seed 001 does not say when), so a repeat sent at
// once, before that commit, would be a second settlement or refund. After
// a 503 the pipeline therefore waits for the settle window and looks the
// merchantRefNum up before any new call.
func refusedBeforeActing(status int, code string) bool {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests:
		return true
	}
	return code == CodeInvalidCredentials
}

// transient reclassifies err as transient: a failure of a lookup or a poll
// says nothing about the transaction itself, so it must never refuse a
// request whose money may be moving.
func transient(err error) error {
	var pe *providers.Error
	if err == nil || !errors.As(err, &pe) || pe.Class == providers.Transient {
		return err
	}
	return &providers.Error{Class: providers.Transient, Code: pe.Code, Reason: pe.Reason, Err: pe.Err, NotSent: pe.NotSent}
}

// notFound reports whether Paysafe says the id is unknown: error 5269
// (body or header). A 404 without it is not Paysafe's answer (a path
// nothing serves, a proxy's page) and says nothing about the id.
func (r reply) notFound() bool {
	code, _ := r.errorCode()
	return code == CodeUnknownID
}
