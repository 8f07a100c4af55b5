package messages

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/settlement-worker/settlement-worker/internal/jsonkeys"
)

// DecodeSettlementRequestJSON parses a PaymentSettlementRequest sent as JSON
// with the json names of the types ({"requestId": ..., "amount":
// {"currencyCode": "USD", "value": "55.00"}, ...}). It is strict: a field
// name that is unknown, differs in case from the known one, or appears twice
// in an object is refused with a *ParseError naming it, and so is anything
// after the object. Like DecodeSettlementRequest it does not validate.
func DecodeSettlementRequestJSON(body []byte) (*PaymentSettlementRequest, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, &ParseError{Msg: "body is empty"}
	}
	if !utf8.Valid(body) {
		// encoding/json would read each invalid byte as U+FFFD without a
		// word ("r\xfe" and "r\xff" one requestId, an order id the sender
		// never wrote sent to the provider); the XML decoder refuses them.
		return nil, &ParseError{Msg: "body is not valid UTF-8"}
	}
	r := new(PaymentSettlementRequest)
	if err := settlementKeys.Check(body, reflect.TypeOf(r)); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(r); err != nil {
		return nil, jsonParseError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &ParseError{Msg: "body has data after the JSON object"}
	}
	r.XMLName = xml.Name{Space: Namespace, Local: rootSettlementRequest}
	return r, nil
}

// settlementKeys checks the keys of a JSON settlement request: a key that
// is not the exact json name of a field, or names one twice in an object,
// is refused, and so is a string no settlement document can carry.
var settlementKeys = jsonkeys.Walker{
	String:    checkJSONString,
	Malformed: func(err error) error { return jsonParseError(err) },
	Refused: func(r jsonkeys.Refusal) error {
		where := ""
		if r.In != "" {
			where = " in " + r.In
		}
		if r.Reason == jsonkeys.Twice {
			return &ParseError{Msg: fmt.Sprintf("body has the JSON field %q twice%s", r.Key, where)}
		}
		return &ParseError{Msg: fmt.Sprintf("body has an unknown JSON field %q%s", r.Key, where)}
	},
}

// checkJSONString refuses a string of a JSON request at path that XML, the
// store or the fingerprint cannot carry as it is.
func checkJSONString(path, s string) error {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		// XML cannot carry it, nor can the store in an identifier:
		// refused here as the XML decoder refuses it.
		return &ParseError{Msg: fmt.Sprintf("JSON field %s holds a NUL character (\\u0000), which no settlement document can carry", orBody(path))}
	case strings.ContainsRune(s, utf8.RuneError):
		// A lone surrogate escape (\ud800, \udbff) decodes to U+FFFD
		// as well: two ids that differ in one would be taken for one.
		return &ParseError{Msg: fmt.Sprintf("JSON field %s holds U+FFFD or a lone surrogate escape, which cannot be told apart", orBody(path))}
	case !xmlSafe(s):
		// Nor any other character outside XML's: the XML decoder
		// refuses it, and the fingerprint (an XML encoding) would
		// write it as U+FFFD, taking two requests that differ in it
		// (U+0001, U+0002) for one.
		return &ParseError{Msg: fmt.Sprintf("JSON field %s holds a character no settlement document can carry (%s)", orBody(path), firstNonXML(s))}
	}
	return nil
}

// jsonParseError describes an encoding/json error as a ParseError.
func jsonParseError(err error) *ParseError {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &ParseError{Msg: "body is not valid JSON", Err: err}
	case errors.As(err, &typ):
		return &ParseError{Msg: fmt.Sprintf("JSON field %s must be %s, not %s", orBody(typ.Field), jsonKind(typ.Type), typ.Value), Err: err}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return &ParseError{Msg: "body has an " + strings.TrimPrefix(err.Error(), "json: "), Err: err}
	}
	return &ParseError{Msg: "body does not decode as " + rootSettlementRequest, Err: err}
}

// jsonKind names the JSON value a Go type expects.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "a " + t.Kind().String()
}

// orBody is path, or "(the body)" for the top level.
func orBody(path string) string {
	if path == "" {
		return "(the body)"
	}
	return path
}

// firstNonXML names the first character of s outside XML 1.0's Char
// production, as U+XXXX.
func firstNonXML(s string) string {
	for _, r := range s {
		if !xmlChar(r) {
			return fmt.Sprintf("%U", r)
		}
	}
	return "none"
}
