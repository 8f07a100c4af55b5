package messages

import (
	"strings"
	"testing"
	"time"
)

// TestMillionDigitAmountsAreRefusedCheaply: Validate parsed an amount
// before it counted its digits, and a decimal's parse takes time that grows
// with the square of its length: an Amount of a million digits (a 1 MiB
// request, in the Radial intake's handler or at the worker's consumer)
// cost about 4 s at each validation before it was refused for having more
// than 18. Each is now answered in well under a second, with the answer it
// had: the sign's error first, else the digits'. (A fraction longer than
// the decimal package reads, 100,000 places, was "must be a decimal
// number"; it is now answered by its sign or digits too.) A value whose
// length is leading zeros is read as the number it is.
func TestMillionDigitAmountsAreRefusedCheaply(t *testing.T) {
	const n = 2_000_000 // about 10 s each before, under a second now (-race included)
	request := func(amount, tax string) *PaymentSettlementRequest {
		return &PaymentSettlementRequest{
			RequestID: "digits-1", PaymentContextBase: &PaymentContextBase{OrderID: "O-1"}, InvoiceID: "I-1",
			Amount: Amount{CurrencyCode: "USD", Value: amount}, TaxAmount: &Amount{CurrencyCode: "USD", Value: tax},
			SettlementType: SettlementDebit,
		}
	}
	tests := []struct {
		name, amount, tax, want string
	}{
		{"two million digits", "1" + strings.Repeat("7", n), "0", "Amount: must have at most 18 digits"},
		{"negative, two million digits", "-1" + strings.Repeat("7", n), "0", "Amount: must be a positive amount"},
		{"zero with two million decimals", "0." + strings.Repeat("0", n), "0", "Amount: must be a positive amount"},
		{"tax, negative, two million digits", "1.00", "-" + strings.Repeat("9", n), "TaxAmount: must not be negative"},
		{"tax, zero with two million decimals", "1.00", "0." + strings.Repeat("0", n), "TaxAmount: must have at most 18 digits"},
		{"two million leading zeros", strings.Repeat("0", n) + "55.00", "0", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkValidatedCheaply(t, request(tt.amount, tt.tax), tt.want)
		})
	}
}

// TestMillionDigitQuantityIsRefusedCheaply: a LineItem's Quantity (and a
// VAT rate), an xsd:decimal, was parsed whatever its length to check it:
// a million digits cost seconds at each validation, and were accepted, for
// the provider mapping to parse again. A decimal of more than 18 digits,
// what every XML Schema processor reads, is now refused unparsed.
func TestMillionDigitQuantityIsRefusedCheaply(t *testing.T) {
	golden := readGolden(t, "request_optional_payment_context.xml")
	for _, tt := range []struct{ name, quantity, want string }{
		{"two million digits", "1" + strings.Repeat("0", 2_000_000), "Quantity: must have at most 18 digits"},
		{"18 digits", strings.Repeat("9", 18), ""},
		{"a million leading zeros", strings.Repeat("0", 999_000) + "2", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := DecodeSettlementRequest(golden)
			if err != nil {
				t.Fatal(err)
			}
			r.InvoiceData.LineItems.LineItem[0].Quantity = tt.quantity
			checkValidatedCheaply(t, r, tt.want)
		})
	}
}

// checkValidatedCheaply validates r, which must answer within 5 s (and is
// flagged when it takes more than 3 s) with an error containing want, or
// no error when want is "".
func checkValidatedCheaply(t *testing.T, r *PaymentSettlementRequest, want string) {
	t.Helper()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- r.Validate() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("not validated within 5s")
	}
	took := time.Since(start)
	t.Logf("%v: %.120v", took.Round(time.Millisecond), err)
	switch {
	case want == "" && err != nil:
		t.Fatalf("refused: %v", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Fatalf("error %.300v, want it to contain %q", err, want)
	case took > 3*time.Second:
		t.Errorf("validated in %v", took.Round(time.Millisecond))
	}
}
