package messages

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// Root element names of the messages the codec decodes.
const (
	rootSettlementRequest     = "PaymentSettlementRequest"
	rootSettlementRequestList = "PaymentSettlementRequestList"
	rootSettlementStatus      = "PaymentSettlementStatus"
	rootStatusList            = "PaymentSettlementStatusList"
	rootConfirmFundsRequest   = "ConfirmFundsRequest"
	rootConfirmFundsReply     = "ConfirmFundsReply"
	rootAckReply              = "AckReply"
	rootFault                 = "Fault"
)

// DecodeSettlementRequest parses a PaymentSettlementRequest. It returns a
// *ParseError when the body is not well-formed XML, declares a DOCTYPE or
// entities, or has another root element or namespace. It does not validate:
// call Validate on the result.
//
// A character reference to a surrogate (&#xD800; to &#xDFFF;), which XML
// 1.0 does not allow, is refused too: encoding/xml would read it as U+FFFD
// without a word (refuseSurrogateRefs; every decoder of this package).
func DecodeSettlementRequest(body []byte) (*PaymentSettlementRequest, error) {
	return decodeXML[PaymentSettlementRequest](body, rootSettlementRequest)
}

// DecodeSettlementRequestList parses a PaymentSettlementRequestList, like
// DecodeSettlementRequest.
func DecodeSettlementRequestList(body []byte) (*PaymentSettlementRequestList, error) {
	return decodeXML[PaymentSettlementRequestList](body, rootSettlementRequestList)
}

// charRef starts every character reference.
var charRef = []byte("&#")

// refuseSurrogateRefs returns a *ParseError when body holds a character
// reference to a surrogate (U+D800 to U+DFFF) outside comments, CDATA
// sections and processing instructions (where "&#" is text). XML 1.0
// allows a reference only to a Char (well-formedness constraint Legal
// Character), and encoding/xml, which refuses &#x1; and &#xFFFE;, writes
// such a one as string(rune(n)): U+FFFD. "ORD&#xD800;" and "ORD&#xDC00;"
// would be one order id, one the sender never wrote, sent to the provider
// and recorded (the JSON decoder refuses a lone surrogate escape for the
// same reason). A body without "&#" is not scanned further.
func refuseSurrogateRefs(body []byte) error {
	if !bytes.Contains(body, charRef) {
		return nil
	}
	skip := func(i int, open, close string) int {
		k := bytes.Index(body[i+len(open):], []byte(close))
		if k < 0 {
			return len(body)
		}
		return i + len(open) + k + len(close)
	}
	for i := 0; i < len(body); {
		rest := body[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			i = skip(i, "<!--", "-->")
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			i = skip(i, "<![CDATA[", "]]>")
		case bytes.HasPrefix(rest, []byte("<?")):
			i = skip(i, "<?", "?>")
		case bytes.HasPrefix(rest, charRef):
			j, base := i+2, 10
			if j < len(body) && body[j] == 'x' {
				j, base = j+1, 16
			}
			start := j
			for j < len(body) && (body[j] >= '0' && body[j] <= '9' || base == 16 && (body[j]|0x20 >= 'a' && body[j]|0x20 <= 'f')) {
				j++
			}
			if j < len(body) && body[j] == ';' && j > start {
				if n, err := strconv.ParseUint(string(body[start:j]), base, 64); err == nil && n >= 0xD800 && n <= 0xDFFF {
					ref := string(body[i : j+1])
					if len(ref) > 24 {
						ref = ref[:12] + "…;"
					}
					return &ParseError{Msg: fmt.Sprintf("body is not well-formed XML: character reference %s is to a surrogate (U+%04X), which XML 1.0 does not allow", ref, n)}
				}
			}
			i = j
		default:
			i++
		}
	}
	return nil
}

// DecodeSettlementStatus parses a PaymentSettlementStatus received from
// Radial. Unknown elements (schema extensions) are ignored.
func DecodeSettlementStatus(body []byte) (*PaymentSettlementStatus, error) {
	return decodeXML[PaymentSettlementStatus](body, rootSettlementStatus)
}

