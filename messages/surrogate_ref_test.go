package messages

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDecodeRefusesSurrogateCharacterReferences: XML 1.0 allows a
// character reference only to a Char (§4.1, "Well-formedness constraint:
// Legal Character"); the surrogates U+D800–U+DFFF are none. encoding/xml
// refuses &#x1; and &#xFFFE; but writes &#xD800; as string(rune(0xD800)),
// which is U+FFFD, without a word: "ORD&#xD800;" and "ORD&#xDC00;" (and
// "ORD\uFFFD" written as it is) were one order id, a value the sender
// never wrote, sent to the provider and recorded, and two requestIds that
// differ there were one. The JSON decoder refuses a lone surrogate escape
// for that reason; a request document with such a reference is refused
// too, as not well-formed, naming it.
func TestDecodeRefusesSurrogateCharacterReferences(t *testing.T) {
	const body = `<?xml version="1.0" encoding="UTF-8"?>
<PaymentSettlementRequest xmlns="http://api.gsicommerce.com/schema/checkout/1.0" requestId="%ID%">
  <PaymentContextBase><OrderId>%ORDER%</OrderId></PaymentContextBase>
  <InvoiceId>inv</InvoiceId>
  <Amount currencyCode="USD">1.00</Amount>
  <TaxAmount currencyCode="USD">0.00</TaxAmount>
  <SettlementType>Debit</SettlementType>
  <ClientContext>%CC%</ClientContext>
</PaymentSettlementRequest>`
	build := func(id, order, cc string) []byte {
		return []byte(strings.NewReplacer("%ID%", id, "%ORDER%", order, "%CC%", cc).Replace(body))
	}
	for _, tc := range []struct {
		name string
		body []byte
		want string // "" when accepted
	}{
		{"in an element", build("r1", "ORD&#xD800;", "cc"), "&#xD800;"},
		{"low surrogate, decimal", build("r1", "ORD&#56320;", "cc"), "&#56320;"},
		{"in an attribute", build("r&#xDBFF;", "ORD", "cc"), "&#xDBFF;"},
		{"upper case, leading zeros", build("r1", "ORD", "a&#x0000dFfF;b"), "&#x0000dFfF;"},
		{"in a list", []byte(strings.Replace(strings.Replace(string(build("r1", "O&#xD800;", "cc")), "PaymentSettlementRequest ", "PaymentSettlementRequestList xmlns=\"http://api.gsicommerce.com/schema/checkout/1.0\"><PaymentSettlementRequest ", 1), "</PaymentSettlementRequest>", "</PaymentSettlementRequest></PaymentSettlementRequestList>", 1)), "&#xD800;"},
		{"the character before", build("r1", "ORD&#xD7FF;", "cc"), ""},
		{"the character after", build("r1", "ORD&#xE000;", "cc"), ""},
		{"U+FFFD itself", build("r1", "ORD&#xFFFD;", "cc"), ""},
		{"a reference in a CDATA section is text", build("r1", "ORD", "<![CDATA[&#xD800;]]>"), ""},
		{"a reference in a comment", build("r1", "ORD<!-- &#xD800; -->", "cc"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if strings.Contains(tc.name, "list") {
				_, err = DecodeSettlementRequestList(tc.body)
			} else {
				_, err = DecodeSettlementRequest(tc.body)
			}
			var pe *ParseError
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (!errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "surrogate")):
				t.Errorf("error %v, want a ParseError naming %s as a surrogate", err, tc.want)
			}
		})
	}
}

// TestEveryDecoderRefusesSurrogateCharacterReferences: only the request
// decoders refused a reference to a surrogate; a provider's reply (a
// ConfirmFundsReply, an AckReply, a Fault) or a Radial status with one
// was read with U+FFFD in its place, a document its sender never wrote
// taken for an answer: "ORD&#xD800;" echoed an order id "ORD\uFFFD", and
// its Fail was this confirmation's. Every decoder refuses it as not
// well-formed, naming it.
func TestEveryDecoderRefusesSurrogateCharacterReferences(t *testing.T) {
	const ns = `xmlns="http://api.gsicommerce.com/schema/checkout/1.0"`
	for _, tc := range []struct {
		name   string
		decode func([]byte) error
		body   string
	}{
		{"ConfirmFundsReply", func(b []byte) error { _, err := DecodeConfirmFundsReply(b); return err },
			`<ConfirmFundsReply ` + ns + `><PaymentContextBase><OrderId>ORD&#xD800;</OrderId></PaymentContextBase><FundsAvailable>Fail</FundsAvailable></ConfirmFundsReply>`},
		{"AckReply", func(b []byte) error { _, err := DecodeAckReply(b); return err },
			`<AckReply ` + ns + `><Received/><Note>&#xDC00;</Note></AckReply>`},
		{"Fault", func(b []byte) error { _, err := DecodeFault(b); return err },
			`<Fault ` + ns + `><Code>C&#xD800;</Code><Description>d</Description></Fault>`},
		{"PaymentSettlementStatus", func(b []byte) error { _, err := DecodeSettlementStatus(b); return err },
			strings.Replace(readTestdata(t, "status_debit_without_account.xml"), "</OrderId>", "&#xD800;</OrderId>", 1)},
		{"PaymentSettlementStatusList", func(b []byte) error { _, err := DecodeStatusList(b); return err },
			strings.Replace(readTestdata(t, "status_list_debit_without_account.xml"), "</OrderId>", "&#xD800;</OrderId>", 1)},
		{"ConfirmFundsRequest", func(b []byte) error { _, err := DecodeConfirmFundsRequest(b); return err },
			`<ConfirmFundsRequest ` + ns + ` requestId="r&#xDBFF;"/>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(tc.body, "&#x") {
				t.Fatalf("no reference in the body: %s", tc.body)
			}
			err := tc.decode([]byte(tc.body))
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), "surrogate") {
				t.Errorf("error %v, want a ParseError naming a surrogate", err)
			}
			// The same body without the reference is read.
			clean := regexp.MustCompile(`&#x[0-9A-Fa-f]+;`).ReplaceAllString(tc.body, "")
			if err := tc.decode([]byte(clean)); err != nil {
				t.Errorf("the body without the reference: %v", err)
			}
		})
	}
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
