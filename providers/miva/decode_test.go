package miva_test

import (
	"errors"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/settlement-worker/settlement-worker/providers/miva"
)

func TestDecodeSeedExampleExactly(t *testing.T) {
	ps, err := miva.ParsePaymentList([]byte(seedExampleResponse))
	if err != nil {
		t.Fatal(err)
	}
	want := []miva.Payment{
		{ID: 2, OrderID: 200102, Type: 1, Refnum: "200102", Amount: decimal.New(70, -1), FormattedAmount: "$7.00",
			Available: decimal.New(70, -1), FormattedAvailable: "$7.00", DTStamp: "1536097658", Expires: "", PayID: 115},
		{ID: 4, OrderID: 200102, Type: 3, Refnum: "cj35mhgm", Amount: decimal.New(10, -1), FormattedAmount: "$1.00",
			Available: decimal.New(10, -1), FormattedAvailable: "$1.00", DTStamp: "1537307983", Expires: "", PayID: 113},
	}
	if len(ps) != len(want) {
		t.Fatalf("%d records", len(ps))
	}
	for i, p := range ps {
		w := want[i]
		// Exact: same coefficient and exponent as the text 7.0 / 1.0.
		if p.Amount.Coefficient().Cmp(w.Amount.Coefficient()) != 0 || p.Amount.Exponent() != w.Amount.Exponent() ||
			!p.Available.Equal(w.Available) {
			t.Fatalf("record %d amounts %s / %s", i, p.Amount, p.Available)
		}
		p.Amount, p.Available, w.Amount, w.Available = decimal.Zero, decimal.Zero, decimal.Zero, decimal.Zero
		if p != w {
			t.Fatalf("record %d = %+v, want %+v", i, p, w)
		}
	}
}

func TestDecodeTable(t *testing.T) {
	tests := []struct {
		name, body string
		amount     string // of the first record, exact text
		wantErr    bool
	}{
		{"more digits than a float64 holds", `{"success":1,"data":[{"id":1,"type":3,"amount":12345678901234567.89,"available":0.1}]}`, "12345678901234567.89", false},
		{"amounts and ids as strings", `{"success":"1","data":[{"id":"1","type":"3","amount":"1.25","available":"1.25","dtstamp":1536097658}]}`, "1.25", false},
		{"success true, unknown fields", `{"success":true,"data":[{"id":1,"type":4,"amount":0.125,"available":0,"module":{"code":"x"}}]}`, "0.125", false},
		{"empty list", `{"success":1,"data":[]}`, "", false},
		{"a capture needs no available", `{"success":1,"data":[{"id":1,"type":4,"amount":1.5}]}`, "1.5", false},
		{"record without amount", `{"success":1,"data":[{"id":1,"type":3}]}`, "", true},
		{"data null", `{"success":1,"data":null}`, "", true},
		{"data missing", `{"success":1}`, "", true},
		{"data an object", `{"success":1,"data":{"id":1,"type":3,"amount":1,"available":1}}`, "", true},
		{"a record null", `{"success":1,"data":[null]}`, "", true},
		{"an authorization without available", `{"success":1,"data":[{"id":1,"type":3,"amount":1.25}]}`, "", true},
		{"amount not a number", `{"success":1,"data":[{"id":1,"type":3,"amount":"seven"}]}`, "", true},
		{"error answer", `{"success":0,"error_code":"order_not_found","error_message":"Order 1 not found"}`, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := miva.ParsePaymentList([]byte(tc.body))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("decoded %+v", ps)
				}
				var ae *miva.APIError
				if tc.name == "error answer" && (!errors.As(err, &ae) || ae.Code != "order_not_found") {
					t.Fatalf("error answer: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.amount == "" {
				if len(ps) != 0 {
					t.Fatalf("%+v", ps)
				}
				return
			}
			if !ps[0].Amount.Equal(decimal.RequireFromString(tc.amount)) {
				t.Fatalf("amount %s, want %s", ps[0].Amount, tc.amount)
			}
		})
	}
}

func TestErrorClassesCoverTheSandbox(t *testing.T) {
	listed := map[string]bool{}
	for _, c := range miva.ErrorClasses {
		if listed[c.Code] {
			t.Fatalf("%s listed twice", c.Code)
		}
		listed[c.Code] = true
	}
	for _, code := range []string{
		"access_denied", "invalid_signature", "invalid_timestamp", "invalid_store", "invalid_function", "invalid_request",
		"missing_parameter", "invalid_parameter", "order_not_found", "payment_not_found", "invalid_payment_type",
		"amount_exceeds_available", "amount_exceeds_refundable", "authorization_expired", "payment_declined", "processor_unavailable",
	} {
		if !listed[code] {
			t.Fatalf("sandbox code %s is not classified", code)
		}
	}
}