// DecodeStatusList parses a PaymentSettlementStatusList (webhook delivery).
func DecodeStatusList(body []byte) (*PaymentSettlementStatusList, error) {
	return decodeXML[PaymentSettlementStatusList](body, rootStatusList)
}

// DecodeConfirmFundsRequest parses a ConfirmFundsRequest.
func DecodeConfirmFundsRequest(body []byte) (*ConfirmFundsRequest, error) {
	return decodeXML[ConfirmFundsRequest](body, rootConfirmFundsRequest)
}

// DecodeConfirmFundsReply parses a ConfirmFundsReply. Unknown elements are
// ignored.
func DecodeConfirmFundsReply(body []byte) (*ConfirmFundsReply, error) {
	return decodeXML[ConfirmFundsReply](body, rootConfirmFundsReply)
}

// DecodeAckReply parses an AckReply. Unknown elements are ignored.
func DecodeAckReply(body []byte) (*AckReply, error) {
	return decodeXML[AckReply](body, rootAckReply)
}

// DecodeFault parses a Fault reply. Unknown elements are ignored.
func DecodeFault(body []byte) (*Fault, error) {
	return decodeXML[Fault](body, rootFault)
}

// decodeXML checks the body (well-formed, no DOCTYPE, one root element named
// root in Namespace, no reference to a surrogate) and unmarshals it into a
// new T. Every document is refused a surrogate reference, a provider's
// reply and a Radial status as well as a request: read as U+FFFD, it
// would be a document its sender never wrote, taken for an answer.
//
// A body without "<!" (no DOCTYPE, entity declaration, comment or CDATA
// section can be in it) is read by decodeFast (the canonical shape of the
// documents the worker decodes for every settlement, without
// encoding/xml), else once (decodeOnce); any other body, and any body
// neither accepts, is checked first and then unmarshalled, which is what
// gives a refused body its exact error.
func decodeXML[T any](body []byte, root string) (*T, error) {
	body = bytes.TrimPrefix(body, utf8BOM)
	if err := refuseSurrogateRefs(body); err != nil {
		return nil, err
	}
	if !bytes.Contains(body, markupDecl) {
		if v, ok := decodeFast[T](body); ok {
			collapseCurrencyCodes(body, v)
			return v, nil
		}
		if v, ok := decodeOnce[T](body, root); ok {
			collapseCurrencyCodes(body, v)
			return v, nil
		}
	}
	v, err := decodeTwoPasses[T](body, root)
	if err == nil {
		collapseCurrencyCodes(body, v)
	}
	return v, err
}

// currencyCodeAttr is in every body with an Amount.
var currencyCodeAttr = []byte("currencyCode")

