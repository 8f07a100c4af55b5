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

// MaskPANs masks, in free text (a provider's error, a fault description),
// every run of 13 to 19 digits that passes the Luhn check, as MaskAccount
// does: card numbers a provider echoed in whatever form it normalized them
// to. Other text is returned as it is.
func MaskPANs(s string) string {
	var b []byte
	for i := 0; i < len(s); {
		if s[i] < '0' || s[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if n := j - i; n >= 13 && n <= 19 && luhn(s[i:j]) {
			if b == nil {
				b = []byte(s)
			}
			copy(b[i:j], MaskAccount(s[i:j]))
		}
		i = j
	}
	if b == nil {
		return s
	}
	return string(b)
}

// luhn reports whether the digits pass the Luhn (mod 10) check of card
// numbers.
func luhn(digits string) bool {
	sum, double := 0, false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// String masks the account number (fmt, %v and %s never show it).
func (a AccountID) String() string { return MaskAccount(a.Value) }

// GoString masks the account number (%#v never shows it).
func (a AccountID) GoString() string {
	return "messages.AccountID{IsToken:" + strconv.Quote(a.IsToken) + ", Value:" + strconv.Quote(MaskAccount(a.Value)) + "}"
}
