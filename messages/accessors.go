package messages

import (
	"strconv"
	"strings"
)

// OrderIDOf returns the order id from whichever payment context is
// present (PaymentContext first), "" when neither is.
func OrderIDOf(pc *PaymentContext, base *PaymentContextBase) string {
	switch {
	case pc != nil:
		return pc.OrderID
	case base != nil:
		return base.OrderID
	}
	return ""
}

// OrderID returns the order id from whichever payment context is present.
func (r *PaymentSettlementRequest) OrderID() string {
	return OrderIDOf(r.PaymentContext, r.PaymentContextBase)
}

// OrderID returns the order id from whichever payment context is present.
func (s *PaymentSettlementStatus) OrderID() string {
	return OrderIDOf(s.PaymentContext, s.PaymentContextBase)
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

// MaskPANs masks, in free text (a provider's error, a fault description,
// a parser's error, a header), every card number, as MaskAccount does: a
// run of 13 to 19 digits that passes the Luhn check, written at once or in
// groups split by up to three separators (space, no-break space, tab,
// "-", ".", "_", "/": "4111 1111 1111 1111", "4111-1111-...",
// "4111.1111...", "4111 - 1111 - ..."), the forms a provider or a person
// may write it in. Other text is returned as it is.
func MaskPANs(s string) string {
	var b []byte
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		// groups: the digit runs from i, each split from the next by one
		// space or dash.
		var groups [][2]int
		j := i
		for {
			k := j
			for k < len(s) && isDigit(s[k]) {
				k++
			}
			groups = append(groups, [2]int{j, k})
			if n := separatorLen(s[k:]); n > 0 && k+n < len(s) && isDigit(s[k+n]) {
				j = k + n
				continue
			}
			j = k
			break
		}
		// Every span of whole groups holding 13 to 19 digits that pass
		// the Luhn check is masked but its last four digits.
		for a := range groups {
			var digits []byte
			for z := a; z < len(groups); z++ {
				digits = append(digits, s[groups[z][0]:groups[z][1]]...)
				if len(digits) > 19 {
					break
				}
				if len(digits) < 13 || !luhn(string(digits)) {
					continue
				}
				if b == nil {
					b = []byte(s)
				}
				keep := 4
				for p := groups[z][1] - 1; p >= groups[a][0]; p-- {
					if !isDigit(s[p]) {
						continue
					}
					if keep > 0 {
						keep--
						continue
					}
					b[p] = '*'
				}
			}
		}
		i = j
	}
	if b == nil {
		return s
	}
	return string(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// maxSeparators is the most separator characters MaskPANs takes between
// two groups of one card number.
const maxSeparators = 3

// separatorLen is the length in bytes of the run of at most maxSeparators
// separators s starts with (0: none): space, no-break space (U+00A0), tab,
// '-', '.', '_' or '/'.
func separatorLen(s string) int {
	n := 0
	for range maxSeparators {
		switch {
		case n < len(s) && strings.IndexByte(" \t-._/", s[n]) >= 0:
			n++
		case strings.HasPrefix(s[n:], "\u00a0"):
			n += len("\u00a0")
		default:
			return n
		}
	}
	return n
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
