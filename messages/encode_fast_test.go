package messages

import (
	"bytes"
	"encoding/xml"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// encodingXML is what marshalXML wrote before appendFast: encoding/xml.
func encodingXML(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := xml.NewEncoder(&buf).Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sameEncoding fails unless appendFast writes v as encoding/xml does, or
// leaves it to encoding/xml (ok false) when fast is false.
func sameEncoding(t testing.TB, v any, fast bool) {
	t.Helper()
	got, ok := appendFast(nil, v)
	if ok != fast {
		t.Fatalf("appendFast ok = %v, want %v for %#v", ok, fast, v)
	}
	if !ok {
		return
	}
	if want := encodingXML(t, v); !bytes.Equal(got, want) {
		t.Fatalf("appendFast wrote\n%s\nencoding/xml writes\n%s", got, want)
	}
}

// texts are values that exercise the escaping: markup characters, white
// space, characters outside XML's range, invalid UTF-8, U+FFFD itself.
var texts = []string{
	"", "plain", "100.00", `a"b'c&d<e>f`, "tab\there", "line\nbreak", "cr\rlf\r\n",
	"\x00\x01\x1f", "\uFFFE\uFFFF", "\uFFFD", "\xff\xfe", "caf\xc3", "é漢字😀",
	"]]>", "&amp;", "\ud7ff\ue000", " lead and trail ",
}

func randomText(r *rand.Rand) string {
	var b strings.Builder
	for range r.IntN(4) {
		b.WriteString(texts[r.IntN(len(texts))])
	}
	return b.String()
}

// randomContexts fills the PaymentContext / PaymentContextBase choice
// every way (neither, either, both).
func randomContexts(r *rand.Rand) (*PaymentContext, *PaymentContextBase) {
	var pc *PaymentContext
	var base *PaymentContextBase
	if r.IntN(2) == 0 {
		pc = &PaymentContext{OrderID: randomText(r), PaymentAccountUniqueID: AccountID{IsToken: randomText(r), Value: randomText(r)}}
	}
	if r.IntN(2) == 0 {
		base = &PaymentContextBase{OrderID: randomText(r)}
	}
	return pc, base
}

func randomAmount(r *rand.Rand) Amount {
	return Amount{CurrencyCode: randomText(r), Value: randomText(r)}
}

// TestFastEncodingIsEncodingXML: the documents appendFast writes are
// byte for byte what encoding/xml writes — the golden documents, and
// thousands of random ones whose every field is empty or holds text that
// needs escaping — and the requests it leaves to encoding/xml are those
// with billing, invoice or shipment data.
func TestFastEncodingIsEncodingXML(t *testing.T) {
	files, err := filepath.Glob("testdata/*.xml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden documents: %v", err)
	}
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if req, err := DecodeSettlementRequest(body); err == nil {
			sameEncoding(t, req, req.BillingAddress == nil && req.InvoiceData == nil && req.ShipmentData == nil)
		}
		if st, err := DecodeSettlementStatus(body); err == nil {
			sameEncoding(t, st, true)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		req := &PaymentSettlementRequest{
			RequestID: randomText(r), InvoiceID: randomText(r), Amount: randomAmount(r),
			SettlementType: randomText(r), AuthorizationResponseCode: randomText(r),
			AuthorizationDate: randomText(r), ExpirationDate: randomText(r), ClientContext: randomText(r),
			FinalDebit: randomText(r), OriginatingSystemOrderID: randomText(r), OmsOrderID: randomText(r),
			RefundReason: randomText(r), ReferenceTransactionID: randomText(r), SourceOrderSystem: randomText(r),
		}
		req.PaymentContext, req.PaymentContextBase = randomContexts(r)
		if r.IntN(2) == 0 {
			a := randomAmount(r)
			req.TaxAmount = &a
		}
		sameEncoding(t, req, true)

		st := &PaymentSettlementStatus{
			TenderType: randomText(r), Amount: randomAmount(r), SettlementType: randomText(r),
			SettlementStatus: randomText(r), DeclineReason: randomText(r), ClientContext: randomText(r),
			StoreID: randomText(r),
		}
		st.PaymentContext, st.PaymentContextBase = randomContexts(r)
		sameEncoding(t, st, true)

		cf := &ConfirmFundsRequest{RequestID: randomText(r), Amount: randomAmount(r), PerformReauthorization: r.IntN(2) == 0}
		cf.PaymentContext, cf.PaymentContextBase = randomContexts(r)
		sameEncoding(t, cf, true)
	}
	for _, req := range []*PaymentSettlementRequest{
		{BillingAddress: &BillingAddress{}},
		{InvoiceData: &InvoiceData{}},
		{ShipmentData: []ShipmentData{}},
	} {
		sameEncoding(t, req, false)
	}
	for _, v := range []any{(*PaymentSettlementRequest)(nil), (*PaymentSettlementStatus)(nil), (*ConfirmFundsRequest)(nil), PaymentSettlementStatus{}, &AckReply{}} {
		sameEncoding(t, v, false)
	}
}

// FuzzFastEncodingIsEncodingXML: any text in any field (go test -fuzz
// FuzzFastEncodingIsEncodingXML ./messages explores further).
func FuzzFastEncodingIsEncodingXML(f *testing.F) {
	for _, s := range texts {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		sameEncoding(t, &PaymentSettlementRequest{
			RequestID: a, PaymentContext: &PaymentContext{OrderID: b, PaymentAccountUniqueID: AccountID{IsToken: a, Value: b}},
			Amount: Amount{CurrencyCode: b, Value: a}, SettlementType: a, ClientContext: b,
		}, true)
		sameEncoding(t, &PaymentSettlementStatus{
			PaymentContextBase: &PaymentContextBase{OrderID: a}, Amount: Amount{CurrencyCode: a, Value: b},
			DeclineReason: b, StoreID: a,
		}, true)
		sameEncoding(t, &ConfirmFundsRequest{RequestID: b, Amount: Amount{CurrencyCode: a, Value: b}}, true)
	})
}

