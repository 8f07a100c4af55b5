package messages

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/internal/xsdtest"
)

// elem is one child element of a status document, by name.
type elem struct{ name, xml string }

// seedChildren are the children of the seed's "Successful Debit With a
// Payment Account Number" status, in the schema's order.
func seedChildren() []elem {
	return []elem{
		{"PaymentContext", `<PaymentContext><OrderId>12345</OrderId><PaymentAccountUniqueId isToken="true">4111110PASeK1111</PaymentAccountUniqueId></PaymentContext>`},
		{"TenderType", `<TenderType>VC</TenderType>`},
		{"Amount", `<Amount currencyCode="USD">100.00</Amount>`},
		{"SettlementType", `<SettlementType>Debit</SettlementType>`},
		{"SettlementStatus", `<SettlementStatus>S</SettlementStatus>`},
		{"ClientContext", `<ClientContext>987654321</ClientContext>`},
		{"StoreId", `<StoreId>ABCXYZ</StoreId>`},
	}
}

// with returns the seed's children with name's XML replaced ("" drops it).
func with(name, x string) []elem {
	var out []elem
	for _, e := range seedChildren() {
		if e.name == name {
			if x == "" {
				continue
			}
			e.xml = x
		}
		out = append(out, e)
	}
	return out
}

// moved returns the seed's children with name moved before before.
func moved(name, before string) []elem {
	var out []elem
	var m elem
	for _, e := range seedChildren() {
		if e.name == name {
			m = e
		}
	}
	for _, e := range seedChildren() {
		switch e.name {
		case name:
			continue
		case before:
			out = append(out, m)
		}
		out = append(out, e)
	}
	if before == "" {
		out = append(out, m)
	}
	return out
}

// inserted returns the seed's children with x inserted before before.
func inserted(x, before string) []elem {
	var out []elem
	for _, e := range seedChildren() {
		if e.name == before {
			out = append(out, elem{"extra", x})
		}
		out = append(out, e)
	}
	return out
}

// statusDoc assembles a PaymentSettlementStatus document.
func statusDoc(es []elem) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<PaymentSettlementStatus xmlns="` + Namespace + `">`)
	for _, e := range es {
		b.WriteString(e.xml)
	}
	b.WriteString(`</PaymentSettlementStatus>`)
	return []byte(b.String())
}

// listDoc assembles a PaymentSettlementStatusList of statuses.
func listDoc(statuses ...[]elem) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<PaymentSettlementStatusList xmlns="` + Namespace + `">`)
	for _, es := range statuses {
		b.WriteString("<PaymentSettlementStatus>")
		for _, e := range es {
			b.WriteString(e.xml)
		}
		b.WriteString("</PaymentSettlementStatus>")
	}
	b.WriteString(`</PaymentSettlementStatusList>`)
	return []byte(b.String())
}

