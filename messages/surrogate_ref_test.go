package messages

import (
	"errors"
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
