package messages

import (
	"bytes"
	"encoding/xml"
	"unicode/utf8"
)

// decodeFast reads the documents the worker decodes for every settlement
// (the request and its list, Radial's status and its list, the
// funds-confirmation reply, the ack) without encoding/xml: a scanner over
// the bytes of the canonical shape, writing each value into its field.
// It gives exactly what decodeOnce (and the two passes) give, or declines
// (ok false, the caller takes decodeOnce): it accepts only
//
//   - a prolog of white space and at most one XML declaration in one of
//     the forms of xmlDecls (version 1.0, UTF-8);
//   - the root element unprefixed, with xmlns="Namespace" and, on a
//     request, requestId; every other element unprefixed, known to its
//     parent's Go type, with no attribute but those the type reads
//     (currencyCode, isToken, type, lidCode, lineId, rate), each once;
//   - a single-valued child at most once; between the children of an
//     element that holds no text, only white space;
//   - text of characters XML allows (no raw carriage return, which
//     encoding/xml rewrites, no "]]>", not even in an attribute value,
//     where encoding/xml allows it), with the five predefined entities
//     and decimal (&#65;) or hexadecimal (&#x41;, &#x4a;: a lower-case x,
//     digits of either case) character references of at most eight
//     digits to a character XML allows;
//   - after the root, white space only.
//
// Comments, CDATA sections, processing instructions other than the XML
// declaration, other namespace declarations, unknown elements and
// attributes: declined, as any type decodeFast does not read. decodeXML
// calls it only for a body without "<!"; TestDecodeFastMatchesTwoPasses,
// TestDecodeFastEdges and FuzzDecodeFastMatchesTwoPasses hold it equal
// to the two passes where it accepts.
func decodeFast[T any](body []byte) (*T, bool) {
	d := fastDecoder{b: body}
	var v any
	switch any((*T)(nil)).(type) {
	case *PaymentSettlementRequest:
		p := new(PaymentSettlementRequest)
		v = p
		d.document(rootSettlementRequest, "requestId", &p.RequestID, func(name []byte, empty bool) bool {
			p.XMLName = xml.Name{Space: Namespace, Local: rootSettlementRequest}
			return d.request(p, name, empty)
		})
	case *PaymentSettlementRequestList:
		p := new(PaymentSettlementRequestList)
		v = p
		d.document(rootSettlementRequestList, "", nil, func(name []byte, empty bool) bool {
			p.XMLName = xml.Name{Space: Namespace, Local: rootSettlementRequestList}
			return d.children(name, empty, func(c []byte, empty bool) (uint64, bool) {
				if string(c) != rootSettlementRequest {
					return 0, false
				}
				r := appendNew(&p.Requests)
				r.XMLName = xml.Name{Space: Namespace, Local: rootSettlementRequest}
				return 0, d.nsAttrs(false, "requestId", &r.RequestID) && d.request(r, c, empty)
			})
		})
	case *PaymentSettlementStatus:
		p := new(PaymentSettlementStatus)
		v = p
		d.document(rootSettlementStatus, "", nil, func(name []byte, empty bool) bool {
			return d.status(p, name, empty)
		})
	case *PaymentSettlementStatusList:
		p := new(PaymentSettlementStatusList)
		v = p
		d.document(rootStatusList, "", nil, func(name []byte, empty bool) bool {
			p.XMLName = xml.Name{Space: Namespace, Local: rootStatusList}
			return d.children(name, empty, func(c []byte, empty bool) (uint64, bool) {
				if string(c) != rootSettlementStatus || !d.nsAttrs(false, "", nil) {
					return 0, false
				}
				return 0, d.status(appendNew(&p.Statuses), c, empty)
			})
		})
	case *ConfirmFundsReply:
		p := new(ConfirmFundsReply)
		v = p
		d.document(rootConfirmFundsReply, "", nil, func(name []byte, empty bool) bool {
			return d.fundsReply(p, name, empty)
		})
	case *AckReply:
		p := new(AckReply)
		v = p
		d.document(rootAckReply, "", nil, func(name []byte, empty bool) bool {
			p.XMLName = xml.Name{Space: Namespace, Local: rootAckReply}
			return d.children(name, empty, func(c []byte, empty bool) (uint64, bool) {
				if string(c) != "Received" {
					return 0, false
				}
				p.Received = &struct{}{}
				return 1, d.bare(c, empty, noChild)
			})
		})
	default:
		return nil, false
	}
	if !d.ok {
		return nil, false
	}
	return v.(*T), true
}

