package messages

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

const jsonRequest = `{
  "requestId": "123",
  "paymentContextBase": {"orderId": "12345"},
  "invoiceId": "invoice-id",
  "amount": {"currencyCode": "USD", "value": "100.00"},
  "taxAmount": {"currencyCode": "USD", "value": "6.00"},
  "settlementType": "Debit",
  "clientContext": "987654321",
  "finalDebit": "true",
  "invoiceData": {"lineItems": {"lineItem": [{"itemId": "15123", "quantity": "1", "itemShortDescription": "NA"}]}},
  "shipmentData": [{"shippedDate": "2021-05-10T21:59:13Z", "carrier": {"name": "FEDEX"}}]
}`

func TestDecodeSettlementRequestJSON(t *testing.T) {
	r, err := DecodeSettlementRequestJSON([]byte(jsonRequest))
	if err != nil {
		t.Fatalf("DecodeSettlementRequestJSON: %v", err)
	}
	if err := r.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if r.RequestID != "123" || r.OrderID() != "12345" || r.Amount != (Amount{"USD", "100.00"}) || r.ShipmentData[0].Carrier.Name != "FEDEX" {
		t.Errorf("decoded %+v", r)
	}
	xmlForm, err := DecodeSettlementRequest(readGolden(t, "request_required_payment_context_base.xml"))
	if err != nil {
		t.Fatal(err)
	}
	// The same request as the golden XML, less the invoice and shipment data.
	trimmed := *r
	trimmed.InvoiceData, trimmed.ShipmentData = nil, nil
	if !reflect.DeepEqual(&trimmed, xmlForm) {
		t.Errorf("JSON form %+v != XML form %+v", &trimmed, xmlForm)
	}
	if trimmed.Fingerprint() != xmlForm.Fingerprint() {
		t.Error("JSON and XML forms of one request have different fingerprints")
	}
}

func TestDecodeSettlementRequestJSONIsStrict(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"empty", ``, "body is empty"},
		{"unknown field", `{"requestId":"1","foo":1}`, `body has an unknown JSON field "foo"`},
		{"unknown nested field", `{"amount":{"currencyCode":"USD","value":"1.00","cents":100}}`, `body has an unknown JSON field "cents" in amount`},
		{"unknown field in an array", `{"shipmentData":[{"shippedDate":"x"},{"bogus":true}]}`, `body has an unknown JSON field "bogus" in shipmentData[1]`},
		{"other case", `{"RequestId":"1"}`, `body has an unknown JSON field "RequestId"`},
		{"Go field name", `{"RequestID":"1"}`, `body has an unknown JSON field "RequestID"`},
		{"XMLName", `{"XMLName":{}}`, `body has an unknown JSON field "XMLName"`},
		{"duplicate", `{"requestId":"1","requestId":"2"}`, `body has the JSON field "requestId" twice`},
		{"duplicate nested", `{"amount":{"value":"1.00","value":"100.00"}}`, `body has the JSON field "value" twice in amount`},
		{"NUL in a string", `{"requestId":"r\u0000-1"}`, `JSON field requestId holds a NUL character`},
		{"NUL nested", `{"paymentContext":{"orderId":"O\u0000"}}`, `JSON field paymentContext.orderId holds a NUL character`},
		{"control character", `{"invoiceId":"I\u0001"}`, `JSON field invoiceId holds a character no settlement document can carry (U+0001)`},
		{"control character in an array", `{"shipmentData":[{"shippedDate":"x\u001f"}]}`, `JSON field shipmentData[0].shippedDate holds a character no settlement document can carry (U+001F)`},
		{"U+FFFF", `{"invoiceId":"I\uffff"}`, `JSON field invoiceId holds a character no settlement document can carry (U+FFFF)`},
		// encoding/json reads an invalid UTF-8 byte as U+FFFD without a
		// word: "r\xfe" and "r\xff" would become one requestId, and an
		// order id the order system never sent would reach the provider.
		{"invalid UTF-8", "{\"requestId\":\"r\xfe-1\"}", `body is not valid UTF-8`},
		{"lone surrogate", `{"requestId":"r\ud800-1"}`, `JSON field requestId holds U+FFFD or a lone surrogate escape`},
		{"invalid UTF-8 nested", "{\"paymentContext\":{\"orderId\":\"48\xff97\"}}", `body is not valid UTF-8`},
		{"syntax", `{"requestId":`, "body is not valid JSON"},
		{"not JSON", `<PaymentSettlementRequest/>`, "body is not valid JSON"},
		{"trailing data", `{"requestId":"1"} {"requestId":"2"}`, "body has data after the JSON object"},
		{"trailing garbage", `{"requestId":"1"} x`, "body has data after the JSON object"},
		{"number amount", `{"amount":{"currencyCode":"USD","value":55.00}}`, "JSON field amount.value must be a string, not number"},
		{"array root", `[]`, "JSON field (the body) must be an object, not array"},
		{"object for string", `{"requestId":{"a":1}}`, "JSON field requestId must be a string, not object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := DecodeSettlementRequestJSON([]byte(tt.body))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("DecodeSettlementRequestJSON = %+v, %v; want a *ParseError", r, err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %q, want prefix %q", err, tt.want)
			}
		})
	}
}

func TestJSONTagsMatchWireNames(t *testing.T) {
	// Every field of a full request survives json.Marshal and the strict
	// decoder: no tag is refused by its own decoder.
	r := validRequest()
	body, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeSettlementRequestJSON(body)
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	r.XMLName = back.XMLName
	if !reflect.DeepEqual(r, back) {
		t.Errorf("JSON round trip:\n%+v\n%+v", r, back)
	}
}