// statusDocCases is the corpus both validators judge: the Go runtime check
// (wantErrs: each must appear in the error; none for a valid document) and
// xmllint with the reconstructed schema (xsdValid). Where the two differ the
// Go check is deliberately stricter, and the case says why.
var statusDocCases = []struct {
	name     string
	body     []byte
	wantErrs []string
	xsdValid bool
}{
	{"seed example", statusDoc(seedChildren()), nil, true},
	{"PaymentContextBase, R with a DeclineReason", statusDoc(append(with("PaymentContext", `<PaymentContextBase><OrderId>12345</OrderId></PaymentContextBase>`)[:4],
		elem{"", `<SettlementStatus>R</SettlementStatus><DeclineReason>invalid request: InvoiceId is required</DeclineReason><StoreId>ABCXYZ</StoreId>`})), nil, true},
	{"longest ids", statusDoc(with("PaymentContext", `<PaymentContext><OrderId>`+strings.Repeat("o", 20)+`</OrderId><PaymentAccountUniqueId isToken="false">`+strings.Repeat("4", 22)+`</PaymentAccountUniqueId></PaymentContext>`)), nil, true},
	{"TenderType of 4, StoreId of 100", statusDoc(append(with("StoreId", `<StoreId>`+strings.Repeat("s", 100)+`</StoreId>`)[:1],
		elem{"", `<TenderType>VISA</TenderType><Amount currencyCode="JPY">1000</Amount><SettlementType>Credit</SettlementType><SettlementStatus>S</SettlementStatus><StoreId>` + strings.Repeat("s", 100) + `</StoreId>`})), nil, true},
	{"amount with XML white space and a sign", statusDoc(with("Amount", "<Amount currencyCode=\"USD\">\n +10.5 </Amount>")), nil, true},
	{"list of two", listDoc(seedChildren(), with("ClientContext", "")), nil, true},

	// Each kind of invalid request, echoed.
	{"currency US", statusDoc(with("Amount", `<Amount currencyCode="US">10.00</Amount>`)), []string{"PaymentSettlementStatus/Amount/@currencyCode: must be an active 3-letter ISO 4217 currency code"}, false},
	{"currency XYZ", statusDoc(with("Amount", `<Amount currencyCode="XYZ">10.00</Amount>`)), []string{"PaymentSettlementStatus/Amount/@currencyCode"}, false},
	{"currency usd", statusDoc(with("Amount", `<Amount currencyCode="usd">10.00</Amount>`)), []string{"PaymentSettlementStatus/Amount/@currencyCode: must be an upper-case"}, false},
	{"currency ZMW, active but not enumerated", statusDoc(with("Amount", `<Amount currencyCode="ZMW">10.00</Amount>`)), []string{"Radial's schema enumerates"}, false},
	{"currency missing", statusDoc(with("Amount", `<Amount>10.00</Amount>`)), []string{"PaymentSettlementStatus/Amount/@currencyCode: is required"}, false},
	{"SettlementType Capture", statusDoc(with("SettlementType", `<SettlementType>Capture</SettlementType>`)), []string{`PaymentSettlementStatus/SettlementType: must be one of Debit, Credit (got "Capture")`}, false},
	{"Amount ten dollars", statusDoc(with("Amount", `<Amount currencyCode="USD">ten dollars</Amount>`)), []string{`PaymentSettlementStatus/Amount: must be a decimal number (got "ten dollars")`}, false},
	{"Amount 10.001", statusDoc(with("Amount", `<Amount currencyCode="USD">10.001</Amount>`)), []string{"PaymentSettlementStatus/Amount: must have at most 2 decimal places"}, false},
	{"Amount -1.00", statusDoc(with("Amount", `<Amount currencyCode="USD">-1.00</Amount>`)), []string{"PaymentSettlementStatus/Amount: must be a positive amount"}, false},
	{"Amount 1e3", statusDoc(with("Amount", `<Amount currencyCode="USD">1e3</Amount>`)), []string{"PaymentSettlementStatus/Amount: must be a decimal number"}, false},
	{"Amount empty", statusDoc(with("Amount", `<Amount currencyCode="USD"></Amount>`)), []string{"PaymentSettlementStatus/Amount: is required"}, false},
	{"no payment context", statusDoc(with("PaymentContext", "")), []string{"PaymentSettlementStatus: " + ruleNeitherContext}, false},
	{"both contexts", statusDoc(inserted(`<PaymentContextBase><OrderId>12345</OrderId></PaymentContextBase>`, "TenderType")), []string{"PaymentSettlementStatus: " + ruleBothContexts}, false},
	{"OrderId of 21", statusDoc(with("PaymentContext", `<PaymentContext><OrderId>`+strings.Repeat("o", 21)+`</OrderId><PaymentAccountUniqueId isToken="true">4111110PASeK1111</PaymentAccountUniqueId></PaymentContext>`)),
		[]string{"PaymentSettlementStatus/PaymentContext/OrderId: must be at most 20 characters (got 21)"}, false},
	{"account of 23", statusDoc(with("PaymentContext", `<PaymentContext><OrderId>1</OrderId><PaymentAccountUniqueId isToken="true">`+strings.Repeat("4", 23)+`</PaymentAccountUniqueId></PaymentContext>`)),
		[]string{"PaymentSettlementStatus/PaymentContext/PaymentAccountUniqueId: must be at most 22 characters (got 23)"}, false},
	{"isToken missing", statusDoc(with("PaymentContext", `<PaymentContext><OrderId>1</OrderId><PaymentAccountUniqueId>4111</PaymentAccountUniqueId></PaymentContext>`)),
		[]string{"PaymentSettlementStatus/PaymentContext/PaymentAccountUniqueId/@isToken: is required"}, false},
	{"PaymentContext without its account", statusDoc(with("PaymentContext", `<PaymentContext><OrderId>1</OrderId></PaymentContext>`)),
		[]string{"PaymentSettlementStatus/PaymentContext/PaymentAccountUniqueId: is required"}, false},
	{"StoreId of 101", statusDoc(with("StoreId", `<StoreId>`+strings.Repeat("s", 101)+`</StoreId>`)), []string{"PaymentSettlementStatus/StoreId: must be at most 100 characters (got 101)"}, false},
	{"StoreId missing", statusDoc(with("StoreId", "")), []string{"PaymentSettlementStatus/StoreId: is required"}, false},
	{"TenderType missing", statusDoc(with("TenderType", "")), []string{"PaymentSettlementStatus/TenderType: is required"}, false},
	{"TenderType of 5", statusDoc(with("TenderType", `<TenderType>VISAX</TenderType>`)), []string{"PaymentSettlementStatus/TenderType: must be 2 to 4 characters (got 5)"}, false},
	{"SettlementStatus X", statusDoc(with("SettlementStatus", `<SettlementStatus>X</SettlementStatus>`)), []string{"PaymentSettlementStatus/SettlementStatus: must be one of S, R"}, false},

	// Structure: what a decoder would forgive but the schema does not.
	{"TenderType after Amount", statusDoc(moved("TenderType", "SettlementType")), []string{"PaymentSettlementStatus/TenderType: is out of the schema's order"}, false},
	{"StoreId before ClientContext", statusDoc(moved("StoreId", "ClientContext")), []string{"PaymentSettlementStatus/ClientContext: is out of the schema's order"}, false},
	{"context last", statusDoc(moved("PaymentContext", "")), []string{"is out of the schema's order"}, false},
	{"TenderType twice", statusDoc(inserted(`<TenderType>VC</TenderType>`, "Amount")), []string{"PaymentSettlementStatus/TenderType: appears 2 times"}, false},
	{"unknown element", statusDoc(inserted(`<Note>x</Note>`, "StoreId")), []string{"PaymentSettlementStatus/Note: is not an element of PaymentSettlementStatus"}, false},
	{"element of another namespace", statusDoc(inserted(`<x:Note xmlns:x="urn:x">x</x:Note>`, "StoreId")), []string{"PaymentSettlementStatus/Note: is not an element of PaymentSettlementStatus"}, false},
	{"unknown attribute", statusDoc(with("Amount", `<Amount currencyCode="USD" rate="1">10.00</Amount>`)), []string{"PaymentSettlementStatus/Amount/@rate: is not an attribute of Amount"}, false},
	{"text between elements", statusDoc(inserted(`stray`, "StoreId")), []string{"PaymentSettlementStatus: has text outside its child elements"}, false},
	{"element inside a value", statusDoc(with("TenderType", `<TenderType><b>VC</b></TenderType>`)), []string{"PaymentSettlementStatus/TenderType: must hold text, not elements"}, false},
	{"empty list", listDoc(), []string{"PaymentSettlementStatusList/PaymentSettlementStatus: is required (at least one)"}, false},
	{"list with a bad second status", listDoc(seedChildren(), with("SettlementType", `<SettlementType>Capture</SettlementType>`)),
		[]string{"PaymentSettlementStatusList/PaymentSettlementStatus[2]/SettlementType: must be one of Debit, Credit"}, false},
	{"list with a misordered first status", listDoc(moved("StoreId", "TenderType"), seedChildren()),
		[]string{"PaymentSettlementStatusList/PaymentSettlementStatus[1]/"}, false},

	// Deliberately stricter than the schema: an amount of zero settles
	// nothing; a withdrawn currency cannot be settled; isToken is written
	// true or false; a TenderType of blanks identifies no tender.
	{"Amount 0.00", statusDoc(with("Amount", `<Amount currencyCode="USD">0.00</Amount>`)), []string{"PaymentSettlementStatus/Amount: must be a positive amount"}, true},
	{"currency EEK, withdrawn", statusDoc(with("Amount", `<Amount currencyCode="EEK">10.00</Amount>`)), []string{"PaymentSettlementStatus/Amount/@currencyCode: must be an active"}, true},
	{"isToken 1", statusDoc(with("PaymentContext", `<PaymentContext><OrderId>1</OrderId><PaymentAccountUniqueId isToken="1">4111</PaymentAccountUniqueId></PaymentContext>`)),
		[]string{"PaymentSettlementStatus/PaymentContext/PaymentAccountUniqueId/@isToken: must be one of true, false"}, true},
	{"TenderType of blanks", statusDoc(with("TenderType", `<TenderType>  </TenderType>`)), []string{"PaymentSettlementStatus/TenderType: is required"}, true},
	// More digits than XML Schema requires a processor to read: libxml2
	// reads up to 24 (a fraction's trailing zeros counted), so 19 passes
	// xmllint and 25 does not; both are refused.
	{"Amount of 19 digits", statusDoc(with("Amount", `<Amount currencyCode="USD">12345678901234567.89</Amount>`)), []string{"PaymentSettlementStatus/Amount: must have at most 18 digits"}, true},
	{"Amount 1 with 25 fraction zeros", statusDoc(with("Amount", `<Amount currencyCode="USD">1.0000000000000000000000000</Amount>`)), []string{"PaymentSettlementStatus/Amount: must have at most 18 digits"}, false},
	{"Amount of 25 digits", statusDoc(with("Amount", `<Amount currencyCode="USD">99999999999999999999999.00</Amount>`)), []string{"PaymentSettlementStatus/Amount: must have at most 18 digits"}, false},
	{"Amount of 18 digits, leading zeros", statusDoc(with("Amount", `<Amount currencyCode="USD">000000001234567890123456.78</Amount>`)), nil, true},
}

