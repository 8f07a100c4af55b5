package providers

import (
	"errors"
	"fmt"
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
)

func (c Class) String() string {
	if c == Permanent {
		return "permanent"
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
}

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
	return msg
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

// Permanentf is PermanentError with a formatted reason and no code.
func Permanentf(format string, args ...any) error {
	return &Error{Class: Permanent, Reason: fmt.Sprintf(format, args...)}
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

// ReasonOf returns the human reason of a classified error, or err.Error().
func ReasonOf(err error) string {
	var pe *Error
	if errors.As(err, &pe) && pe.Reason != "" {
		return pe.Reason
	}
	return err.Error()
}
