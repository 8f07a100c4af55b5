package messages

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestManyAttributesAreReadInLinearTime: the strict reader compared every
// pair of an element's attributes to find a repeated one, so one element
// with 100,000 distinct attributes (under 1 MiB, the default body limit)
// kept a core busy for about 18 s — for the intake's handler and for the
// worker's consumer alike. Each body must now be answered within a few
// seconds, on both paths, with the same answer: accepted when every name
// differs, refused naming the repeated one otherwise.
func TestManyAttributesAreReadInLinearTime(t *testing.T) {
	const n = 100_000
	many := func(extra string) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, ` a%d=""`, i)
		}
		return b.String() + extra
	}
	const ns = `xmlns="http://api.gsicommerce.com/schema/checkout/1.0"`
	body := func(rootAttrs, amountAttrs, unknownAttrs string) string {
		return `<PaymentSettlementRequest requestId="attrs-1" ` + ns + rootAttrs + `>` +
			`<PaymentContextBase><OrderId>ORD-1</OrderId></PaymentContextBase><InvoiceId>INV-1</InvoiceId>` +
			`<Amount currencyCode="USD"` + amountAttrs + `>1.00</Amount><TaxAmount currencyCode="USD">0.00</TaxAmount>` +
			`<SettlementType>Debit</SettlementType><Extension` + unknownAttrs + `/></PaymentSettlementRequest>`
	}
	tests := []struct{ name, body, want string }{
		{"on the root", body(many(""), "", ""), ""},
		{"on a known element", body("", many(""), ""), ""},
		{"on an unknown element", body("", "", many("")), ""},
		{"the last one repeats the first", body("", "", many(` a0="x"`)), "element Extension has the attribute a0 twice"},
		{"a known one repeated last", body("", many(` currencyCode="JPY"`), ""), "element Amount has the attribute currencyCode twice"},
	}
	for _, tt := range tests {
		for _, path := range []string{"one pass", "two passes"} {
			t.Run(tt.name+", "+path, func(t *testing.T) {
				b := tt.body
				if path == "two passes" {
					b = "<!-- two passes -->" + b
				}
				type result struct{ err error }
				done := make(chan result, 1)
				start := time.Now()
				go func() {
					_, err := DecodeSettlementRequest([]byte(b))
					done <- result{err}
				}()
				var res result
				select {
				case res = <-done:
				case <-time.After(10 * time.Second):
					t.Fatalf("a %d-byte body with %d attributes on one element was not decoded within 10s", len(b), n)
				}
				t.Logf("%d bytes: %v", len(b), time.Since(start))
				switch {
				case tt.want == "" && res.err != nil:
					t.Fatalf("refused: %v", res.err)
				case tt.want != "" && (res.err == nil || !strings.Contains(res.err.Error(), tt.want)):
					t.Fatalf("error %v, want it to contain %q", res.err, tt.want)
				}
			})
		}
	}
}
