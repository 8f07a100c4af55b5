package miva

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/settlement-worker/settlement-worker/money"
)

// Number is a Miva JSON amount: an exact decimal, written the way the
// seed's example writes amounts (7.0, 1.0, 1.25: no trailing zeros, at
// least one decimal) and read without ever going through float64.
type Number struct{ decimal.Decimal }

// Num wraps d.
func Num(d decimal.Decimal) Number { return Number{d} }

// MarshalJSON writes the number literal (never a float conversion).
func (n Number) MarshalJSON() ([]byte, error) { return []byte(mivaNumber(n.Decimal)), nil }

// UnmarshalJSON reads a JSON number literal, or a string holding one,
// exactly.
func (n *Number) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(strings.TrimSpace(s))
	}
	d, err := decimal.NewFromString(string(b))
	if err != nil {
		return fmt.Errorf("miva: %q is not a number: %w", b, err)
	}
	n.Decimal = d
	return nil
}

// mivaNumber formats d like Miva's JSON: "7.0", "1.25", "700.0".
func mivaNumber(d decimal.Decimal) string {
	s := d.String() // exact, trailing zeros removed
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}

// currencySymbols are the symbols formatted amounts use; other currencies
// are written "KWD 1.500".
var currencySymbols = map[string]string{
	"USD": "$", "CAD": "$", "AUD": "$", "NZD": "$",
	"EUR": "€", "GBP": "£", "JPY": "¥",
}

// formatMoney writes a formatted_ amount: "$7.00", "¥700", "KWD 1.500".
func formatMoney(d decimal.Decimal, currency string) string {
	exp, err := money.Exponent(currency)
	if err != nil {
		exp = 2
	}
	s := d.StringFixed(int32(exp))
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	if sym, ok := currencySymbols[currency]; ok {
		return sign + sym + s
	}
	return sign + currency + " " + s
}

// fitsExponent reports whether d is a whole number of the currency's minor
// units (no rounding ever happens in the sandbox).
func fitsExponent(d decimal.Decimal, currency string) bool {
	exp, err := money.Exponent(currency)
	if err != nil {
		return false
	}
	shifted := d.Shift(int32(exp))
	return shifted.Equal(shifted.Truncate(0))
}

// exponentOf returns the currency's exponent (2 when unknown).
func exponentOf(currency string) int32 {
	exp, err := money.Exponent(currency)
	if err != nil {
		return 2
	}
	return int32(exp)
}
