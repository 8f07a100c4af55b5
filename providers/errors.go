package providers

import (
	"errors"
	"fmt"
	"syscall"
	"unicode/utf8"

	"github.com/settlement-worker/settlement-worker/messages"
)

// Class says whether a failure may succeed on a later attempt.
type Class int

const (
	// Transient failures (timeouts, connection errors, 5xx, fault replies)
	// are retried through the retry queues with the same idempotency key.
	Transient Class = iota
	// Permanent failures are not retried: the request ends with status R and
	// the error's Reason as DeclineReason.
	Permanent
	// Unresolved failures leave the outcome unknowable without a person
	// (money may or may not have moved, and the provider cannot tell which
	// settlement it belongs to): the request is parked with the error's
	// Reason at once, neither retried nor refused.
	Unresolved
)

func (c Class) String() string {
	switch c {
	case Permanent:
		return "permanent"
	case Unresolved:
		return "unresolved"
	}
	return "transient"
}

// Error is a classified provider error.
type Error struct {
	Class Class
	// Code is the provider's error code, if any (e.g. Paysafe 3205).
	Code string
	// Reason is a sentence a person can act on; it becomes the DeclineReason
	// of a permanent failure.
	Reason string
	// Err is the underlying error.
	Err error
	// NotSent marks a transient failure that proves the call did not reach
	// the provider, or was refused before it acted (connection refused; an
	// HTTP 503 or 429 only where the provider's answer proves it, or an
	// idempotency key protects a repeat: a bare one may be a proxy's after
	// it forwarded the call): nothing can have been committed, so the next
	// attempt need not wait for a settle window or reconcile.
	NotSent bool
}

// Error describes the error with every card number masked
// (messages.MaskPANs): a provider's answer may echo one, and this text is
// logged.
func (e *Error) Error() string {
	msg := e.Class.String() + " provider error"
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return messages.MaskPANs(msg)
}

func (e *Error) Unwrap() error { return e.Err }

// PermanentError returns a permanent error with a reason.
func PermanentError(code, reason string, err error) error {
	return &Error{Class: Permanent, Code: code, Reason: reason, Err: err}
}

// TransientError returns a transient error with a reason.
func TransientError(code, reason string, err error) error {
	return &Error{Class: Transient, Code: code, Reason: reason, Err: err}
}

// UnresolvedError returns an error that parks the request for a person.
func UnresolvedError(code, reason string, err error) error {
	return &Error{Class: Unresolved, Code: code, Reason: reason, Err: err}
}

// NotSentError returns a transient error for a call that cannot have been
// committed by the provider (see Error.NotSent).
func NotSentError(code, reason string, err error) error {
	return &Error{Class: Transient, Code: code, Reason: reason, Err: err, NotSent: true}
}

// WasNotSent reports whether err proves that the call did not reach the
// provider (see Error.NotSent), or is a connection refusal.
func WasNotSent(err error) bool {
	var pe *Error
	if errors.As(err, &pe) && pe.NotSent {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// Permanentf is PermanentError with a formatted reason and no code.
func Permanentf(format string, args ...any) error {
	return &Error{Class: Permanent, Reason: fmt.Sprintf(format, args...)}
}

// MismatchBeforeCall refuses a request, before its money-moving call, for a
// mismatch (a currency) that earlier versions did not check: Permanent (R)
// on the first attempt; Unresolved (parked) on a later one, whose earlier
// attempt may have sent the call unchecked and moved money.
func MismatchBeforeCall(attempt int, reason string) error {
	if attempt > 1 {
		return UnresolvedError("", reason+"; an earlier attempt may have been sent unchecked: check with the provider whether money moved", nil)
	}
	return Permanentf("%s", reason)
}

// ClassOf classifies any error. Unclassified errors (network errors, context
// deadlines, unexpected replies) are transient: retrying with the same
// idempotency key is always safe, refusing a payment by mistake is not.
func ClassOf(err error) Class {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Class
	}
	return Transient
}

// CodeOf returns the provider's error code of a classified error, or ""
// (none, or an unclassified error).
func CodeOf(err error) string {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// ReasonOf returns the human reason of a classified error, or err.Error(),
// with every card number masked (messages.MaskPANs): it becomes a
// DeclineReason, a parked reason, a retry header.
func ReasonOf(err error) string {
	var pe *Error
	if errors.As(err, &pe) && pe.Reason != "" {
		return messages.MaskPANs(pe.Reason)
	}
	return messages.MaskPANs(err.Error())
}

// MaxQuoted bounds a provider's own text (an error message, a fault's
// description) quoted in a reason; MaxQuotedCode a provider's error code.
const (
	MaxQuoted     = 200
	MaxQuotedCode = 64
)

// Quoted is s, a provider's own text, ready to quote in a reason: its card
// numbers masked (messages.MaskPANs), then cut to MaxQuoted bytes, never
// inside a character, and marked cut with "…". A reason is logged at every
// attempt, stored with the settlement and, as an R's DeclineReason,
// published and POSTed to the webhook: a provider's reply, read up to a
// MiB, would otherwise go whole into each. The caller removes its secrets
// first: one cut in two is no longer recognized.
func Quoted(s string) string { return maskedCut(s, MaxQuoted) }

// QuotedCode is a provider's error code, as Quoted, cut to MaxQuotedCode
// bytes: for an Error's Code and the reason, once the code was looked up.
func QuotedCode(s string) string { return maskedCut(s, MaxQuotedCode) }

func maskedCut(s string, n int) string {
	s = messages.MaskPANs(s)
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
