package miva

import (
	"net/http"
	"testing"
)

// listAfterCapture is the sandbox's OrderPaymentList_Load answer for an
// order of cmd/settlement-bench's mixed run after its capture: the
// authorization and the capture record (the list that names the capture;
// the one before it, in ConfirmFunds, has the authorization alone).
const listAfterCapture = `{"success":1,"data":[` +
	`{"id":1,"order_id":10000001,"type":3,"refnum":"","amount":100.0,"formatted_amount":"$100.00","available":0.0,"formatted_available":"$0.00","dtstamp":"1796666778","expires":"","pay_id":0,"pay_secid":0},` +
	`{"id":2,"order_id":10000001,"type":4,"refnum":"","amount":100.0,"formatted_amount":"$100.00","available":0.0,"formatted_available":"$0.00","dtstamp":"1796666778","expires":"","pay_id":0,"pay_secid":0}]}`

// BenchmarkDecodePaymentList is what PaymentList does with a list answer
// once read: the envelope (decode, as call does), then DecodePayments.
func BenchmarkDecodePaymentList(b *testing.B) {
	c := &Client{}
	body := []byte(listAfterCapture)
	b.ReportAllocs()
	for b.Loop() {
		data, err := c.decode(FunctionPaymentList, http.StatusOK, body)
		if err != nil {
			b.Fatal(err)
		}
		if ps, err := DecodePayments(data); err != nil || len(ps) != 2 {
			b.Fatal(ps, err)
		}
	}
}