// BenchmarkEncodeSettlementRequest: the request Radial is sent (and its
// fingerprint's encoding).
func BenchmarkEncodeSettlementRequest(b *testing.B) {
	req, err := DecodeSettlementRequest(readGolden(b, "request_required_payment_context.xml"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(req); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFastEncodingWritesEveryField: appendFast names each field of the
// three types by hand, so a field added to one of them later (or to
// PaymentContext, Amount, AccountID) would be left out of the documents it
// writes without a word: out of the request Radial is sent and out of the
// request's fingerprint, which would then take two requests that differ in
// it for one. Every field is filled here by reflection, with text of its
// own name, so that such a field makes the bytes differ from encoding/xml's.
// Only the fields that send a request to encoding/xml stay empty.
func TestFastEncodingWritesEveryField(t *testing.T) {
	for _, v := range []any{&PaymentSettlementRequest{}, &PaymentSettlementStatus{}, &ConfirmFundsRequest{}} {
		fillEveryField(t, reflect.ValueOf(v).Elem(), reflect.TypeOf(v).Elem().Name())
		sameEncoding(t, v, true)
	}
}

// fastFallbackFields are the fields whose presence sends a request to
// encoding/xml (appendFast's ok false).
var fastFallbackFields = map[string]bool{"BillingAddress": true, "InvoiceData": true, "ShipmentData": true}

// fillEveryField sets every exported field of the struct v: strings to
// their path, booleans to true, pointers and slices to one filled value.
func fillEveryField(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	for i := range v.NumField() {
		f, sf := v.Field(i), v.Type().Field(i)
		if !sf.IsExported() || sf.Type == reflect.TypeFor[xml.Name]() || fastFallbackFields[sf.Name] {
			continue
		}
		p := path + "." + sf.Name
		switch f.Kind() {
		case reflect.String:
			f.SetString(p)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Struct:
			fillEveryField(t, f, p)
		case reflect.Pointer, reflect.Slice:
			if sf.Type.Elem().Kind() != reflect.Struct {
				t.Fatalf("%s: a %s of %s: teach fillEveryField (and appendFast) to write it", p, f.Kind(), sf.Type.Elem().Kind())
			}
			if f.Kind() == reflect.Pointer {
				f.Set(reflect.New(sf.Type.Elem()))
				fillEveryField(t, f.Elem(), p)
				break
			}
			f.Set(reflect.MakeSlice(sf.Type, 1, 1))
			fillEveryField(t, f.Index(0), p)
		default:
			t.Fatalf("%s: a field of kind %s: teach fillEveryField (and appendFast) to write it", p, f.Kind())
		}
	}
}
