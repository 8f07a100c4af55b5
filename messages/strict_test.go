package messages

import (
	"strings"
	"testing"
)

// TestXMLDocumentsTheSchemaRefusesAreRefused: encoding/xml merges what the
// schema refuses — a single-valued element repeated (it keeps the last
// one's text and the first one's attributes), an attribute repeated, an
// element in a foreign namespace or under an unbound prefix (matched by
// local name) — while DecodeSettlementRequestJSON refuses duplicates. A
// request <Amount currencyCode="KWD">1.000</Amount><Amount>1000</Amount>
// was settled as KWD 1000, a value no reading of the document has. Each
// is now refused, naming the element, on the one-pass and the two-pass
// paths (a comment makes the body take the second).
func TestXMLDocumentsTheSchemaRefusesAreRefused(t *testing.T) {
	const head = `<PaymentSettlementRequest requestId="dup-1" xmlns="http://api.gsicommerce.com/schema/checkout/1.0">` +
		`<PaymentContextBase><OrderId>ORD-1</OrderId></PaymentContextBase><InvoiceId>INV-1</InvoiceId>`
	const tail = `<TaxAmount currencyCode="KWD">0</TaxAmount><SettlementType>Debit</SettlementType></PaymentSettlementRequest>`
	tests := []struct{ name, amounts, want string }{
		{"two Amount elements", `<Amount currencyCode="KWD">1.000</Amount><Amount>1000</Amount>`, "element Amount appears twice in PaymentSettlementRequest"},
		{"Amount in a foreign namespace", `<Amount currencyCode="KWD">1.000</Amount><x:Amount xmlns:x="urn:ext">1000</x:Amount>`, "element Amount in namespace urn:ext is not in namespace"},
		{"Amount with an unbound prefix", `<Amount currencyCode="KWD">1.000</Amount><y:Amount>1000</y:Amount>`, "element Amount in namespace y is not in namespace"},
		{"repeated attribute", `<Amount currencyCode="KWD" currencyCode="JPY">1000</Amount>`, "element Amount has the attribute currencyCode twice"},
		{"repeated attribute under another prefix", `<Amount xmlns:x="urn:ext" currencyCode="KWD" x:currencyCode="JPY">1000</Amount>`, "attribute currencyCode twice"},
		{"SettlementType twice", `<Amount currencyCode="KWD">1.000</Amount><SettlementType>Credit</SettlementType>`, "element SettlementType appears twice"},
		// amounts "": the body repeats OrderId instead.
		{"OrderId twice, nested", "", "element OrderId appears twice in PaymentContextBase"},
	}
	for _, tt := range tests {
		for _, path := range []string{"one pass", "two passes"} {
			t.Run(tt.name+", "+path, func(t *testing.T) {
				body := head + tt.amounts + tail
				if tt.amounts == "" {
					body = strings.Replace(head, `<OrderId>ORD-1</OrderId>`, `<OrderId>ORD-1</OrderId><OrderId>ORD-2</OrderId>`, 1) +
						`<Amount currencyCode="KWD">1.000</Amount>` + tail
				}
				if path == "two passes" {
					body = "<!-- two passes -->" + body
				}
				r, err := DecodeSettlementRequest([]byte(body))
				if err == nil {
					t.Fatalf("accepted; the worker would act on Amount %s %q", r.Amount.CurrencyCode, r.Amount.Value)
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %q, want it to contain %q", err, tt.want)
				}
			})
		}
	}

	// What the schema allows stays accepted: repeated elements that are
	// lists, xmlns declarations, unknown elements in the namespace.
	ok := []struct{ name, body string }{
		{"golden request", string(readGolden(t, "request_optional_payment_context.xml"))},
		{"a prefixed root and children in the namespace", `<c:PaymentSettlementRequest requestId="p-1" xmlns:c="http://api.gsicommerce.com/schema/checkout/1.0">` +
			`<c:PaymentContextBase><c:OrderId>O</c:OrderId></c:PaymentContextBase><c:InvoiceId>I</c:InvoiceId><c:Amount currencyCode="USD">1.00</c:Amount>` +
			`<c:TaxAmount currencyCode="USD">0.00</c:TaxAmount><c:SettlementType>Debit</c:SettlementType></c:PaymentSettlementRequest>`},
	}
	for _, tc := range ok {
		t.Run("accepted: "+tc.name, func(t *testing.T) {
			if _, err := DecodeSettlementRequest([]byte(tc.body)); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}

	// Provider replies drive verdicts too: a ConfirmFundsReply or a
	// status that says two things is refused, not read as its last word.
	t.Run("ConfirmFundsReply with FundsAvailable twice", func(t *testing.T) {
		body := `<ConfirmFundsReply xmlns="http://api.gsicommerce.com/schema/checkout/1.0"><FundsAvailable>Fail</FundsAvailable><FundsAvailable>Success</FundsAvailable></ConfirmFundsReply>`
		if r, err := DecodeConfirmFundsReply([]byte(body)); err == nil || !strings.Contains(err.Error(), "FundsAvailable appears twice") {
			t.Fatalf("DecodeConfirmFundsReply = %+v, %v", r, err)
		}
	})
	t.Run("status with SettlementStatus twice", func(t *testing.T) {
		body := string(readGolden(t, "status_debit_without_account.xml"))
		body = strings.Replace(body, "<SettlementStatus>S</SettlementStatus>", "<SettlementStatus>R</SettlementStatus><SettlementStatus>S</SettlementStatus>", 1)
		if !strings.Contains(body, "<SettlementStatus>R</SettlementStatus>") {
			t.Fatal("the golden status no longer has <SettlementStatus>S</SettlementStatus>: update this case")
		}
		if s, err := DecodeSettlementStatus([]byte(body)); err == nil || !strings.Contains(err.Error(), "SettlementStatus appears twice") {
			t.Fatalf("DecodeSettlementStatus = %+v, %v", s, err)
		}
	})
}

// BenchmarkDecodeSettlementRequest: the one-pass decode of a request, with
// the strict reading (strictReader) on the way.
func BenchmarkDecodeSettlementRequest(b *testing.B) {
	req, err := DecodeSettlementRequest(readGolden(b, "request_required_payment_context.xml"))
	if err != nil {
		b.Fatal(err)
	}
	body, err := Encode(req) // no comment: the one-pass path
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeSettlementRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}
