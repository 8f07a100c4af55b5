package messages

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"strings"
	"testing"
)

// fullRequest is a request with an amount in every place one can be: the
// Amount, the TaxAmount, an invoice's VAT and balance cleared, a line
// item's unit price and VAT. Each %s is one amount's text, in that order.
const fullRequest = `<?xml version="1.0" encoding="UTF-8"?>
<PaymentSettlementRequest xmlns="http://api.gsicommerce.com/schema/checkout/1.0" requestId="r-1">
  <PaymentContextBase><OrderId>O-1</OrderId></PaymentContextBase>
  <InvoiceId>inv-1</InvoiceId>
  <Amount currencyCode="USD">%s</Amount>
  <TaxAmount currencyCode="USD">%s</TaxAmount>
  <SettlementType>Debit</SettlementType>
  <InvoiceData type="OpenInvoice">
    <VATData>
      <VATInvoiceNumber>V1</VATInvoiceNumber><VATInvoiceDate>2021-05-10</VATInvoiceDate>
      <VATRateInfo><VAT rate="19"><Amount currencyCode="USD">%s</Amount></VAT></VATRateInfo>
      <BalanceClearedAmount currencyCode="USD">%s</BalanceClearedAmount>
      <InvoicePresentment>Paper</InvoicePresentment>
    </VATData>
    <LineItems><LineItem><ItemId>I1</ItemId><Quantity>1</Quantity><ItemShortDescription>NA</ItemShortDescription>
      <VATInclusiveUnitPrice currencyCode="USD">%s</VATInclusiveUnitPrice>
      <VATRateInfo><VAT rate="19"><Amount currencyCode="USD">%s</Amount></VAT></VATRateInfo>
    </LineItem></LineItems>
  </InvoiceData>
</PaymentSettlementRequest>`

func fullBody(amounts ...string) []byte {
	b := fullRequest
	for _, a := range amounts {
		b = strings.Replace(b, "%s", a, 1)
	}
	return []byte(b)
}

func mustDecode(t *testing.T, body []byte) *PaymentSettlementRequest {
	t.Helper()
	r, err := DecodeSettlementRequest(body)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return r
}

// The fingerprint is the request's, not its spelling: an amount written
// another way that is the same money ("100.0", "+0100", " 100.000 ", in
// CDATA or as character references) has the fingerprint of the canonical
// one, in every place an amount can be; any other amount has another.
// Fingerprint never changes the request it reads.
func TestFingerprintOfAmountsIsTheirMoney(t *testing.T) {
	canonical := []string{"100.00", "6.00", "19.00", "0.00", "10.00", "1.90"}
	want := mustDecode(t, fullBody(canonical...)).Fingerprint()
	for i := range canonical {
		for _, same := range map[string][]string{
			"100.00": {"100", "100.0", "+100.00", "0100.00", "100.000", " \n100.00\t", "<![CDATA[100.00]]>", "&#49;00.00"},
			"6.00":   {"6", "6.", "+06.0", "6.0000"},
			"19.00":  {"19", "019.000"},
			"0.00":   {"0", "-0", "+0.0", ".0", "-0.000", "000"},
			"10.00":  {"10", "10.0"},
			"1.90":   {"1.9", "01.900"},
		}[canonical[i]] {
			amounts := append([]string(nil), canonical...)
			amounts[i] = same
			r := mustDecode(t, fullBody(amounts...))
			received := r.receivedFingerprint()
			if got := r.Fingerprint(); got != want {
				t.Errorf("amount %d written %q: another fingerprint than %q", i, same, canonical[i])
			}
			if r.receivedFingerprint() != received {
				t.Errorf("amount %d written %q: Fingerprint changed the request", i, same)
			}
		}
		for _, other := range []string{"100.01", "6.01", "1.9001", "-6.00", "1e2", "100.00 USD", "0.001"} {
			amounts := append([]string(nil), canonical...)
			amounts[i] = other
			if mustDecode(t, fullBody(amounts...)).Fingerprint() == want {
				t.Errorf("amount %d %q: the fingerprint of %q", i, other, canonical[i])
			}
		}
	}
	// Another currency is another request, even in a spelling its
	// canonical text cannot be had for.
	other := mustDecode(t, fullBody(canonical...))
	other.Amount.CurrencyCode = "usd"
	if other.Fingerprint() == want {
		t.Error(`currencyCode "usd" has the fingerprint of "USD"`)
	}
}

// The same request in JSON with its amount written another way has the
// fingerprint of the XML one.
func TestFingerprintJSONAmountSpelling(t *testing.T) {
	x := mustDecode(t, []byte(`<PaymentSettlementRequest xmlns="http://api.gsicommerce.com/schema/checkout/1.0" requestId="j"><PaymentContextBase><OrderId>O</OrderId></PaymentContextBase><Amount currencyCode="JPY">1500</Amount><SettlementType>Credit</SettlementType></PaymentSettlementRequest>`))
	j, err := DecodeSettlementRequestJSON([]byte(`{"settlementType":"Credit","amount":{"value":"1500.0","currencyCode":"JPY"},"paymentContextBase":{"orderId":"O"},"requestId":"j"}`))
	if err != nil {
		t.Fatal(err)
	}
	if j.Fingerprint() != x.Fingerprint() {
		t.Error(`JSON "1500.0" JPY and XML 1500 JPY have different fingerprints`)
	}
}

