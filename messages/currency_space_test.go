package messages

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/internal/xsdtest"
)

// TestCurrencyCodeWhiteSpaceIsCollapsed: Amount/@currencyCode is an
// ISOCurrencyCodeType, a restriction of xsd:NMTOKEN, whose whiteSpace
// facet is "collapse": currencyCode=" USD " is USD for Radial's schema
// (xmllint accepts it), and the worker parked such a request ("must be
// an active 3-letter ISO 4217 currency code"). Decoding collapses it:
// the request is a USD request, its fingerprint that of "USD" (a
// duplicate written either way is the same request), and what the
// worker sends and publishes says "USD". White space inside the code
// ("U SD", not an NMTOKEN) is still refused, and so is a JSON request's
// (JSON has no such facet), saying why.
func TestCurrencyCodeWhiteSpaceIsCollapsed(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("testdata", "request_required_payment_context_base.xml"))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := DecodeSettlementRequest(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{" USD", "USD ", "  USD\t", "\nUSD\n", "&#9;USD&#10;", "&#x20;USD"} {
		t.Run(code, func(t *testing.T) {
			body := strings.Replace(string(base), `<Amount currencyCode="USD">`, `<Amount currencyCode="`+code+`">`, 1)
			body = strings.Replace(body, `<TaxAmount currencyCode="USD">`, `<TaxAmount currencyCode="`+code+`">`, 1)
			req, err := DecodeSettlementRequest([]byte(body))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if err := req.Validate(); err != nil {
				t.Fatalf("refused a currencyCode the schema takes for USD: %v", err)
			}
			if req.Amount.CurrencyCode != "USD" || req.TaxAmount.CurrencyCode != "USD" {
				t.Errorf("currency %q / %q, want USD", req.Amount.CurrencyCode, req.TaxAmount.CurrencyCode)
			}
			if m, err := req.Amount.Money(); err != nil || m.Currency != "USD" {
				t.Errorf("Money = %v, %v", m, err)
			}
			if req.Fingerprint() != plain.Fingerprint() || !req.SameAsReceived(plain) {
				t.Errorf("not the same request as currencyCode=\"USD\"")
			}
			out, err := Encode(req)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(out), `currencyCode="USD"`) || strings.Contains(string(out), `currencyCode=" `) {
				t.Errorf("encoded request does not say USD:\n%s", out)
			}
		})
	}
	// The schema's own answer for the status the worker would publish
	// had it echoed the code as received: valid, so the collapse is the
	// schema's reading, not a leniency of the worker's.
	st, err := os.ReadFile(filepath.Join("testdata", "status_debit_without_account.xml"))
	if err != nil {
		t.Fatal(err)
	}
	padded := strings.Replace(string(st), `currencyCode="USD"`, `currencyCode=" USD "`, 1)
	if padded == string(st) {
		t.Fatal("the status testdata has no currencyCode=\"USD\"")
	}
	switch ok, diag, err := xsdtest.Validate([]byte(padded)); {
	case errors.Is(err, xsdtest.ErrNoXMLLint):
		t.Log(err)
	case err != nil:
		t.Error(err)
	case !ok:
		t.Errorf("xmllint refuses currencyCode=\" USD \": %s", diag)
	}

	for _, tc := range []struct{ name, body, want string }{
		{"inside", strings.Replace(string(base), `<Amount currencyCode="USD">`, `<Amount currencyCode="U SD">`, 1), "must be an active 3-letter ISO 4217 currency code"},
		{"JSON", `{"requestId":"r1","paymentContextBase":{"orderId":"o1"},"invoiceId":"i","amount":{"currencyCode":" USD","value":"1.00"},"taxAmount":{"currencyCode":"USD","value":"0.00"},"settlementType":"Debit"}`, "without white space around it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req *PaymentSettlementRequest
			var err error
			if tc.name == "JSON" {
				req, err = DecodeSettlementRequestJSON([]byte(tc.body))
			} else {
				req, err = DecodeSettlementRequest([]byte(tc.body))
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if err := req.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}

// paddedCurrencyCode decides whether decodeXML walks the document to
// collapse currency codes (collapseAmounts, microseconds by reflection,
// once on every request, reply and status before it did): it must say
// yes for every way XML writes a code with white space around it, and no
// for plain ones.
func TestPaddedCurrencyCodeFindsEveryPaddedCode(t *testing.T) {
	for _, tc := range []struct {
		body string
		want bool
	}{
		{`<Amount currencyCode="USD">1</Amount>`, false},
		{`<Amount currencyCode='USD'>1</Amount><TaxAmount currencyCode="JPY">0</TaxAmount>`, false},
		{`<Amount currencyCode="">1</Amount>`, false},
		{`<Amount>1</Amount>`, false},
		{`<Amount currencyCode=" USD">1</Amount>`, true},
		{`<Amount currencyCode="USD ">1</Amount>`, true},
		{`<Amount currencyCode='	USD'>1</Amount>`, true},
		{"<Amount currencyCode=\"USD\n\">1</Amount>", true},
		{`<Amount currencyCode = " USD">1</Amount>`, true},
		{"<Amount currencyCode\n=\n'USD '>1</Amount>", true},
		{`<Amount currencyCode="&#x20;USD">1</Amount>`, true},
		{`<Amount currencyCode="USD&#9;">1</Amount>`, true},
		{`<Amount currencyCode="USD">1</Amount><TaxAmount currencyCode=" USD">0</TaxAmount>`, true},
		{`<Amount x:currencyCode=" USD" xmlns:x="u">1</Amount>`, true},
		// Text that looks like the attribute, its "value" running into
		// the real one: the real one is still found.
		{`<Description>currencyCode="abc</Description><Amount currencyCode=" USD">1</Amount>`, true},
		{`<Description>currencyCode is "USD"</Description><Amount currencyCode="USD">1</Amount>`, false},
		{`<Amount currencyCode=" USD`, true},
	} {
		if got := paddedCurrencyCode([]byte(tc.body)); got != tc.want {
			t.Errorf("paddedCurrencyCode(%q) = %v, want %v", tc.body, got, tc.want)
		}
	}
}

// BenchmarkCollapseCurrencyCodes: what decodeXML adds to a decode whose
// codes have no white space around them (every usual one).
func BenchmarkCollapseCurrencyCodes(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("testdata", "request_required_payment_context_base.xml"))
	if err != nil {
		b.Fatal(err)
	}
	req, err := DecodeSettlementRequest(body)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		collapseCurrencyCodes(body, req)
	}
}
