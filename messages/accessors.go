package messages

import (
	"strconv"
	"strings"
)

// OrderID returns the order id from whichever payment context is present.
func (r *PaymentSettlementRequest) OrderID() string {
	switch {
	case r.PaymentContext != nil:
		return r.PaymentContext.OrderID
	case r.PaymentContextBase != nil:
		return r.PaymentContextBase.OrderID
	}
	return ""
}

// OrderID returns the order id from whichever payment context is present.
func (s *PaymentSettlementStatus) OrderID() string {
	switch {
	case s.PaymentContext != nil:
		return s.PaymentContext.OrderID
	case s.PaymentContextBase != nil:
		return s.PaymentContextBase.OrderID
	}
	return ""
}

// MaskAccount hides all but the last four characters of an account number
// or token: "4400000000000008" becomes "************0008". Values of four
// characters or fewer are masked entirely.
func MaskAccount(v string) string {
	if len(v) <= 4 {
		return strings.Repeat("*", len(v))
	}
	return strings.Repeat("*", len(v)-4) + v[len(v)-4:]
}

// String masks the account number (fmt, %v and %s never show it).
func (a AccountID) String() string { return MaskAccount(a.Value) }

// GoString masks the account number (%#v never shows it).
func (a AccountID) GoString() string {
	return "messages.AccountID{IsToken:" + strconv.Quote(a.IsToken) + ", Value:" + strconv.Quote(MaskAccount(a.Value)) + "}"
}
