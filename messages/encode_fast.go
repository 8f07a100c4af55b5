package messages

import (
	"unicode/utf8"
)

// appendFast appends v as encoding/xml's Encoder writes it, byte for byte,
// without reflection, for the documents every settlement writes: a
// PaymentSettlementRequest without BillingAddress, InvoiceData or
// ShipmentData (its fingerprint, and the request Radial is sent), a
// PaymentSettlementStatus (our event) and a ConfirmFundsRequest. ok is
// false for any other value (b unchanged): the caller takes encoding/xml.
// TestFastEncodingIsEncodingXML and FuzzFastEncodingIsEncodingXML hold the
// two to the same bytes.
func appendFast(b []byte, v any) (_ []byte, ok bool) {
	switch m := v.(type) {
	case *PaymentSettlementRequest:
		if m == nil || m.BillingAddress != nil || m.InvoiceData != nil || m.ShipmentData != nil {
			return b, false
		}
		return m.appendXML(b), true
	case *PaymentSettlementStatus:
		if m == nil {
			return b, false
		}
		return m.appendXML(b), true
	case *ConfirmFundsRequest:
		if m == nil {
			return b, false
		}
		return m.appendXML(b), true
	}
	return b, false
}

func (r *PaymentSettlementRequest) appendXML(b []byte) []byte {
	b = append(b, `<PaymentSettlementRequest xmlns="`+Namespace+`" requestId="`...)
	b = appendEscaped(b, r.RequestID)
	b = append(b, `">`...)
	b = appendContexts(b, r.PaymentContext, r.PaymentContextBase)
	b = appendOptional(b, "InvoiceId", r.InvoiceID)
	b = appendAmount(b, "Amount", &r.Amount)
	if r.TaxAmount != nil {
		b = appendAmount(b, "TaxAmount", r.TaxAmount)
	}
	b = appendElement(b, "SettlementType", r.SettlementType)
	b = appendOptional(b, "AuthorizationResponseCode", r.AuthorizationResponseCode)
	b = appendOptional(b, "AuthorizationDate", r.AuthorizationDate)
	b = appendOptional(b, "ExpirationDate", r.ExpirationDate)
	b = appendOptional(b, "ClientContext", r.ClientContext)
	b = appendOptional(b, "FinalDebit", r.FinalDebit)
	b = appendOptional(b, "OriginatingSystemOrderId", r.OriginatingSystemOrderID)
	b = appendOptional(b, "OmsOrderId", r.OmsOrderID)
	b = appendOptional(b, "RefundReason", r.RefundReason)
	b = appendOptional(b, "ReferenceTransactionId", r.ReferenceTransactionID)
	b = appendOptional(b, "SourceOrderSystem", r.SourceOrderSystem)
	return append(b, `</PaymentSettlementRequest>`...)
}

func (s *PaymentSettlementStatus) appendXML(b []byte) []byte {
	b = append(b, `<PaymentSettlementStatus xmlns="`+Namespace+`">`...)
	b = appendContexts(b, s.PaymentContext, s.PaymentContextBase)
	b = appendElement(b, "TenderType", s.TenderType)
	b = appendAmount(b, "Amount", &s.Amount)
	b = appendElement(b, "SettlementType", s.SettlementType)
	b = appendElement(b, "SettlementStatus", s.SettlementStatus)
	b = appendOptional(b, "DeclineReason", s.DeclineReason)
	b = appendOptional(b, "ClientContext", s.ClientContext)
	b = appendElement(b, "StoreId", s.StoreID)
	return append(b, `</PaymentSettlementStatus>`...)
}

func (c *ConfirmFundsRequest) appendXML(b []byte) []byte {
	b = append(b, `<ConfirmFundsRequest xmlns="`+Namespace+`" requestId="`...)
	b = appendEscaped(b, c.RequestID)
	b = append(b, `">`...)
	b = appendContexts(b, c.PaymentContext, c.PaymentContextBase)
	b = appendAmount(b, "Amount", &c.Amount)
	if c.PerformReauthorization {
		b = append(b, `<PerformReauthorization>true</PerformReauthorization>`...)
	} else {
		b = append(b, `<PerformReauthorization>false</PerformReauthorization>`...)
	}
	return append(b, `</ConfirmFundsRequest>`...)
}

func appendContexts(b []byte, pc *PaymentContext, base *PaymentContextBase) []byte {
	if pc != nil {
		b = append(b, `<PaymentContext>`...)
		b = appendElement(b, "OrderId", pc.OrderID)
		b = append(b, `<PaymentAccountUniqueId isToken="`...)
		b = appendEscaped(b, pc.PaymentAccountUniqueID.IsToken)
		b = append(b, `">`...)
		b = appendEscaped(b, pc.PaymentAccountUniqueID.Value)
		b = append(b, `</PaymentAccountUniqueId></PaymentContext>`...)
	}
	if base != nil {
		b = append(b, `<PaymentContextBase>`...)
		b = appendElement(b, "OrderId", base.OrderID)
		b = append(b, `</PaymentContextBase>`...)
	}
	return b
}

// appendAmount writes <name currencyCode="…">value</name>.
func appendAmount(b []byte, name string, a *Amount) []byte {
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, ` currencyCode="`...)
	b = appendEscaped(b, a.CurrencyCode)
	b = append(b, `">`...)
	b = appendEscaped(b, a.Value)
	return appendEnd(b, name)
}

// appendOptional writes an omitempty element: nothing for "".
func appendOptional(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	return appendElement(b, name, value)
}

// appendElement writes <name>value</name>, also for "".
func appendElement(b []byte, name, value string) []byte {
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, '>')
	b = appendEscaped(b, value)
	return appendEnd(b, name)
}

func appendEnd(b []byte, name string) []byte {
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, '>')
}

// appendEscaped is encoding/xml's escaping of text and attribute values
// (printer.EscapeString): the five markup characters, tab, newline and
// carriage return as references, and anything outside XML's character
// range (or a byte that is not UTF-8) as U+FFFD.
func appendEscaped(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		r, width := utf8.DecodeRuneInString(s[i:])
		i += width
		var esc string
		switch r {
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\t':
			esc = "&#x9;"
		case '\n':
			esc = "&#xA;"
		case '\r':
			esc = "&#xD;"
		default:
			if !xmlChar(r) || (r == utf8.RuneError && width == 1) {
				esc = "\uFFFD"
				break
			}
			continue
		}
		b = append(b, s[last:i-width]...)
		b = append(b, esc...)
		last = i
	}
	return append(b, s[last:]...)
}
