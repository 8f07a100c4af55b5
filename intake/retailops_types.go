package intake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/settlement-worker/settlement-worker/internal/jsonkeys"
)

// The RetailOPS order_settle_payment v1 webhook body (seed 000: "RetailOPS
// webhook API version 1"). Only the fields the mapping reads are declared;
// RetailOPS's schema allows additional properties, so unknown fields are
// ignored. Scalars are flexible: the seed sends ids and amounts as JSON
// numbers, the RetailOPS SDK's channel API schema sends the same ids as
// strings ("id": "6", "payment_series_id": "2572"); both are accepted.

// Action and version this endpoint implements.
const (
	actionSettlePayment  = "order_settle_payment"
	versionSettlePayment = "1"
)

// settleEnvelope is the whole request.
type settleEnvelope struct {
	Version flexScalar `json:"version"`
	Action  flexScalar `json:"action"`
	// IntegrationAuthToken is where RetailOPS puts the integration auth
	// key (the RetailOps SDK's verify tool inserts it as the top-level
	// "integration_auth_token" field of every request body).
	IntegrationAuthToken string     `json:"integration_auth_token"`
	Data                 settleData `json:"data"`
}

type settleData struct {
	Channel struct {
		ID flexScalar `json:"id"`
	} `json:"channel"`
	Order settleOrder `json:"order"`
}

type settleOrder struct {
	ID              flexScalar `json:"id"`
	PaymentSeriesID flexScalar `json:"payment_series_id"`
	ChannelRefnum   flexScalar `json:"channel_refnum"`
	GrandTotal      flexScalar `json:"grand_total"`
	ChannelPayment  *account   `json:"channel_payment"`
	PaymentStatus   *struct {
		ByAccount []account `json:"by_account"`
	} `json:"payment_status"`
	Shipments []shipment `json:"shipments"`
}

// account is one entry of payment_status.by_account (or channel_payment):
// the payment state of one payment account of the order.
type account struct {
	ID                  flexScalar `json:"id"`
	ChannelID           flexScalar `json:"channel_id"`
	Method              flexScalar `json:"method"`
	Module              flexScalar `json:"module"`
	Success             flexScalar `json:"success"`
	CapturesAreExternal flexScalar `json:"captures_are_external"`
	CapturesAreDeferred flexScalar `json:"captures_are_deferred"`
	Authed              flexScalar `json:"authed"`
	Available           flexScalar `json:"available"`
	Captured            flexScalar `json:"captured"`
	Charged             flexScalar `json:"charged"`
	Credited            flexScalar `json:"credited"`
	Settled             flexScalar `json:"settled"`
	Unsettled           flexScalar `json:"unsettled"`
	Voided              flexScalar `json:"voided"`
}

type shipment struct {
	ID       flexScalar `json:"id"`
	Packages []pkg      `json:"packages"`
}

type pkg struct {
	ID               flexScalar `json:"id"`
	CarrierName      flexScalar `json:"carrier_name"`
	CarrierCode      flexScalar `json:"carrier_code"`
	CarrierClassName flexScalar `json:"carrier_class_name"`
	ClassName        flexScalar `json:"class_name"`
	TrackingNumber   flexScalar `json:"tracking_number"`
	DateShipped      flexScalar `json:"date_shipped"`
}

// flexScalar is a JSON string, number or boolean kept as its exact text:
// a number is its literal digits ("35", "12.50"), never a float64, so
// amounts convert to decimals exactly. null and absence leave it unset.
type flexScalar struct {
	Text string
	Set  bool
	// Num is set when the value was a JSON number.
	Num bool
	// Bool is set when the value was JSON true or false (Text "1" or "0",
	// for boolean): no amount and no id.
	Bool bool
}

// maxIDDigits bounds the digits of an id written as a JSON number with an
// exponent: no RetailOPS id comes near it.
const maxIDDigits = 40

// maxNumberLiteral bounds the length of a JSON number read as an id or an
// amount: none is longer (40 digits, a fraction of zeros or an exponent
// added). A longer one is refused unread: a decimal's parse takes time
// that grows with the square of its length (a million digits, about 4 s,
// at each reading).
const maxNumberLiteral = 100

// maxQuoted bounds a value quoted in an event or a log line.
const maxQuoted = 64

