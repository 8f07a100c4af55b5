package miva

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// exactDecimal reads a JSON number (or a string holding one) from its text:
// 7.0 stays exactly 7.0, never a float64.
type exactDecimal struct {
	d   decimal.Decimal
	set bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (e *exactDecimal) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	text := string(b)
	if len(b) > 0 && b[0] == '"' {
		var err error
		if text, err = unquote(b); err != nil {
			return err
		}
		text = strings.TrimSpace(text)
	}
	d, err := decimal.NewFromString(text)
	if err != nil {
		return fmt.Errorf("%q is not a decimal number", text)
	}
	e.d, e.set = d, true
	return nil
}

// unquote is the string a JSON string literal b holds, as json.Unmarshal
// reads it. A literal with nothing to unescape or replace (no backslash, no
// quote or control character inside, valid UTF-8), which is every string
// of Miva's payment list, is taken as it is, without a second pass of
// encoding/json over it (these UnmarshalJSON methods are called once per
// field of every record); any other goes through json.Unmarshal.
func unquote(b []byte) (string, error) {
	if n := len(b); n >= 2 && b[0] == '"' && b[n-1] == '"' && plainJSONText(b[1:n-1]) {
		return string(b[1 : n-1]), nil
	}
	var s string
	err := json.Unmarshal(b, &s)
	return s, err
}

// plainJSONText reports whether s, inside a JSON string literal's quotes,
// reads as itself: valid UTF-8 with no backslash, quote or control
// character.
func plainJSONText(s []byte) bool {
	for _, c := range s {
		if c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return utf8.Valid(s)
}

// flexInt reads an integer given as a JSON number or a numeric string.
type flexInt struct {
	n   int64
	set bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	text := string(b)
	if len(b) > 0 && b[0] == '"' {
		var err error
		if text, err = unquote(b); err != nil {
			return err
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not an integer", text)
	}
	f.n, f.set = n, true
	return nil
}

// flexString reads a string given as a JSON string or number (dtstamp is a
// string in the seed's example; error codes could be numbers).
type flexString string

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*f = ""
	case len(b) > 0 && b[0] == '"':
		s, err := unquote(b)
		if err != nil {
			return err
		}
		*f = flexString(s)
	default:
		*f = flexString(b)
	}
	return nil
}

// Payment is one OrderPaymentList_Load record with exact amounts.
type Payment struct {
	// ID is the payment record id (OrderPayment_ID of later calls).
	ID      int64
	OrderID int64
	// Type is 0 declined, 1 legacy authorization, 2 legacy capture,
	// 3 authorization, 4 capture, 5 authorization + capture, 6 refund, 7 void.
	Type   int
	Refnum string
	// Amount is the record's amount; Available what an authorization can
	// still capture.
	Amount             decimal.Decimal
	FormattedAmount    string
	Available          decimal.Decimal
	FormattedAvailable string
	// DTStamp and Expires are Unix timestamps as Miva writes them
	// (Expires is "" when the record does not expire).
	DTStamp  string
	Expires  string
	PayID    int64
	PaySecID int64
}

// wirePayment is Payment as Miva writes it.
type wirePayment struct {
	ID                 flexInt      `json:"id"`
	OrderID            flexInt      `json:"order_id"`
	Type               flexInt      `json:"type"`
	Refnum             flexString   `json:"refnum"`
	Amount             exactDecimal `json:"amount"`
	FormattedAmount    flexString   `json:"formatted_amount"`
	Available          exactDecimal `json:"available"`
	FormattedAvailable flexString   `json:"formatted_available"`
	DTStamp            flexString   `json:"dtstamp"`
	Expires            flexString   `json:"expires"`
	PayID              flexInt      `json:"pay_id"`
	PaySecID           flexInt      `json:"pay_secid"`
}

// DecodePayments decodes the data array of an OrderPaymentList_Load answer.
// The data must be a JSON array (the seed's shape; [] is an order without
// payments): data null, missing or of another shape says nothing about the
// order's payments, so it is an error, never an empty list (which would
// read as "no funds", "nothing captured" or "nothing happened"). Records
// must have an id, a type and an amount, and an authorization (types 1, 3,
// 5) its available (missing, it would read as nothing left to capture);
// unknown fields are ignored.
func DecodePayments(data []byte) ([]Payment, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '[' {
		what := "missing"
		if len(data) > 0 {
			what = "not a list"
			if string(data) == "null" {
				what = "null"
			}
		}
		return nil, fmt.Errorf("miva payment list: data is %s", what)
	}
	if ps, ok := decodePaymentsOnce(data); ok {
		return ps, nil
	}
	return decodePaymentsByRecord(data)
}