// fastDecoder is decodeFast's scanner: b read up to i.
type fastDecoder struct {
	b []byte
	i int
	// attrs are the attributes of the last start tag read (nattr of them).
	attrs [fastMaxAttrs]fastAttr
	nattr int
	// scratch holds text with references while it is decoded.
	scratch []byte
	// ok is set by document when the whole body was read.
	ok bool
}

// fastMaxAttrs is the most attributes a start tag may have: no element
// of these documents has more than two.
const fastMaxAttrs = 4

type fastAttr struct {
	name []byte
	val  string
}

// xmlDecls are the XML declarations decodeFast reads (any other one, and
// any other processing instruction, is declined): what Go, Java and
// libxml2 write.
var xmlDecls = [][]byte{
	[]byte(`<?xml version="1.0" encoding="UTF-8"?>`),
	[]byte(`<?xml version="1.0" encoding="utf-8"?>`),
	[]byte(`<?xml version="1.0"?>`),
	[]byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`),
	[]byte(`<?xml version="1.0" encoding="UTF-8" standalone="no"?>`),
	[]byte(`<?xml version='1.0' encoding='UTF-8'?>`),
	[]byte(`<?xml version='1.0' encoding='utf-8'?>`),
}

// document reads the prolog, the root element named root (its attributes
// xmlns="Namespace" and, when attr is not "", attr into *val), its
// content by content, and the white space after it; d.ok says whether
// all of it was read.
func (d *fastDecoder) document(root, attr string, val *string, content func(name []byte, empty bool) bool) {
	d.skipSpace()
	if bytes.HasPrefix(d.b[d.i:], []byte("<?")) {
		decl := false
		for _, x := range xmlDecls {
			if bytes.HasPrefix(d.b[d.i:], x) {
				d.i += len(x)
				decl = true
				break
			}
		}
		if !decl {
			return
		}
		d.skipSpace()
	}
	name, empty, ok := d.startTag()
	if !ok || string(name) != root || !d.nsAttrs(true, attr, val) || !content(name, empty) {
		return
	}
	d.skipSpace()
	d.ok = d.i == len(d.b)
}

// nsAttrs checks the attributes of the root, or of a document in a list
// (Encode writes the namespace on each): xmlns="Namespace" (required on
// the root: ns) and, when attr is not "", attr (into *val), each at most
// once, nothing else.
func (d *fastDecoder) nsAttrs(ns bool, attr string, val *string) bool {
	var xmlns, other bool
	for _, a := range d.attrs[:d.nattr] {
		switch {
		case string(a.name) == "xmlns" && !xmlns && a.val == Namespace:
			xmlns = true
		case attr != "" && string(a.name) == attr && !other:
			other = true
			*val = a.val
		default:
			return false
		}
	}
	return xmlns || !ns
}

// oneAttr returns the value of the start tag's attribute name: "" when
// it has none; ok false when it has another one, or more than one.
func (d *fastDecoder) oneAttr(name string) (string, bool) {
	switch {
	case d.nattr == 0:
		return "", true
	case d.nattr == 1 && string(d.attrs[0].name) == name:
		return d.attrs[0].val, true
	}
	return "", false
}

// twoAttrs is oneAttr for an element with two attributes.
func (d *fastDecoder) twoAttrs(n1, n2 string) (v1, v2 string, ok bool) {
	var s1, s2 bool
	for _, a := range d.attrs[:d.nattr] {
		switch {
		case string(a.name) == n1 && !s1:
			v1, s1 = a.val, true
		case string(a.name) == n2 && !s2:
			v2, s2 = a.val, true
		default:
			return "", "", false
		}
	}
	return v1, v2, true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipSpace skips white space: between tags, and inside them, where
// encoding/xml skips it and a carriage return is not text.
func (d *fastDecoder) skipSpace() {
	for d.i < len(d.b) && isSpace(d.b[d.i]) {
		d.i++
	}
}

// isFastNameByte reports whether c may be in a name decodeFast reads
// (ASCII only; a name with any other byte is declined).
func isFastNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':'
}

// name reads a name: the bytes up to one that is not a name byte.
func (d *fastDecoder) name() []byte {
	start := d.i
	for d.i < len(d.b) && isFastNameByte(d.b[d.i]) {
		d.i++
	}
	return d.b[start:d.i]
}

// startTag reads a start tag at d.i ("<name", attributes, ">" or "/>"),
// its attributes into d.attrs. empty is set for "<name/>".
func (d *fastDecoder) startTag() (name []byte, empty, ok bool) {
	if d.i >= len(d.b) || d.b[d.i] != '<' {
		return nil, false, false
	}
	d.i++
	name = d.name()
	if len(name) == 0 {
		return nil, false, false
	}
	d.nattr = 0
	for {
		space := d.i
		d.skipSpace()
		if d.i >= len(d.b) {
			return nil, false, false
		}
		switch d.b[d.i] {
		case '>':
			d.i++
			return name, false, true
		case '/':
			if d.i+1 >= len(d.b) || d.b[d.i+1] != '>' {
				return nil, false, false
			}
			d.i += 2
			return name, true, true
		}
		if d.i == space || d.nattr == fastMaxAttrs || !d.attr() {
			return nil, false, false
		}
	}
}

// attr reads one attribute, name="value" or name='value', into d.attrs.
func (d *fastDecoder) attr() bool {
	a := &d.attrs[d.nattr]
	a.name = d.name()
	if len(a.name) == 0 {
		return false
	}
	d.skipSpace()
	if d.i >= len(d.b) || d.b[d.i] != '=' {
		return false
	}
	d.i++
	d.skipSpace()
	if d.i >= len(d.b) || (d.b[d.i] != '"' && d.b[d.i] != '\'') {
		return false
	}
	quote := d.b[d.i]
	d.i++
	val, ok := d.text(quote)
	if !ok {
		return false
	}
	d.i++ // the closing quote
	a.val = val
	d.nattr++
	return true
}

// endTag reads "</name>" (white space allowed before the ">").
func (d *fastDecoder) endTag(name []byte) bool {
	rest := d.b[d.i:]
	if len(rest) < 3+len(name) || rest[0] != '<' || rest[1] != '/' || !bytes.Equal(rest[2:2+len(name)], name) {
		return false
	}
	d.i += 2 + len(name)
	d.skipSpace()
	if d.i >= len(d.b) || d.b[d.i] != '>' {
		return false
	}
	d.i++
	return true
}

// text reads character data up to stop ('<' for element content, the
// quote for an attribute value), not consumed, and returns it decoded.
// It declines what encoding/xml refuses or rewrites (fastText).
func (d *fastDecoder) text(stop byte) (string, bool) {
	for i := d.i; i < len(d.b); i++ {
		switch c := d.b[i]; {
		case c == stop:
			s := string(d.b[d.i:i])
			d.i = i
			return s, true
		case c == '&' || c == '<' || c == '>' || c < 0x20 || c >= utf8.RuneSelf:
			return d.textSlow(stop)
		}
	}
	return "", false
}

// textSlow is text for character data with a reference, a byte outside
// printable ASCII, '<' or '>' in it.
func (d *fastDecoder) textSlow(stop byte) (string, bool) {
	buf := d.scratch[:0]
	start := d.i
	for i := start; i < len(d.b); {
		c := d.b[i]
		switch {
		case c == stop:
			d.scratch = buf
			d.i = i
			return string(buf), true
		case c == '<':
			return "", false // in an attribute value: refused by encoding/xml
		case c == '>':
			if i-start >= 2 && d.b[i-1] == ']' && d.b[i-2] == ']' {
				return "", false // "]]>" outside a CDATA section
			}
		case c == '&':
			r, n := charEntity(d.b[i:])
			if n == 0 {
				return "", false
			}
			buf = utf8.AppendRune(buf, r)
			i += n
			continue
		case c < 0x20:
			if c != '\t' && c != '\n' {
				return "", false // '\r' is rewritten, the others refused
			}
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(d.b[i:])
			if r == utf8.RuneError && size == 1 || !isXMLChar(r) {
				return "", false
			}
			buf = append(buf, d.b[i:i+size]...)
			i += size
			continue
		}
		buf = append(buf, c)
		i++
	}
	return "", false
}

// charEntity decodes the reference at the start of b: one of the five
// predefined entities, or a character reference of one to eight digits
// (&#65; or &#x41;, lower-case x, as encoding/xml reads it) to a
// character XML allows. n is its length, 0 if it is none of these.
func charEntity(b []byte) (r rune, n int) {
	for _, e := range predefined {
		if bytes.HasPrefix(b, e.ref) {
			return e.r, len(e.ref)
		}
	}
	if len(b) < 4 || b[1] != '#' {
		return 0, 0
	}
	i, base := 2, rune(10)
	if b[2] == 'x' {
		i, base = 3, 16
	}
	start := i
	for ; i < len(b) && i-start <= 8; i++ {
		c := b[i]
		var v rune
		switch {
		case '0' <= c && c <= '9':
			v = rune(c - '0')
		case base == 16 && 'a' <= c && c <= 'f':
			v = rune(c-'a') + 10
		case base == 16 && 'A' <= c && c <= 'F':
			v = rune(c-'A') + 10
		case c == ';' && i > start && isXMLChar(r):
			return r, i + 1
		default:
			return 0, 0
		}
		r = r*base + v
		if r > utf8.MaxRune {
			return 0, 0
		}
	}
	return 0, 0
}

var predefined = []struct {
	ref []byte
	r   rune
}{
	{[]byte("&lt;"), '<'},
	{[]byte("&gt;"), '>'},
	{[]byte("&amp;"), '&'},
	{[]byte("&apos;"), '\''},
	{[]byte("&quot;"), '"'},
}

// isXMLChar is encoding/xml's isInCharacterRange: the characters XML 1.0
// allows (no surrogate, U+FFFE or U+FFFF, no control but tab, newline and
// carriage return).
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// noChild is the child function of an element that has no known child.
func noChild([]byte, bool) (uint64, bool) { return 0, false }

// appendNew appends a zero T to *s and returns it: the element of a
// repeatable child, filled in place.
func appendNew[T any](s *[]T) *T {
	*s = append(*s, *new(T))
	return &(*s)[len(*s)-1]
}

// bare is children for an element that may have no attribute.
func (d *fastDecoder) bare(name []byte, empty bool, child func(c []byte, empty bool) (once uint64, ok bool)) bool {
	return d.nattr == 0 && d.children(name, empty, child)
}

// children reads the content of an element that holds no text (its start
// tag name read; empty for "<name/>"): white space and child elements up
// to "</name>". child reads each child from its start tag (d.attrs are
// its attributes) and returns once, the bit of a single-valued child (0
// for a repeatable one): a bit seen twice declines.
func (d *fastDecoder) children(name []byte, empty bool, child func(c []byte, empty bool) (once uint64, ok bool)) bool {
	if empty {
		return true
	}
	var seen uint64
	for {
		d.skipSpace()
		if d.i+1 >= len(d.b) {
			return false
		}
		if d.b[d.i] == '<' && d.b[d.i+1] == '/' {
			return d.endTag(name)
		}
		c, cempty, ok := d.startTag()
		if !ok {
			return false
		}
		once, ok := child(c, cempty)
		if !ok || seen&once != 0 {
			return false
		}
		seen |= once
	}
}

// content reads the text of a text-only element up to "</name>" into
// *dst.
func (d *fastDecoder) content(dst *string, name []byte, empty bool) bool {
	if empty {
		*dst = ""
		return true
	}
	s, ok := d.text('<')
	if !ok || !d.endTag(name) {
		return false
	}
	*dst = s
	return true
}

// str reads a text element without attributes into *dst.
func (d *fastDecoder) str(dst *string, name []byte, empty bool) bool {
	return d.nattr == 0 && d.content(dst, name, empty)
}

// amount reads an Amount (@currencyCode, its text).
func (d *fastDecoder) amount(a *Amount, name []byte, empty bool) bool {
	cc, ok := d.oneAttr("currencyCode")
	a.CurrencyCode = cc
	return ok && d.content(&a.Value, name, empty)
}

// newAmount is amount into a new *Amount.
func (d *fastDecoder) newAmount(dst **Amount, name []byte, empty bool) bool {
	*dst = new(Amount)
	return d.amount(*dst, name, empty)
}

func (d *fastDecoder) paymentContext(dst **PaymentContext, name []byte, empty bool) bool {
	v := new(PaymentContext)
	*dst = v
	return d.bare(name, empty, func(c []byte, empty bool) (uint64, bool) {
		switch string(c) {
		case "OrderId":
			return 1 << 0, d.str(&v.OrderID, c, empty)
		case "PaymentAccountUniqueId":
			tok, ok := d.oneAttr("isToken")
			v.PaymentAccountUniqueID.IsToken = tok
			return 1 << 1, ok && d.content(&v.PaymentAccountUniqueID.Value, c, empty)
		}
		return 0, false
	})
}

func (d *fastDecoder) paymentContextBase(dst **PaymentContextBase, name []byte, empty bool) bool {
	v := new(PaymentContextBase)
	*dst = v
	return d.bare(name, empty, func(c []byte, empty bool) (uint64, bool) {
		if string(c) == "OrderId" {
			return 1, d.str(&v.OrderID, c, empty)
		}
		return 0, false
	})
}

// request reads the content of a PaymentSettlementRequest (its
// requestId read by the caller).
func (d *fastDecoder) request(v *PaymentSettlementRequest, name []byte, empty bool) bool {
	return d.children(name, empty, func(c []byte, empty bool) (uint64, bool) {
		switch string(c) {
		case "PaymentContext":
			return 1 << 0, d.paymentContext(&v.PaymentContext, c, empty)
		case "PaymentContextBase":
			return 1 << 1, d.paymentContextBase(&v.PaymentContextBase, c, empty)
		case "InvoiceId":
			return 1 << 2, d.str(&v.InvoiceID, c, empty)
		case "Amount":
			return 1 << 3, d.amount(&v.Amount, c, empty)
		case "TaxAmount":
			return 1 << 4, d.newAmount(&v.TaxAmount, c, empty)
		case "SettlementType":
			return 1 << 5, d.str(&v.SettlementType, c, empty)
		case "AuthorizationResponseCode":
			return 1 << 6, d.str(&v.AuthorizationResponseCode, c, empty)
		case "AuthorizationDate":
			return 1 << 7, d.str(&v.AuthorizationDate, c, empty)
		case "ExpirationDate":
			return 1 << 8, d.str(&v.ExpirationDate, c, empty)
		case "ClientContext":
			return 1 << 9, d.str(&v.ClientContext, c, empty)
		case "FinalDebit":
			return 1 << 10, d.str(&v.FinalDebit, c, empty)
		case "OriginatingSystemOrderId":
			return 1 << 11, d.str(&v.OriginatingSystemOrderID, c, empty)
		case "OmsOrderId":
			return 1 << 12, d.str(&v.OmsOrderID, c, empty)
		case "BillingAddress":
			return 1 << 13, d.billingAddress(&v.BillingAddress, c, empty)
		case "InvoiceData":
			return 1 << 14, d.invoiceData(&v.InvoiceData, c, empty)
		case "ShipmentData":
			return 0, d.shipmentData(appendNew(&v.ShipmentData), c, empty)
		case "RefundReason":
			return 1 << 15, d.str(&v.RefundReason, c, empty)
		case "ReferenceTransactionId":
			return 1 << 16, d.str(&v.ReferenceTransactionID, c, empty)
		case "SourceOrderSystem":
			return 1 << 17, d.str(&v.SourceOrderSystem, c, empty)
		}
		return 0, false
	})
}

func (d *fastDecoder) billingAddress(dst **BillingAddress, name []byte, empty bool) bool {
	v := new(BillingAddress)
	*dst = v
	return d.bare(name, empty, func(c []byte, empty bool) (uint64, bool) {
		switch string(c) {
		case "PersonName":
			return 1 << 0, d.personName(&v.PersonName, c, empty)
		case "Address":
			return 1 << 1, d.address(&v.Address, c, empty)
		}
		return 0, false
	})
}

func (d *fastDecoder) personName(dst **PersonName, name []byte, empty bool) bool {
	p := new(PersonName)
	*dst = p
	return d.bare(name, empty, func(c []byte, empty bool) (uint64, bool) {
		switch string(c) {
		case "Honorific":
			return 1 << 0, d.str(&p.Honorific, c, empty)
		case "LastName":
			return 1 << 1, d.str(&p.LastName, c, empty)
		case "MiddleName":
			return 1 << 2, d.str(&p.MiddleName, c, empty)
		case "FirstName":
			return 1 << 3, d.str(&p.FirstName, c, empty)
		}
		return 0, false
	})
}

func (d *fastDecoder) address(dst **Address, name []byte, empty bool) bool {
	a := new(Address)
	*dst = a
	return d.bare(name, empty, func(c []byte, empty bool) (uint64, bool) {
		switch string(c) {
		case "Line1":
			return 1 << 0, d.str(&a.Line1, c, empty)
		case "Line2":
			return 1 << 1, d.str(&a.Line2, c, empty)
		case "Line3":
			return 1 << 2, d.str(&a.Line3, c, empty)
		case "Line4":
			return 1 << 3, d.str(&a.Line4, c, empty)
		case "City":
			return 1 << 4, d.str(&a.City, c, empty)
		case "MainDivision":
			return 1 << 5, d.str(&a.MainDivision, c, empty)
		case "CountryCode":
			return 1 << 6, d.str(&a.CountryCode, c, empty)
		case "PostalCode":
			return 1 << 7, d.str(&a.PostalCode, c, empty)
		}
		return 0, false
	})
}

func (d *fastDecoder) invoiceData(dst **InvoiceData, name []byte, empty bool) bool {
	v := new(InvoiceData)
	*dst = v
	typ, ok := d.oneAttr("type")
	v.Type = typ
	return ok && d.children(name, empty, func(c []byte, empty bool) (uint64, bool) {
		switch string(c) {
		case "VATData":
			return 1 << 0, d.vatData(&v.VATData, c, empty)
		case "LineItems":
			return 1 << 1, d.lineItems(&v.LineItems, c, empty)
		case "CustomAttributes":
			return 1 << 2, d.customAttributes(&v.CustomAttributes, c, empty)
		}
		return 0, false
	})
}

func (d *fastDecoder) lineItems(dst **LineItems, name []byte, empty bool) bool {
	v := new(LineItems)
	*dst = v
	return d.bare(name, empty, func(c []byte, empty bool) (uint64, bool) {
		if string(c) != "LineItem" {
			return 0, false
		}
		return 0, d.lineItem(appendNew(&v.LineItem), c, empty)
	})
}

func (d *fastDecoder) vatData(dst **VATData, name []byte, empty bool) bool {
	v := new(VATData)
	*dst = v
	return d.bare(name, empty, func(c []byte, empty bool) (uint64, bool) {
		switch string(c) {
		case "VATInvoiceNumber":
			return 1 << 0, d.str(&v.VATInvoiceNumber, c, empty)
		case "VATInvoiceDate":
			return 1 << 1, d.str(&v.VATInvoiceDate, c, empty)
		case "OriginalVATInvoiceDetails":
			return 1 << 2, d.originalVATInvoices(&v.OriginalVATInvoiceDetails, c, empty)
		case "VATRateInfo":
			return 1 << 3, d.vatRateInfo(&v.VATRateInfo, c, empty)
		case "BalanceClearedAmount":
			return 1 << 4, d.newAmount(&v.BalanceClearedAmount, c, empty)
		case "InvoicePresentment":
			return 1 << 5, d.str(&v.InvoicePresentment, c, empty)
		}
		return 0, false
	})
}

func (d *fastDecoder) originalVATInvoices(dst **OriginalVATInvoiceDetails, name []byte, empty bool) bool {
	v := new(OriginalVATInvoiceDetails)
	*dst = v
	return d.bare(name, empty, func(c []byte, empty bool) (uint64, bool) {
		if string(c) != "OriginalVATInvoice" {
			return 0, false
		}
		inv := appendNew(&v.OriginalVATInvoice)
		return 0, d.bare(c, empty, func(c []byte, empty bool) (uint64, bool) {
			switch string(c) {
			case "OriginalVATInvoiceNumber":
				return 1 << 0, d.str(&inv.OriginalVATInvoiceNumber, c, empty)
			case "OriginalVATInvoiceDate":
				return 1 << 1, d.str(&inv.OriginalVATInvoiceDate, c, empty)
			}
			return 0, false
		})
	})
}

func (d *fastDecoder) vatRateInfo(dst **VATRateInfo, name []byte, empty bool) bool {
	v := new(VATRateInfo)
	*dst = v
	return d.bare(name, empty, func(c []byte, empty bool) (uint64, bool) {
		if string(c) != "VAT" {
			return 0, false
		}
		vat := appendNew(&v.VAT)
		rate, ok := d.oneAttr("rate")
		vat.Rate = rate
		return 0, ok && d.children(c, empty, func(c []byte, empty bool) (uint64, bool) {
			switch string(c) {
			case "VATRegistrationId":
				return 1 << 0, d.str(&vat.VATRegistrationID, c, empty)
			case "Amount":
				return 1 << 1, d.newAmount(&vat.Amount, c, empty)
			}
			return 0, false
		})
	})
}

func (d *fastDecoder) customAttributes(dst **CustomAttributes, name []byte, empty bool) bool {
	v := new(CustomAttributes)
	*dst = v
	return d.bare(name, empty, func(c []byte, empty bool) (uint64, bool) {
		if string(c) != "CustomAttribute" {
			return 0, false
		}
		a := appendNew(&v.CustomAttribute)
		return 0, d.bare(c, empty, func(c []byte, empty bool) (uint64, bool) {
			switch string(c) {
			case "Key":
				return 1 << 0, d.str(&a.Key, c, empty)
			case "Value":
				return 1 << 1, d.str(&a.Value, c, empty)
			}
			return 0, false
		})
	})
}

func (d *fastDecoder) lineItem(v *LineItem, name []byte, empty bool) bool {
	lid, line, ok := d.twoAttrs("lidCode", "lineId")
	v.LidCode, v.LineID = lid, line
	return ok && d.children(name, empty, func(c []byte, empty bool) (uint64, bool) {
		switch string(c) {
		case "ItemId":
			return 1 << 0, d.str(&v.ItemID, c, empty)
		case "ClientItemId":
			return 1 << 1, d.str(&v.ClientItemID, c, empty)
		case "Quantity":
			return 1 << 2, d.str(&v.Quantity, c, empty)
		case "ItemShortDescription":
			return 1 << 3, d.str(&v.ItemShortDescription, c, empty)
		case "VATInclusiveUnitPrice":
			return 1 << 4, d.newAmount(&v.VATInclusiveUnitPrice, c, empty)
		case "VATRateInfo":
			return 1 << 5, d.vatRateInfo(&v.VATRateInfo, c, empty)
		case "CustomAttributes":
			return 1 << 6, d.customAttributes(&v.CustomAttributes, c, empty)
		}
		return 0, false
	})
}

func (d *fastDecoder) shipmentData(v *ShipmentData, name []byte, empty bool) bool {
	return d.bare(name, empty, func(c []byte, empty bool) (uint64, bool) {
		switch string(c) {
		case "ShipmentCount":
			return 1 << 0, d.shipmentCount(&v.ShipmentCount, c, empty)
		case "ShippedDate":
			return 1 << 1, d.str(&v.ShippedDate, c, empty)
		case "Carrier":
			return 1 << 2, d.carrier(&v.Carrier, c, empty)
		case "TrackingId":
			return 1 << 3, d.str(&v.TrackingID, c, empty)
		case "DeliveryOption":
			return 1 << 4, d.str(&v.DeliveryOption, c, empty)
		}
		return 0, false
	})
}

func (d *fastDecoder) shipmentCount(dst **ShipmentCount, name []byte, empty bool) bool {
	v := new(ShipmentCount)
	*dst = v
	return d.bare(name, empty, func(c []byte, empty bool) (uint64, bool) {
		switch string(c) {
		case "CurrentCount":
			return 1 << 0, d.str(&v.CurrentCount, c, empty)
		case "TotalCount":
			return 1 << 1, d.str(&v.TotalCount, c, empty)
		}
		return 0, false
	})
}

func (d *fastDecoder) carrier(dst **Carrier, name []byte, empty bool) bool {
	v := new(Carrier)
	*dst = v
	return d.bare(name, empty, func(c []byte, empty bool) (uint64, bool) {
		switch string(c) {
		case "Name":
			return 1 << 0, d.str(&v.Name, c, empty)
		case "Service":
			return 1 << 1, d.str(&v.Service, c, empty)
		}
		return 0, false
	})
}

// status reads a PaymentSettlementStatus element (the root, or one of a
// list), its XMLName set as Unmarshal sets it.
func (d *fastDecoder) status(v *PaymentSettlementStatus, name []byte, empty bool) bool {
	v.XMLName = xml.Name{Space: Namespace, Local: rootSettlementStatus}
	return d.children(name, empty, func(c []byte, empty bool) (uint64, bool) {
		switch string(c) {
		case "PaymentContext":
			return 1 << 0, d.paymentContext(&v.PaymentContext, c, empty)
		case "PaymentContextBase":
			return 1 << 1, d.paymentContextBase(&v.PaymentContextBase, c, empty)
		case "TenderType":
			return 1 << 2, d.str(&v.TenderType, c, empty)
		case "Amount":
			return 1 << 3, d.amount(&v.Amount, c, empty)
		case "SettlementType":
			return 1 << 4, d.str(&v.SettlementType, c, empty)
		case "SettlementStatus":
			return 1 << 5, d.str(&v.SettlementStatus, c, empty)
		case "DeclineReason":
			return 1 << 6, d.str(&v.DeclineReason, c, empty)
		case "ClientContext":
			return 1 << 7, d.str(&v.ClientContext, c, empty)
		case "StoreId":
			return 1 << 8, d.str(&v.StoreID, c, empty)
		}
		return 0, false
	})
}

// fundsReply reads a ConfirmFundsReply.
func (d *fastDecoder) fundsReply(v *ConfirmFundsReply, name []byte, empty bool) bool {
	v.XMLName = xml.Name{Space: Namespace, Local: rootConfirmFundsReply}
	return d.children(name, empty, func(c []byte, empty bool) (uint64, bool) {
		switch string(c) {
		case "PaymentContext":
			return 1 << 0, d.paymentContext(&v.PaymentContext, c, empty)
		case "PaymentContextBase":
			return 1 << 1, d.paymentContextBase(&v.PaymentContextBase, c, empty)
		case "FundsAvailable":
			return 1 << 2, d.str(&v.FundsAvailable, c, empty)
		case "ReauthorizationAttempted":
			return 1 << 3, d.str(&v.ReauthorizationAttempted, c, empty)
		}
		return 0, false
	})
}
