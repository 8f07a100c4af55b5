package miva

import (
	"encoding/json"
	"reflect"
	"testing"
)

// decodeOnceSeeds are payment lists (the data array of an answer) the one
// pass must read as the record-by-record decoder does, or decline.
var decodeOnceSeeds = []string{
	`[]`,
	`[{"id":1,"order_id":10000001,"type":3,"refnum":"","amount":100.0,"formatted_amount":"$100.00","available":0.0,"formatted_available":"$0.00","dtstamp":"1796666778","expires":"","pay_id":0,"pay_secid":0},` +
		`{"id":2,"order_id":10000001,"type":4,"refnum":"","amount":100.0,"formatted_amount":"$100.00","available":0.0,"formatted_available":"$0.00","dtstamp":"1796666778","expires":"","pay_id":0,"pay_secid":0}]`,
	`[{"id":"1","type":"3","amount":"1.25","available":"1.25","dtstamp":1536097658}]`,
	`[{"id":1,"type":4,"amount":0.125,"available":0,"module":{"code":"x"}}]`,
	`[{"id":1,"type":4,"amount":12345678901234567.89}]`,
	`[{"id":1,"type":3}]`,
	`[{"id":1,"type":3,"amount":1.25}]`,
	`[null]`,
	`[{"id":1,"type":4,"amount":1},null]`,
	`[1]`,
	`["x"]`,
	`[[]]`,
	`[{"id":1,"type":3,"amount":"seven","available":1}]`,
	`[{"id":1,"type":4,"amount":1,"refnum":"a\"b\\c\u00e9\ud83d\ude00"}]`,
	`[{"id":1,"type":4,"amount":1,"refnum":"\ud800"}]`,
	`[{"id":1,"type":4,"amount":1,"refnum":12}]`,
	`[{"id":1,"type":4,"amount":1,"refnum":null,"ID":2}]`,
	`[{"ID":1,"Type":4,"AMOUNT":" 1.50 "}]`,
	`[{"id":1,"type":4,"amount":1,"id":3}]`,
	`[{"id":1.5,"type":4,"amount":1}]`,
	`[{"id":1,"type":4,"amount":1}` + "\n" + `, {"id":2,"type":6,"amount":"1"}]`,
	"[{\"id\":1,\"type\":4,\"amount\":1,\"refnum\":\"\xff\"}]",
	`[{"id":1,"type":4,"amount":1}`,
	`[{"id":1,"type":4,"amount":1}] x`,
}

// TestDecodePaymentsOnceMatchesByRecord holds the one pass to the
// record-by-record decoder: a list it takes is the one the record-by-record
// decoder reads (values and exact amounts), and it declines every list that
// decoder refuses.
func TestDecodePaymentsOnceMatchesByRecord(t *testing.T) {
	for _, s := range decodeOnceSeeds {
		checkDecodeOnce(t, []byte(s))
	}
}

func FuzzDecodePaymentsOnce(f *testing.F) {
	for _, s := range decodeOnceSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || data[0] != '[' {
			return
		}
		checkDecodeOnce(t, data)
	})
}

func checkDecodeOnce(t *testing.T, data []byte) {
	t.Helper()
	once, ok := decodePaymentsOnce(data)
	want, err := decodePaymentsByRecord(data)
	if !ok {
		return // DecodePayments reads it record by record
	}
	if err != nil {
		t.Fatalf("%q: one pass took %+v, record by record refused: %v", data, once, err)
	}
	if len(once) != len(want) {
		t.Fatalf("%q: one pass %d records, record by record %d", data, len(once), len(want))
	}
	for i := range once {
		a, b := once[i], want[i]
		if a.Amount.String() != b.Amount.String() || a.Amount.Exponent() != b.Amount.Exponent() ||
			a.Available.String() != b.Available.String() || a.Available.Exponent() != b.Available.Exponent() {
			t.Fatalf("%q: record %d amounts %s/%s, record by record %s/%s", data, i, a.Amount, a.Available, b.Amount, b.Available)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%q: record %d = %+v, record by record %+v", data, i, a, b)
		}
	}
}

// TestUnquoteMatchesEncodingJSON: unquote reads a string literal as
// json.Unmarshal does, and refuses what it refuses.
func TestUnquoteMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{`""`, `"abc"`, `"$100.00"`, `"a\"b"`, `"a\\b"`, `"\u00e9"`, `"é"`, "\"\xff\"", "\"a\tb\"", `"\ud800"`, `"a"b"`, `"`, `"abc`, `abc"`, `12`, `null`} {
		checkUnquote(t, []byte(s))
	}
}

func FuzzUnquote(f *testing.F) {
	for _, s := range []string{`""`, `"abc"`, `"a\"b"`, "\"\xff\"", "\"a\x01b\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 || b[0] != '"' {
			return // callers pass only literals starting with a quote
		}
		checkUnquote(t, b)
	})
}

func checkUnquote(t *testing.T, b []byte) {
	t.Helper()
	got, err := unquote(b)
	var want string
	werr := json.Unmarshal(b, &want)
	if (err == nil) != (werr == nil) || got != want {
		t.Fatalf("unquote(%q) = %q, %v; json.Unmarshal: %q, %v", b, got, err, want, werr)
	}
}