// id reads an identifier: a string as it is (trimmed), a JSON number as
// the whole number it denotes, so that 4897, 4897.0 and 4.897e3 (one
// number in JSON) name one order and derive one requestId. ok is false
// for a number that is not whole, and for true or false (which would
// otherwise name "1" or "0").
func (f flexScalar) id() (v string, ok bool) {
	t := strings.TrimSpace(f.Text)
	if f.Bool {
		return f.literal(), false
	}
	if !f.Num {
		return t, true
	}
	if len(t) > maxNumberLiteral {
		return t, false
	}
	d, err := decimal.NewFromString(t)
	if err != nil || !d.IsInteger() {
		return t, false
	}
	if d.Exponent() > 0 && int64(d.NumDigits())+int64(d.Exponent()) > maxIDDigits {
		return t, false // 1e1000000: nine bytes that would write a million digits
	}
	return d.String(), true
}

// literal is the value as it was sent, for messages: true or false for a
// boolean, else Text (clipped).
func (f flexScalar) literal() string {
	switch {
	case f.Bool && f.Text == "1":
		return "true"
	case f.Bool:
		return "false"
	}
	return clip(f.Text)
}

// clip shortens a text longer than maxQuoted bytes for a message: its
// start, and how long it is.
func clip(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	return fmt.Sprintf("%s… (%d bytes)", strings.ToValidUTF8(s[:maxQuoted], ""), len(s))
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexScalar) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if strings.ContainsRune(s, utf8.RuneError) {
			// A lone surrogate escape (\ud800, \udbff) is read as U+FFFD
			// without a word, as invalid UTF-8 is (decodeEnvelope): two
			// ids that differ there would name one order and derive one
			// requestId. Refused as messages.DecodeSettlementRequestJSON
			// refuses it.
			return fmt.Errorf("a string holds U+FFFD or a lone surrogate escape, which cannot be told apart")
		}
		f.Text, f.Set = s, true
	case b[0] == '{' || b[0] == '[':
		return fmt.Errorf("expected a string or number, got %s", map[byte]string{'{': "an object", '[': "an array"}[b[0]])
	default:
		// A number (json.Number keeps the literal) or true/false.
		var n json.Number
		if err := json.Unmarshal(b, &n); err == nil {
			f.Text, f.Set, f.Num = n.String(), true, true
			return nil
		}
		switch string(b) {
		case "true":
			f.Text, f.Set, f.Bool = "1", true, true
		case "false":
			f.Text, f.Set, f.Bool = "0", true, true
		default:
			return fmt.Errorf("expected a string or number, got %s", b)
		}
	}
	return nil
}

// boolean reads a RetailOPS boolean: 1 or true, 0 or false (any case,
// JSON number or string). ok is false for anything else, and when unset.
func (f flexScalar) boolean() (v, ok bool) {
	t := strings.TrimSpace(f.Text)
	switch {
	case !f.Set:
		return false, false
	case t == "1" || strings.EqualFold(t, "true"):
		return true, true
	case t == "0" || strings.EqualFold(t, "false"):
		return false, true
	}
	return false, false
}

// decodeEnvelope parses the body with UseNumber; a body that is not one
// JSON object, or whose fields have the wrong JSON types, is an error.
func decodeEnvelope(body []byte) (*settleEnvelope, error) {
	// encoding/json reads invalid UTF-8 in a string as U+FFFD without a
	// word: two ids differing there would name one order and derive one
	// requestId. JSON is UTF-8 (RFC 8259).
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("the body is not valid UTF-8, which JSON requires (RFC 8259)")
	}
	// encoding/json keeps the last of two equal keys and fills a field
	// from a key in any case: the amount to capture comes from these
	// keys, so what two readers could read differently is refused.
	if err := envelopeKeys.Check(body, reflect.TypeFor[settleEnvelope]()); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var env settleEnvelope
	if err := dec.Decode(&env); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the JSON object")
	}
	return &env, nil
}

// envelopeKeys checks the keys of a webhook body: a key the mapping reads
// twice in one object, or one differing from such a key only in case, is
// refused; other keys are RetailOPS's additional properties, skipped
// whatever they hold. A flexScalar is read whole, and a body that is not
// JSON is left to the decoder. (Every field of the envelope's types has a
// json tag: jsonkeys would know an untagged one by its Go name.)
var envelopeKeys = jsonkeys.Walker{
	SkipUnknown: true,
	Leaves:      []reflect.Type{reflect.TypeFor[flexScalar]()},
	Refused: func(r jsonkeys.Refusal) error {
		if r.Reason == jsonkeys.Twice {
			return fmt.Errorf("the key %q is twice in one object (%s): which one is meant cannot be told", r.Key, r.At)
		}
		return fmt.Errorf("the key %q (%s) differs from %q only in case: which one is meant cannot be told", r.Key, r.At, r.Field)
	},
}