func TestValidateStatusDocument(t *testing.T) {
	for _, tc := range statusDocCases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateStatusDocument(tc.body)
			switch {
			case len(tc.wantErrs) == 0 && err != nil:
				t.Errorf("ValidateStatusDocument = %v, want nil\n%s", err, tc.body)
			case len(tc.wantErrs) > 0 && err == nil:
				t.Errorf("ValidateStatusDocument = nil, want errors %q\n%s", tc.wantErrs, tc.body)
			}
			for _, want := range tc.wantErrs {
				if err != nil && !strings.Contains(err.Error(), want) {
					t.Errorf("ValidateStatusDocument = %v\nwant it to contain %q", err, want)
				}
			}
			var verrs ValidationErrors
			if err != nil && !errors.As(err, &verrs) {
				t.Errorf("ValidateStatusDocument returned %T, want ValidationErrors", err)
			}
			crossCheck(t, tc.body, tc.xsdValid)
		})
	}
}

// crossCheck validates body with xmllint and the reconstructed schema and
// expects its verdict to be want; it skips, saying why, without xmllint.
func crossCheck(t *testing.T, body []byte, want bool) {
	t.Helper()
	ok, diag, err := xsdtest.Validate(body)
	if errors.Is(err, xsdtest.ErrNoXMLLint) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if ok != want {
		t.Errorf("xmllint --schema %s: valid=%v, want %v\n%s\n%s", filepath.Base(xsdtest.SchemaPath()), ok, want, diag, body)
	}
}

