package messages

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// keyBodies are JSON bodies that reach the key walker of
// DecodeSettlementRequestJSON: those of TestDecodeSettlementRequestJSONIsStrict
// and more that test its corners (keys twice in arrays, wrong shapes,
// strings in skipped values, bodies cut short, malformed arrays).
var keyBodies = []string{
	jsonRequest,
	``, ` `, `null`, `true`, `1`, `"x"`, `"\u0000"`, `"\ud800"`, `"\u0001"`, `[]`, `{}`, `[1 x]`, `{"a"`, `{"a":`, `{,}`, `}`, `]`,
	`{"requestId":"1","foo":1}`,
	`{"amount":{"currencyCode":"USD","value":"1.00","cents":100}}`,
	`{"shipmentData":[{"shippedDate":"x"},{"bogus":true}]}`,
	`{"RequestId":"1"}`, `{"RequestID":"1"}`, `{"XMLName":{}}`, `{"-":1}`,
	`{"requestId":"1","requestId":"2"}`,
	`{"amount":{"value":"1.00","value":"100.00"}}`,
	`{"amount":{"value":"1.00"},"amount":{"value":"2.00"}}`,
	`{"requestId":"r\u0000-1"}`,
	`{"paymentContext":{"orderId":"O\u0000"}}`,
	`{"invoiceId":"I\u0001"}`,
	`{"shipmentData":[{"shippedDate":"x\u001f"}]}`,
	`{"invoiceId":"I\uffff"}`,
	"{\"requestId\":\"r\xfe-1\"}",
	`{"requestId":"r\ud800-1"}`,
	`{"requestId":"r\udbff\udfff-1"}`,
	`{"requestId":"r\ufffd"}`,
	"{\"paymentContext\":{\"orderId\":\"48\xff97\"}}",
	`{"requestId":`, `<PaymentSettlementRequest/>`,
	`{"requestId":"1"} {"requestId":"2"}`, `{"requestId":"1"} x`,
	`{"amount":{"currencyCode":"USD","value":55.00}}`,
	`{"requestId":{"a":1}}`, `{"requestId":{"a":"\u0000","a":1}}`, `{"requestId":["\u0000"]}`,
	`{"requestId":[1 x]}`, `{"shipmentData":[1 x]}`, `{"shipmentData":[{} x]}`, `{"shipmentData":[{},]}`,
	`{"shipmentData":{"shippedDate":"\u0000"}}`, `{"shipmentData":["\u0000"]}`, `{"shipmentData":[null,"x\u0001"]}`,
	`{"invoiceData":{"lineItems":{"lineItem":[{"itemId":"1"},{"itemId":"2","itemId":"3"}]}}}`,
	`{"invoiceData":{"lineItems":{"lineItem":[{"customAttributes":{"customAttribute":[{"key":"k","Value":"v"}]}}]}}}`,
	`{"shipmentData":[{"carrier":{"name":"A","name":"B"}}]}`,
	`{"amount":null,"amount":null}`, `{"amount":{"value":tru}}`, `{"amount":{"value":"1"`, `{"amount":{"value":"1",`,
	`{"requestId":"1",}`, `{"requestId" "1"}`, `{"\u0000":1}`, `{"requestId\u0000":1}`, `{"requestId":"\u0085\u2028"}`,
}

// oldSettlementKeys is the walk DecodeSettlementRequestJSON made before
// jsonkeys: checkJSONFields.
func oldSettlementKeys(body []byte) error {
	return checkJSONFields(json.NewDecoder(bytes.NewReader(body)), reflect.TypeOf(new(PaymentSettlementRequest)), "")
}

// sameKeyResult fails t unless the new walker and the old one give body
// the same result: nil, or errors of one type and text.
func sameKeyResult(t *testing.T, body []byte) {
	t.Helper()
	was := oldSettlementKeys(body)
	is := settlementKeys.Check(body, reflect.TypeOf(new(PaymentSettlementRequest)))
	if describeErr(was) != describeErr(is) {
		t.Errorf("body %q:\nold %s\nnew %s", body, describeErr(was), describeErr(is))
	}
}

// describeErr is an error's type and text, with its cause's.
func describeErr(err error) string {
	if err == nil {
		return "nil"
	}
	s := fmt.Sprintf("%T %q", err, err)
	if pe, ok := err.(*ParseError); ok && pe.Err != nil {
		s += fmt.Sprintf(" (cause %T)", pe.Err)
	}
	return s
}

func TestSettlementKeysAsBefore(t *testing.T) {
	for _, body := range keyBodies {
		sameKeyResult(t, []byte(body))
	}
}

func FuzzSettlementKeysAsBefore(f *testing.F) {
	for _, body := range keyBodies {
		f.Add([]byte(body))
	}
	f.Fuzz(sameKeyResult)
}
