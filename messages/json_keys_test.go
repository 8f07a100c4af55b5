package messages

import (
	"errors"
	"reflect"
	"testing"
)

// TestSettlementKeys pins what the key walker of
// DecodeSettlementRequestJSON (settlementKeys) answers, error by error, on
// the bodies of TestDecodeSettlementRequestJSONIsStrict and more that test
// its corners: keys twice in arrays, wrong shapes (left to the decoder),
// strings in skipped values, bodies cut short, malformed arrays. The wants
// are those of checkJSONFields, the walker it replaced, which a
// differential fuzz test found no body to answer otherwise. A want of ""
// is no error.
func TestSettlementKeys(t *testing.T) {
	tests := []struct{ body, want string }{
		{jsonRequest, ``},
		{``, `body is not valid JSON: EOF`},
		{` `, `body is not valid JSON: EOF`},
		{`null`, ``},
		{`true`, ``},
		{`1`, ``},
		{`"x"`, ``},
		{`"\u0000"`, `JSON field (the body) holds a NUL character (\u0000), which no settlement document can carry`},
		{`"\ud800"`, `JSON field (the body) holds U+FFFD or a lone surrogate escape, which cannot be told apart`},
		{`"\u0001"`, `JSON field (the body) holds a character no settlement document can carry (U+0001)`},
		{`[]`, ``},
		{`{}`, ``},
		{`[1 x]`, `body is not valid JSON: invalid character 'x' after array element`},
		{`{"a"`, `body has an unknown JSON field "a"`},
		{`{"a":`, `body has an unknown JSON field "a"`},
		{`{,}`, `body is not valid JSON: invalid character ','`},
		{`}`, `body is not valid JSON: invalid character '}' looking for beginning of value`},
		{`]`, `body is not valid JSON: invalid character ']' looking for beginning of value`},
		{`{"requestId":"1","foo":1}`, `body has an unknown JSON field "foo"`},
		{`{"amount":{"currencyCode":"USD","value":"1.00","cents":100}}`, `body has an unknown JSON field "cents" in amount`},
		{`{"shipmentData":[{"shippedDate":"x"},{"bogus":true}]}`, `body has an unknown JSON field "bogus" in shipmentData[1]`},
		{`{"RequestId":"1"}`, `body has an unknown JSON field "RequestId"`},
		{`{"RequestID":"1"}`, `body has an unknown JSON field "RequestID"`},
		{`{"XMLName":{}}`, `body has an unknown JSON field "XMLName"`},
		{`{"-":1}`, `body has an unknown JSON field "-"`},
		{`{"requestId":"1","requestId":"2"}`, `body has the JSON field "requestId" twice`},
		{`{"amount":{"value":"1.00","value":"100.00"}}`, `body has the JSON field "value" twice in amount`},
		{`{"amount":{"value":"1.00"},"amount":{"value":"2.00"}}`, `body has the JSON field "amount" twice`},
		{`{"requestId":"r\u0000-1"}`, `JSON field requestId holds a NUL character (\u0000), which no settlement document can carry`},
		{`{"paymentContext":{"orderId":"O\u0000"}}`, `JSON field paymentContext.orderId holds a NUL character (\u0000), which no settlement document can carry`},
		{`{"invoiceId":"I\u0001"}`, `JSON field invoiceId holds a character no settlement document can carry (U+0001)`},
		{`{"shipmentData":[{"shippedDate":"x\u001f"}]}`, `JSON field shipmentData[0].shippedDate holds a character no settlement document can carry (U+001F)`},
		{`{"invoiceId":"I\uffff"}`, `JSON field invoiceId holds a character no settlement document can carry (U+FFFF)`},
		{"{\"requestId\":\"r\xfe-1\"}", `JSON field requestId holds U+FFFD or a lone surrogate escape, which cannot be told apart`},
		{`{"requestId":"r\ud800-1"}`, `JSON field requestId holds U+FFFD or a lone surrogate escape, which cannot be told apart`},
		{`{"requestId":"r\udbff\udfff-1"}`, ``},
		{`{"requestId":"r\ufffd"}`, `JSON field requestId holds U+FFFD or a lone surrogate escape, which cannot be told apart`},
		{"{\"paymentContext\":{\"orderId\":\"48\xff97\"}}", `JSON field paymentContext.orderId holds U+FFFD or a lone surrogate escape, which cannot be told apart`},
		{`{"requestId":`, `body is not valid JSON: EOF`},
		{`<PaymentSettlementRequest/>`, `body is not valid JSON: invalid character '<' looking for beginning of value`},
		{`{"requestId":"1"} {"requestId":"2"}`, ``},
		{`{"requestId":"1"} x`, ``},
		{`{"amount":{"currencyCode":"USD","value":55.00}}`, ``},
		{`{"requestId":{"a":1}}`, ``},
		{`{"requestId":{"a":"\u0000","a":1}}`, ``},
		{`{"requestId":["\u0000"]}`, ``},
		{`{"requestId":[1 x]}`, `body is not valid JSON: invalid character 'x' after array element`},
		{`{"shipmentData":[1 x]}`, `body is not valid JSON: invalid character 'x' after array element`},
		{`{"shipmentData":[{} x]}`, `body is not valid JSON: invalid character 'x' after array element`},
		{`{"shipmentData":[{},]}`, `body is not valid JSON: invalid character ']' looking for beginning of value`},
		{`{"shipmentData":{"shippedDate":"\u0000"}}`, ``},
		{`{"shipmentData":["\u0000"]}`, `JSON field shipmentData[0] holds a NUL character (\u0000), which no settlement document can carry`},
		{`{"shipmentData":[null,"x\u0001"]}`, `JSON field shipmentData[1] holds a character no settlement document can carry (U+0001)`},
		{`{"invoiceData":{"lineItems":{"lineItem":[{"itemId":"1"},{"itemId":"2","itemId":"3"}]}}}`, `body has the JSON field "itemId" twice in invoiceData.lineItems.lineItem[1]`},
		{`{"invoiceData":{"lineItems":{"lineItem":[{"customAttributes":{"customAttribute":[{"key":"k","Value":"v"}]}}]}}}`, `body has an unknown JSON field "Value" in invoiceData.lineItems.lineItem[0].customAttributes.customAttribute[0]`},
		{`{"shipmentData":[{"carrier":{"name":"A","name":"B"}}]}`, `body has the JSON field "name" twice in shipmentData[0].carrier`},
		{`{"amount":null,"amount":null}`, `body has the JSON field "amount" twice`},
		{`{"amount":{"value":tru}}`, `body is not valid JSON: invalid character '}' in literal true (expecting 'e')`},
		{`{"amount":{"value":"1"`, `body is not valid JSON: EOF`},
		{`{"amount":{"value":"1",`, `body is not valid JSON: EOF`},
		{`{"requestId":"1",}`, `body is not valid JSON: invalid character '}' looking for beginning of object key string`},
		{`{"requestId" "1"}`, `body is not valid JSON: invalid character '"' after object key`},
		{`{"\u0000":1}`, `body has an unknown JSON field "\x00"`},
		{`{"requestId\u0000":1}`, `body has an unknown JSON field "requestId\x00"`},
		{`{"requestId":"\u0085\u2028"}`, ``},
	}
	for _, tt := range tests {
		err := settlementKeys.Check([]byte(tt.body), reflect.TypeOf(new(PaymentSettlementRequest)))
		var pe *ParseError
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("body %q: %v, want no error", tt.body, err)
		case tt.want != "" && !errors.As(err, &pe):
			t.Errorf("body %q: %#v, want a *ParseError %q", tt.body, err, tt.want)
		case tt.want != "" && err.Error() != tt.want:
			t.Errorf("body %q:\n got %q\nwant %q", tt.body, err, tt.want)
		}
	}
}
