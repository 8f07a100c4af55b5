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
func (a Amount) Money() (money.Money, error) {
	m, err := money.Parse(a.Value, a.CurrencyCode)
	if err != nil {
		return money.Money{}, fmt.Errorf("messages: amount: %w", err)
	}
	if _, err := m.MinorUnits(); err != nil {
		return money.Money{}, fmt.Errorf("messages: amount: %w", err)
	}
	return m, nil
}