// paddedCurrencyCode reports whether body may hold a currencyCode
// attribute whose value has white space around it: its first or last
// character is white space, or its first or last that of a reference
// (&#x20;, &#9;) that may be.
// Only then does decodeXML walk the decoded document (collapseAmounts,
// some microseconds by reflection): every request, reply and status has
// an Amount, hardly any a padded code. An occurrence not followed by
// S? '=' S? and a quote is no attribute (XML writes one only so); any
// that is, even in text, is looked at (at worst a walk for nothing).
func paddedCurrencyCode(body []byte) bool {
	edge := func(c byte) bool { return isXMLSpace(c) || c == '&' || c == ';' }
	for rest := body; ; {
		i := bytes.Index(rest, currencyCodeAttr)
		if i < 0 {
			return false
		}
		rest = rest[i+len(currencyCodeAttr):]
		j := 0
		for j < len(rest) && isXMLSpace(rest[j]) {
			j++
		}
		if j >= len(rest) || rest[j] != '=' {
			continue
		}
		j++
		for j < len(rest) && isXMLSpace(rest[j]) {
			j++
		}
		if j >= len(rest) || (rest[j] != '"' && rest[j] != '\'') {
			continue
		}
		quote := rest[j]
		value := rest[j+1:]
		end := bytes.IndexByte(value, quote)
		if end < 0 {
			return true // unterminated: let the decoder and the walk decide
		}
		if end > 0 && (edge(value[0]) || edge(value[end-1])) {
			return true
		}
		// The next occurrence is looked for right after this name, not
		// after what looked like its value: text that only looks like
		// one (in a description) may end inside a real attribute.
	}
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// xmlBlank reports whether b is nothing but XML white space (#x20, #x9,
// #xD, #xA: the S of XML 1.0, all a document may have around its root).
// Other Unicode spaces (U+00A0, U+0085, U+2028, U+3000, which
// bytes.TrimSpace drops) are text there, which makes the document not
// well-formed: refused as text outside the root element.
func xmlBlank(b []byte) bool {
	for _, c := range b {
		if !isXMLSpace(c) {
			return false
		}
	}
	return true
}

// collapseCurrencyCodes applies the whiteSpace facet of @currencyCode to
// every Amount of v, decoded from body: ISOCurrencyCodeType restricts
// xsd:NMTOKEN, whose white space is collapsed, so currencyCode=" USD " is
// USD for the schema (and for xmllint), and is for the worker too: white
// space around the code is dropped (white space inside it, no NMTOKEN,
// stays and is refused by Validate). A JSON request has no such facet:
// its codes are taken as written.
func collapseCurrencyCodes(body []byte, v any) {
	if paddedCurrencyCode(body) {
		collapseAmounts(reflect.ValueOf(v))
	}
}

var amountType = reflect.TypeFor[Amount]()

// holdsAmount caches, by type, whether a value of it may hold an Amount.
var holdsAmount sync.Map // reflect.Type → bool

func mayHoldAmount(t reflect.Type) bool {
	if h, ok := holdsAmount.Load(t); ok {
		return h.(bool)
	}
	h := false
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array:
		h = mayHoldAmount(t.Elem())
	case reflect.Struct:
		if t == amountType {
			h = true
			break
		}
		holdsAmount.Store(t, false) // a recursive type: its own fields decide
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && mayHoldAmount(f.Type) {
				h = true
				break
			}
		}
	}
	holdsAmount.Store(t, h)
	return h
}

func collapseAmounts(v reflect.Value) {
	if !mayHoldAmount(v.Type()) {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			collapseAmounts(v.Elem())
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			collapseAmounts(v.Index(i))
		}
	case reflect.Struct:
		if v.Type() == amountType {
			if f := v.FieldByName("CurrencyCode"); f.CanSet() {
				f.SetString(strings.Trim(f.String(), " \t\r\n"))
			}
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				collapseAmounts(v.Field(i))
			}
		}
	}
}

// decodeTwoPasses checks the whole body (checkXML), then unmarshals it: the
// path that says what is wrong with a refused body.
func decodeTwoPasses[T any](body []byte, root string) (*T, error) {
	if err := checkXML(body, root); err != nil {
		return nil, err
	}
	if err := checkStrict(body, reflect.TypeFor[T]()); err != nil {
		return nil, err
	}
	v := new(T)
	if err := xml.Unmarshal(body, v); err != nil {
		return nil, &ParseError{Msg: "body does not decode as " + root, Err: err}
	}
	return v, nil
}

// markupDecl starts every token checkXML refuses anywhere in a body (a
// DOCTYPE or another declaration): "<!".
var markupDecl = []byte("<!")