// A request recorded by a version that fingerprinted amounts as received
// is still matched by its duplicate: MatchesFingerprint takes that
// fingerprint (the sha256 of xml.Marshal) too.
func TestMatchesFingerprintRecordedAsReceived(t *testing.T) {
	r := mustDecode(t, fullBody("100.0", "6", "19.00", "0", "10.00", "1.9"))
	b, err := xml.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	old := hex.EncodeToString(sum[:])
	if old == r.Fingerprint() {
		t.Fatal("the test's amounts are canonical")
	}
	if !r.MatchesFingerprint(old) || !r.MatchesFingerprint(r.Fingerprint()) {
		t.Error("the recorded fingerprint (as received) or the canonical one is not matched")
	}
	canon := mustDecode(t, fullBody("100.00", "6.00", "19.00", "0.00", "10.00", "1.90"))
	if !canon.MatchesFingerprint(r.Fingerprint()) {
		t.Error("the canonical spelling does not match the other's fingerprint")
	}
	diff := mustDecode(t, fullBody("100.01", "6.00", "19.00", "0.00", "10.00", "1.90"))
	if diff.MatchesFingerprint(r.Fingerprint()) || diff.MatchesFingerprint(old) {
		t.Error("another amount matches the fingerprint")
	}
	var none *PaymentSettlementRequest
	if none.MatchesFingerprint(r.Fingerprint()) {
		t.Error("a nil request matches a fingerprint")
	}
}

// The fingerprint reads every number as its value: a Quantity, a VAT
// rate, an optional-currency VAT amount and a ShipmentCount written
// another way are the same request; another value is another request.
func TestFingerprintOfNumbersIsTheirValue(t *testing.T) {
	base := string(fullBody("100.00", "6.00", "19.00", "0.00", "10.00", "1.90"))
	withShipment := func(s string) string {
		return strings.Replace(s, "</PaymentSettlementRequest>",
			`<ShipmentData><ShipmentCount><CurrentCount>1</CurrentCount><TotalCount>2</TotalCount></ShipmentCount><ShippedDate>2021-05-10T21:59:13Z</ShippedDate></ShipmentData></PaymentSettlementRequest>`, 1)
	}
	noCurrency := func(s string) string {
		// The line item's VAT amount, whose currency is optional.
		return strings.Replace(s, `<Amount currencyCode="USD">1.90</Amount>`, `<Amount>1.90</Amount>`, 1)
	}
	want := mustDecode(t, []byte(noCurrency(withShipment(base)))).Fingerprint()
	for _, tc := range []struct {
		name, old, new string
		same           bool
	}{
		{"quantity 1.0", "<Quantity>1</Quantity>", "<Quantity>1.0</Quantity>", true},
		{"quantity +01", "<Quantity>1</Quantity>", "<Quantity> +01 </Quantity>", true},
		{"quantity 2", "<Quantity>1</Quantity>", "<Quantity>2</Quantity>", false},
		{"rate 19.0", `<VAT rate="19">`, `<VAT rate="19.0">`, true},
		{"rate 019.000", `<VAT rate="19">`, `<VAT rate="019.000">`, true},
		{"rate 19.5", `<VAT rate="19">`, `<VAT rate="19.5">`, false},
		{"a VAT amount without currency 1.9", `<Amount>1.90</Amount>`, `<Amount>1.9</Amount>`, true},
		{"a VAT amount without currency 1.91", `<Amount>1.90</Amount>`, `<Amount>1.91</Amount>`, false},
		{"count 01", "<CurrentCount>1</CurrentCount>", "<CurrentCount>01</CurrentCount>", true},
		{"count +2", "<TotalCount>2</TotalCount>", "<TotalCount>+2</TotalCount>", true},
		{"count 3", "<TotalCount>2</TotalCount>", "<TotalCount>3</TotalCount>", false},
		{"count 2.0 (no integer)", "<TotalCount>2</TotalCount>", "<TotalCount>2.0</TotalCount>", false},
	} {
		body := strings.Replace(noCurrency(withShipment(base)), tc.old, tc.new, 1)
		if body == noCurrency(withShipment(base)) {
			t.Fatalf("%s: %q is not in the request", tc.name, tc.old)
		}
		r := mustDecode(t, []byte(body))
		before := r.receivedFingerprint()
		if got := r.Fingerprint() == want; got != tc.same {
			t.Errorf("%s: same fingerprint %v, want %v", tc.name, got, tc.same)
		}
		if r.receivedFingerprint() != before {
			t.Errorf("%s: Fingerprint changed the request", tc.name)
		}
	}
}
