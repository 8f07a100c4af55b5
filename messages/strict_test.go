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

// TestElementInsideATextElementIsRefused: encoding/xml skips an element it
// does not know and joins the text on either side of it, so
// <Amount currencyCode="USD">1<x>9</x>0.00</Amount> was read, validated and
// settled as USD 10.00, while the document's text (what XPath's string(),
// or a schema validator's error, says) is 190.00: an amount no reading of
// the document has. The schema gives Amount, OrderId and every other
// element the worker reads as a value simple content, which has no child
// element: each is refused, naming the element, on both paths; a comment
// or a processing instruction in the text (not text itself) stays
// accepted, and unknown elements in a complex element still are.
func TestElementInsideATextElementIsRefused(t *testing.T) {
	const head = `<PaymentSettlementRequest requestId="txt-1" xmlns="http://api.gsicommerce.com/schema/checkout/1.0">`
	const ctx = `<PaymentContextBase><OrderId>ORD-1</OrderId></PaymentContextBase>`
	const inv = `<InvoiceId>INV-1</InvoiceId>`
	const amt = `<Amount currencyCode="USD">10.00</Amount>`
	const tail = `<TaxAmount currencyCode="USD">0.00</TaxAmount><SettlementType>Debit</SettlementType></PaymentSettlementRequest>`
	tests := []struct{ name, body, want string }{
		{"element in Amount", head + ctx + inv + `<Amount currencyCode="USD">1<x>9</x>0.00</Amount>` + tail, "element x inside Amount"},
		{"empty element in Amount", head + ctx + inv + `<Amount currencyCode="USD">1<x/>0.00</Amount>` + tail, "element x inside Amount"},
		{"Amount inside Amount", head + ctx + inv + `<Amount currencyCode="USD"><Amount currencyCode="JPY">1000</Amount>10.00</Amount>` + tail, "element Amount inside Amount"},
		{"element in TaxAmount", head + ctx + inv + amt + `<TaxAmount currencyCode="USD">0<x>1</x>.00</TaxAmount><SettlementType>Debit</SettlementType></PaymentSettlementRequest>`, "element x inside TaxAmount"},
		{"element in OrderId", head + `<PaymentContextBase><OrderId>ORD<x>-9</x>-1</OrderId></PaymentContextBase>` + inv + amt + tail, "element x inside OrderId"},
		{"element in SettlementType", head + ctx + inv + amt + `<TaxAmount currencyCode="USD">0.00</TaxAmount><SettlementType>De<x>bit</x></SettlementType></PaymentSettlementRequest>`, "element x inside SettlementType"},
	}
	for _, tt := range tests {
		for _, path := range []string{"one pass", "two passes"} {
			t.Run(tt.name+", "+path, func(t *testing.T) {
				body := tt.body
				if path == "two passes" {
					body = "<!-- two passes -->" + body
				}
				r, err := DecodeSettlementRequest([]byte(body))
				if err == nil {
					t.Fatalf("accepted; the worker would act on Amount %s %q, order %q", r.Amount.CurrencyCode, r.Amount.Value, r.OrderID())
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %q, want it to contain %q", err, tt.want)
				}
			})
		}
	}

	ok := []struct{ name, body, amount string }{
		{"comment in Amount", head + ctx + inv + `<Amount currencyCode="USD">1<!-- c -->0.00</Amount>` + tail, "10.00"},
		{"processing instruction in Amount", head + ctx + inv + `<Amount currencyCode="USD">1<?pi x?>0.00</Amount>` + tail, "10.00"},
		{"CDATA in Amount", head + ctx + inv + `<Amount currencyCode="USD"><![CDATA[10.00]]></Amount>` + tail, "10.00"},
		{"unknown element in PaymentContextBase", head + `<PaymentContextBase><OrderId>ORD-1</OrderId><Extra>1</Extra></PaymentContextBase>` + inv + amt + tail, "10.00"},
	}
	for _, tc := range ok {
		t.Run("accepted: "+tc.name, func(t *testing.T) {
			r, err := DecodeSettlementRequest([]byte(tc.body))
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if r.Amount.Value != tc.amount {
				t.Fatalf("Amount %q, want %q", r.Amount.Value, tc.amount)
			}
		})
	}

	// A provider's status says what was settled: one whose Amount has an
	// element in it is refused, not read as the text around it.
	t.Run("status with an element in Amount", func(t *testing.T) {
		body := string(readGolden(t, "status_debit_without_account.xml"))
		i := strings.Index(body, "<Amount ")
		j := strings.Index(body[i:], "</Amount>")
		if i < 0 || j < 0 {
			t.Fatal("the golden status has no <Amount ...>...</Amount>: update this case")
		}
		body = body[:i+j] + "<x>9</x>" + body[i+j:]
		if s, err := DecodeSettlementStatus([]byte(body)); err == nil || !strings.Contains(err.Error(), "element x inside Amount") {
			t.Fatalf("DecodeSettlementStatus = %+v, %v", s, err)
		}
	})
}

