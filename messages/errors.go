package messages

import (
	"strings"
)

// ValidationError is one broken rule of a message: Path locates the element
// or attribute ("PaymentSettlementRequest/BillingAddress/Address/City",
// "PaymentSettlementRequest/@requestId", repeated elements are numbered from
// 1 as in XPath: "LineItem[2]") and Rule says what is wrong in a short
// sentence ("is required", "must be at most 40 characters (got 41)").
// A Rule never quotes the payment account number.
type ValidationError struct {
	Path string
	Rule string
}

// Error returns "Path: Rule".
func (e ValidationError) Error() string { return e.Path + ": " + e.Rule }

// ValidationErrors is every problem found in one message, in document order.
// Validate methods return it as their error when it is not empty.
type ValidationErrors []ValidationError

// Error joins all problems with "; ".
func (es ValidationErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// ParseError reports a body that cannot be decoded: not well-formed XML or
// JSON, a DOCTYPE or entity declaration, an unexpected root element, an
// unknown JSON field. Err is the underlying cause when there is one.
type ParseError struct {
	Msg string
	Err error
}

// Error returns the message, followed by the cause when there is one,
// with every card number masked (MaskPANs): a parser quotes the input near
// what it refuses (an entity, a character reference, an element or field
// name), and this text goes to parked reasons, logs and Fault answers.
func (e *ParseError) Error() string {
	if e.Err == nil {
		return MaskPANs(e.Msg)
	}
	return MaskPANs(e.Msg + ": " + e.Err.Error())
}

// Unwrap returns the cause.
func (e *ParseError) Unwrap() error { return e.Err }