func TestValidateStatusDocumentNotAStatus(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"empty", "", "body is empty"},
		{"not XML", "{}", "text outside the root element"},
		{"not well-formed", `<PaymentSettlementStatus xmlns="` + Namespace + `"><TenderType>`, "not well-formed"},
		{"a request", `<PaymentSettlementRequest xmlns="` + Namespace + `"/>`, "root element is PaymentSettlementRequest, expected PaymentSettlementStatus or PaymentSettlementStatusList"},
		{"no namespace", `<PaymentSettlementStatus/>`, "root element is PaymentSettlementStatus (no namespace)"},
		{"DOCTYPE", `<!DOCTYPE x [<!ENTITY e "x">]><PaymentSettlementStatus xmlns="` + Namespace + `"/>`, "DOCTYPE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateStatusDocument([]byte(tc.body))
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ValidateStatusDocument = %v, want a *ParseError containing %q", err, tc.want)
			}
		})
	}
}

// The seed's status examples, and their re-encoding, are valid documents
// for both validators.
func TestGoldenStatusDocuments(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "status_*.xml"))
	if err != nil || len(files) != 6 {
		t.Fatalf("golden status files: %v (%v), want 6", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := ValidateStatusDocument(body); err != nil {
				t.Errorf("seed example: %v", err)
			}
			var again []byte
			if strings.Contains(f, "status_list_") {
				l, err := DecodeStatusList(body)
				if err != nil {
					t.Fatal(err)
				}
				again, err = Encode(l)
				if err != nil {
					t.Fatal(err)
				}
			} else {
				s, err := DecodeSettlementStatus(body)
				if err != nil {
					t.Fatal(err)
				}
				again, err = Encode(s)
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := ValidateStatusDocument(again); err != nil {
				t.Errorf("re-encoded: %v\n%s", err, again)
			}
			crossCheck(t, body, true)
			crossCheck(t, again, true)
		})
	}
}