// decodeOnce is checkXML and xml.Unmarshal in one reading of the tokens,
// for a body without "<!" (so without the declarations checkXML refuses
// wherever they are): it reads the prolog (nothing but white space,
// comments and processing instructions), the root element named root in
// Namespace and its content with DecodeElement — the decoder Unmarshal
// uses, from the same token — and the rest to the end (no text, no second
// element). ok is true only when checkXML would accept the body, and then
// v is what Unmarshal returns; on false the caller takes the two-pass
// path, which says what is wrong. TestDecodeOnceMatchesTwoPasses and
// FuzzDecodeOnceMatchesTwoPasses hold the two paths equal.
func decodeOnce[T any](body []byte, root string) (v *T, ok bool) {
	dec := xml.NewTokenDecoder(newRawStrictReader(xml.NewDecoder(bytes.NewReader(body)), reflect.TypeFor[T]()))
	var start xml.StartElement
	for found := false; !found; {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			start, found = t, true
		case xml.CharData:
			if !xmlBlank(t) {
				return nil, false
			}
		case xml.Directive:
			return nil, false
		}
	}
	if start.Name.Local != root || start.Name.Space != Namespace {
		return nil, false
	}
	v = new(T)
	if err := dec.DecodeElement(v, &start); err != nil {
		return nil, false
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return v, true
		}
		if err != nil {
			return nil, false
		}
		switch t := tok.(type) {
		case xml.StartElement, xml.Directive:
			return nil, false
		case xml.CharData:
			if !xmlBlank(t) {
				return nil, false
			}
		}
	}
}

// checkStrict reads the tokens of a well-formed body through a
// strictReader for t: what it refuses (an element outside Namespace, a
// repeated attribute, a single-valued element twice) is the body's error.
func checkStrict(body []byte, t reflect.Type) error {
	r := newStrictReader(xml.NewDecoder(bytes.NewReader(body)), t)
	for {
		if _, err := r.Token(); err != nil {
			if r.err != nil {
				return r.err
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return &ParseError{Msg: "body is not well-formed XML", Err: err}
		}
	}
}

// utf8BOM is the byte order mark some senders put before the document; it is
// dropped before decoding.
var utf8BOM = []byte("\xEF\xBB\xBF")

// checkXML reads every token of the body once: it refuses a body that is
// empty or not well-formed, that declares a DOCTYPE or entities (<!...>:
// no external entity is ever resolved), that has text or a second element
// outside the root, or whose root is not root in Namespace.
func checkXML(body []byte, root string) error {
	if xmlBlank(body) {
		return &ParseError{Msg: "body is empty"}
	}
	dec := xml.NewDecoder(bytes.NewReader(body))
	depth, roots := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return &ParseError{Msg: "body is not well-formed XML", Err: err}
		}
		switch t := tok.(type) {
		case xml.Directive:
			return &ParseError{Msg: "body has a DOCTYPE or entity declaration, which is refused (XXE protection)"}
		case xml.StartElement:
			if depth == 0 {
				roots++
				if roots > 1 {
					return &ParseError{Msg: "body has more than one root element"}
				}
				if t.Name.Local != root || t.Name.Space != Namespace {
					return &ParseError{Msg: fmt.Sprintf("root element is %s, expected %s in namespace %s", describeName(t.Name), root, Namespace)}
				}
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && !xmlBlank(t) {
				return &ParseError{Msg: "body has text outside the root element"}
			}
		}
	}
	if roots == 0 {
		return &ParseError{Msg: "body has no root element"}
	}
	return nil
}

// describeName prints an element name with its namespace when it matters.
func describeName(n xml.Name) string {
	switch n.Space {
	case Namespace:
		return n.Local
	case "":
		return n.Local + " (no namespace)"
	default:
		return fmt.Sprintf("%s in namespace %s", n.Local, n.Space)
	}
}

// Encode marshals a message as XML with the <?xml version="1.0"
// encoding="UTF-8"?> header. The root element carries
// xmlns="http://api.gsicommerce.com/schema/checkout/1.0"; children are
// unprefixed and so in the same namespace.
func Encode(v any) ([]byte, error) {
	out, err := marshalXML(v, xmlHeader)
	if err != nil {
		return nil, fmt.Errorf("messages: encode %T: %w", v, err)
	}
	if len(out) == len(xmlHeader) {
		return nil, fmt.Errorf("messages: encode %T: nothing to encode (nil message)", v)
	}
	return out, nil
}