// TestAttributeInAnotherNamespaceIsNotTheAttribute: encoding/xml matches an
// attribute field by local name in any namespace, so <Amount
// xmlns:o="urn:o" o:currencyCode="USD"> was read as USD, while the schema's
// attributes are unqualified: a schema validator (and a DOM reader asking
// for currencyCode) finds no currencyCode there. An attribute the type
// reads, written with a prefix, is refused naming it, on both paths;
// prefixed attributes the type does not read (xsi:schemaLocation) stay
// accepted.
func TestAttributeInAnotherNamespaceIsNotTheAttribute(t *testing.T) {
	const head = `<PaymentSettlementRequest requestId="att-1" xmlns="http://api.gsicommerce.com/schema/checkout/1.0" xmlns:o="urn:o" xmlns:c="http://api.gsicommerce.com/schema/checkout/1.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">`
	const ctx = `<PaymentContextBase><OrderId>ORD-1</OrderId></PaymentContextBase><InvoiceId>INV-1</InvoiceId>`
	const tail = `<TaxAmount currencyCode="USD">0.00</TaxAmount><SettlementType>Debit</SettlementType></PaymentSettlementRequest>`
	tests := []struct{ name, body, want string }{
		{"currencyCode in a foreign namespace", head + ctx + `<Amount o:currencyCode="USD">10.00</Amount>` + tail, "attribute currencyCode of element Amount is in namespace urn:o"},
		{"currencyCode with the document's namespace as a prefix", head + ctx + `<Amount c:currencyCode="USD">10.00</Amount>` + tail, "attribute currencyCode of element Amount is in namespace"},
		{"currencyCode in the xml namespace", head + ctx + `<Amount xml:currencyCode="USD">10.00</Amount>` + tail, "attribute currencyCode of element Amount is in namespace"},
		{"requestId in a foreign namespace", strings.Replace(head, `requestId="att-1"`, `o:requestId="att-1"`, 1) + ctx + `<Amount currencyCode="USD">10.00</Amount>` + tail, "attribute requestId of element PaymentSettlementRequest"},
	}
	for _, tt := range tests {
		for _, path := range []string{"one pass", "two passes"} {
			t.Run(tt.name+", "+path, func(t *testing.T) {
				body := tt.body
				if path == "two passes" {
					body = "<!-- two passes -->" + body
				}
				r, err := DecodeSettlementRequest([]byte(body))
				if err == nil {
					t.Fatalf("accepted; the worker would act on Amount %s %q, requestId %q", r.Amount.CurrencyCode, r.Amount.Value, r.RequestID)
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %q, want it to contain %q", err, tt.want)
				}
			})
		}
	}
	t.Run("accepted: xsi:schemaLocation and an unknown prefixed attribute", func(t *testing.T) {
		body := strings.Replace(head, `requestId="att-1"`, `requestId="att-1" xsi:schemaLocation="urn:x x.xsd" o:note="n"`, 1) + ctx + `<Amount currencyCode="USD" o:note="n">10.00</Amount>` + tail
		r, err := DecodeSettlementRequest([]byte(body))
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		if r.Amount.CurrencyCode != "USD" || r.RequestID != "att-1" {
			t.Fatalf("read %+v, requestId %q", r.Amount, r.RequestID)
		}
	})
}
