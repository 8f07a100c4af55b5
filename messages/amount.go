package messages

import (
	"fmt"

	"github.com/settlement-worker/settlement-worker/money"
)

// Money converts the amount to an exact money.Money. It fails when the
// currency is not an active upper-case ISO 4217 code, when the value is not
// a plain decimal, or when the value has more significant decimal places
// than the currency's exponent ("100.50" JPY, "12.345" USD): a value that is
// not a whole number of minor units is never rounded.
//
// Its time is linear in the length of the value (money.ParseExact): the
// pipeline converts every request's Amount, valid or not, and a long
// value (a million digits) is answered without being parsed.
func (a Amount) Money() (money.Money, error) {
	m, err := money.ParseExact(a.Value, a.CurrencyCode)
	if err != nil {
		return money.Money{}, fmt.Errorf("messages: amount: %w", err)
	}
	return m, nil
}

// Check checks the amount with the rule of a PaymentSettlementRequest's
// Amount in Validate: a positive xsd:decimal of at most 18 digits and two
// significant decimal places, no more than its currency's exponent, in an
// upper-case currency Radial's schema lists (SchemaCurrency). It is the
// check of an amount the worker will send as a Radial Amount though no
// request carries it (the original authorization amount, sent in a
// ConfirmFundsRequest). The problems are ValidationErrors under path, or
// nil. It does not check that the amount is a whole int64 of minor units
// (18 digits of KWD are not): Money does.
func (a Amount) Check(path string) error {
	v := &validator{}
	v.amount(path, &a, positive, false)
	return v.result()
}