// decodePaymentsByRecord decodes data, a JSON array, record by record,
// with an error that names the record at fault.
func decodePaymentsByRecord(data []byte) ([]Payment, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, fmt.Errorf("miva payment list: %w", err)
	}
	out := make([]Payment, 0, len(raws))
	for i, raw := range raws {
		if raw = bytes.TrimSpace(raw); len(raw) == 0 || raw[0] != '{' {
			return nil, fmt.Errorf("miva payment list: record %d is not an object", i)
		}
		var w wirePayment
		if err := json.Unmarshal(raw, &w); err != nil {
			return nil, fmt.Errorf("miva payment list: record %d: %w", i, err)
		}
		if !w.ID.set || !w.Type.set || !w.Amount.set {
			return nil, fmt.Errorf("miva payment list: record %d lacks id, type or amount", i)
		}
		if IsAuthorization(int(w.Type.n)) && !w.Available.set {
			return nil, fmt.Errorf("miva payment list: record %d, an authorization, lacks available", i)
		}
		out = append(out, w.payment())
	}
	return out, nil
}

// decodePaymentsOnce is DecodePayments in one pass of encoding/json over
// data (a JSON array), every record decoded in place: ok is false, and
// DecodePayments reads data record by record as before (its errors name
// the record), for any list it does not take whole: one that does not
// decode, or a record that is not an object or lacks a field
// DecodePayments requires. A list it takes is the one DecodePayments
// reads record by record: each record goes through the same decoder into
// the same type.
func decodePaymentsOnce(data []byte) ([]Payment, bool) {
	var ws []*wirePayment
	if err := json.Unmarshal(data, &ws); err != nil {
		return nil, false
	}
	out := make([]Payment, 0, len(ws))
	for _, w := range ws {
		if w == nil || !w.complete() {
			return nil, false
		}
		out = append(out, w.payment())
	}
	return out, true
}

// complete reports whether w has what DecodePayments requires of a
// record: an id, a type and an amount, and an authorization its available.
func (w *wirePayment) complete() bool {
	return w.ID.set && w.Type.set && w.Amount.set && (!IsAuthorization(int(w.Type.n)) || w.Available.set)
}

// payment is w with its values read.
func (w *wirePayment) payment() Payment {
	return Payment{
		ID: w.ID.n, OrderID: w.OrderID.n, Type: int(w.Type.n), Refnum: string(w.Refnum),
		Amount: w.Amount.d, FormattedAmount: string(w.FormattedAmount),
		Available: w.Available.d, FormattedAvailable: string(w.FormattedAvailable),
		DTStamp: string(w.DTStamp), Expires: string(w.Expires), PayID: w.PayID.n, PaySecID: w.PaySecID.n,
	}
}

// ParsePaymentList decodes a whole OrderPaymentList_Load answer body
// ({"success":1,"data":[...]}); an error answer is an *APIError.
func ParsePaymentList(body []byte) ([]Payment, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("miva payment list: %w", err)
	}
	if ok, _ := successFlag(env.Success); !ok {
		return nil, &APIError{Function: FunctionPaymentList, Code: string(env.ErrorCode), Message: string(env.ErrorMessage)}
	}
	return DecodePayments(env.Data)
}

// listRequest is the OrderPaymentList_Load body (seed: Store_code,
// Function, Order_ID). Miva_Request_Timestamp is sent on every call, as
// Miva's SDKs do, for tokens that require timestamps.
type listRequest struct {
	StoreCode string `json:"Store_code"`
	Function  string `json:"Function"`
	OrderID   int64  `json:"Order_ID"`
	Timestamp int64  `json:"Miva_Request_Timestamp"`
}

// paymentRequest is the OrderPayment_Capture / _Refund body. Amount is a
// JSON number written from decimal text (json.Number is emitted verbatim).
type paymentRequest struct {
	StoreCode      string      `json:"Store_code"`
	Function       string      `json:"Function"`
	OrderPaymentID int64       `json:"OrderPayment_ID"`
	Amount         json.Number `json:"Amount"`
	Timestamp      int64       `json:"Miva_Request_Timestamp"`
}