// xmlEncoder is a reusable xml.Encoder writing into its own buffer.
type xmlEncoder struct {
	buf bytes.Buffer
	enc *xml.Encoder
	// scratch is appendFast's buffer: the documents it writes skip enc.
	scratch []byte
}

// xmlEncoders are reused across encodings: xml.Marshal allocates a new
// encoder with a 4 KiB write buffer for every call (a seventh of the
// worker's allocations under load, 2026-12-06). An encoder is reused only
// after an Encode that succeeded, which leaves it with no open element.
var xmlEncoders = sync.Pool{New: func() any {
	e := &xmlEncoder{}
	e.enc = xml.NewEncoder(&e.buf)
	return e
}}

// marshalXML is prefix followed by xml.Marshal(v), in a new slice: for
// the documents appendFast writes, written by it (the same bytes).
func marshalXML(v any, prefix string) ([]byte, error) {
	e := xmlEncoders.Get().(*xmlEncoder)
	if b, ok := appendFast(append(e.scratch[:0], prefix...), v); ok {
		out := bytes.Clone(b)
		if cap(b) <= 64<<10 {
			e.scratch = b
			xmlEncoders.Put(e)
		}
		return out, nil
	}
	e.buf.Reset()
	e.buf.WriteString(prefix)
	if err := e.enc.Encode(v); err != nil {
		return nil, err // this encoder may be mid-element: dropped
	}
	out := bytes.Clone(e.buf.Bytes())
	if e.buf.Cap() <= 64<<10 {
		xmlEncoders.Put(e)
	}
	return out, nil
}

// xmlHeader is the declaration Encode writes before the root element.
const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// Fingerprint is a hex SHA-256 over a canonical re-encoding of the request:
// the XML that Encode writes, in a fixed element order and without the
// received formatting (indentation, comments, attribute order, namespace
// prefixes, CDATA sections, character references), every number written in
// its canonical text (canonical.go: "+055.0", "55" and " 55.000 " USD are
// all "55.00"; a Quantity "2.0" is "2"; a count "01" is "1"). The same
// request sent twice has the same fingerprint, whether it came as XML or
// JSON and however its numbers are spelled; any changed value (an amount,
// an id) changes it. A request whose numbers are already canonical has
// the fingerprint earlier versions recorded (the sha256 of its
// xml.Marshal); for the others, MatchesFingerprint also accepts that one.
func (r *PaymentSettlementRequest) Fingerprint() string {
	if r == nil {
		return ""
	}
	return r.canonicalNumbers().receivedFingerprint()
}

// MatchesFingerprint reports whether fp, a recorded fingerprint, is this
// request's: its Fingerprint, or the one versions that took amounts as
// received recorded (the sha256 of the request's xml.Marshal).
func (r *PaymentSettlementRequest) MatchesFingerprint(fp string) bool {
	if r == nil {
		return fp == ""
	}
	return fp == r.Fingerprint() || fp == r.receivedFingerprint()
}

// SameAsReceived reports whether r and o encode to the same document,
// every value as received: what a provider that deduplicates on the
// document it was sent (Radial, on requestId and content) compares. Two
// requests with the same Fingerprint may differ here (an amount written
// "100.0" and "100.00").
func (r *PaymentSettlementRequest) SameAsReceived(o *PaymentSettlementRequest) bool {
	if r == nil || o == nil {
		return r == o
	}
	return r.receivedFingerprint() == o.receivedFingerprint()
}

// receivedFingerprint is the hex SHA-256 of the request's XML encoding,
// every value as received.
func (r *PaymentSettlementRequest) receivedFingerprint() string {
	// Marshalling these types cannot fail: they hold only strings, slices
	// and pointers to structs of strings. The error branch keeps the result
	// defined anyway.
	body, err := marshalXML(r, "")
	if err != nil {
		body = []byte("unencodable request: " + err.Error())
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}
