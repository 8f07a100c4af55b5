package frisbii

import (
	"testing"
	"time"
)

// chargeAuthorized is the sandbox's GET /v1/charge answer for a charge of
// cmd/settlement-bench's mixed run (indented as the sandbox writes it).
const chargeAuthorized = `{
  "handle": "30000001",
  "state": "authorized",
  "customer": "customer-1",
  "amount": 10000,
  "currency": "USD",
  "authorized": "2025-03-04T05:06:07.000+00:00",
  "created": "2025-03-04T05:06:07.000+00:00",
  "processing": false,
  "source": {"type": "card"},
  "order_lines": [{"id": "ol-8707a01d6329", "ordertext": "Order 30000001", "amount": 10000, "vat": 0, "quantity": 1,
    "origin": "ondemand", "timestamp": "2025-03-04T05:06:07.000+00:00", "unit_amount": 10000, "amount_defined_incl_vat": true}],
  "refunded_amount": 0,
  "authorized_amount": 10000
}`

// BenchmarkDecodeCharge is what the client does with a charge answer once
// read (decodeCharge: the JSON text check, the decoding, the API key
// redacted from the texts a reason may quote), once per ConfirmFunds and
// once per settle.
func BenchmarkDecodeCharge(b *testing.B) {
	c, err := New(Config{BaseURL: "http://127.0.0.1:1", APIKey: "priv_bench", Timeout: time.Second}, nil)
	if err != nil {
		b.Fatal(err)
	}
	r := reply{status: 200, body: []byte(chargeAuthorized)}
	b.ReportAllocs()
	for b.Loop() {
		if ch, err := c.decodeCharge(r); err != nil || ch.Handle != "30000001" {
			b.Fatal(ch, err)
		}
	}
}
