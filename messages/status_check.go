package messages

import (
	"strings"
	"unicode/utf8"
)

// EncodeStatus encodes a PaymentSettlementStatus the worker built and checks
// it exactly as ValidateStatusDocument would check the encoded document,
// usually without parsing it: body is the document, err is
// ValidateStatusDocument's verdict on it. body is nil only when s cannot be
// encoded at all (err says why); with a body, a non-nil err is the
// document's verdict and the body must not be used.
//
// Why the document need not be parsed: Encode writes the fields of
// PaymentSettlementStatus in the schema's order, each at most once, with
// no other element, attribute or text, so the structure half of
// ValidateStatusDocument finds nothing to report; and when every string
// of s survives encoding unchanged (RoundTrips), the document decodes back
// to s, so the value half reports exactly what s.Validate reports. A
// status with a string that does not survive (invalid UTF-8, a character
// XML cannot carry) is encoded and parsed: the verdict is then the
// document's, as before. TestStatusCheckMatchesDocument holds the two
// verdicts equal over edge cases and FuzzStatusCheckMatchesDocument over
// generated statuses.
func EncodeStatus(s *PaymentSettlementStatus) (body []byte, err error) {
	body, err = Encode(s)
	if err != nil {
		return nil, err
	}
	if !s.RoundTrips() {
		return body, ValidateStatusDocument(body)
	}
	return body, s.Validate()
}

// CheckStatus is EncodeStatus's verdict without the document: nil when
// the encoded s would pass ValidateStatusDocument, else its problems. It
// encodes and parses only a status that RoundTrips says would not survive
// encoding unchanged.
func CheckStatus(s *PaymentSettlementStatus) error {
	if !s.RoundTrips() { // nil included
		_, err := EncodeStatus(s)
		return err
	}
	return s.Validate()
}

// RoundTrips reports whether every string of s is valid UTF-8 made only of
// characters XML 1.0 can carry, so that Encode writes it unchanged and a
// decoder reads back the same string. (encoding/xml writes anything else as
// U+FFFD; carriage returns, tabs and line feeds are escaped where a parser
// would otherwise normalize them, so they survive.) And its currencyCode
// has no white space around it, which the decoder collapses.
func (s *PaymentSettlementStatus) RoundTrips() bool {
	if s == nil {
		return false
	}
	strs := []string{s.TenderType, s.Amount.CurrencyCode, s.Amount.Value, s.SettlementType,
		s.SettlementStatus, s.DeclineReason, s.ClientContext, s.StoreID}
	if pc := s.PaymentContext; pc != nil {
		strs = append(strs, pc.OrderID, pc.PaymentAccountUniqueID.IsToken, pc.PaymentAccountUniqueID.Value)
	}
	if pcb := s.PaymentContextBase; pcb != nil {
		strs = append(strs, pcb.OrderID)
	}
	for _, str := range strs {
		if !xmlSafe(str) {
			return false
		}
	}
	// The decoder collapses white space around a currencyCode (its
	// schema type's whiteSpace facet): such a code does not come back
	// as it went.
	return strings.Trim(s.Amount.CurrencyCode, " \t\r\n") == s.Amount.CurrencyCode
}

// IsXMLText reports whether s is valid UTF-8 made only of characters XML
// 1.0 can carry: a value that a PaymentSettlementStatus can echo unchanged
// (a store id, a tender type).
func IsXMLText(s string) bool { return xmlSafe(s) }

// xmlSafe reports whether str is valid UTF-8 and every character of it is
// in XML 1.0's Char production (the range encoding/xml writes as is).
func xmlSafe(str string) bool {
	for i := 0; i < len(str); {
		c := str[i]
		if c >= 0x20 && c < utf8.RuneSelf { // printable ASCII: the common case
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(str[i:])
		if (r == utf8.RuneError && size == 1) || !xmlChar(r) {
			return false
		}
		i += size
	}
	return true
}

// xmlChar is XML 1.0's Char production: #x9 | #xA | #xD | [#x20-#xD7FF] |
// [#xE000-#xFFFD] | [#x10000-#x10FFFF].
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		(r >= 0x20 && r <= 0xD7FF) ||
		(r >= 0xE000 && r <= 0xFFFD) ||
		(r >= 0x10000 && r <= 0x10FFFF)
}
