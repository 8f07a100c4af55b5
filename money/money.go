// Package money holds exact monetary amounts: a decimal value and an ISO 4217
// currency whose exponent (minor unit digits: JPY 0, USD 2, KWD 3) decides how
// the amount converts to the integer minor units providers speak.
// No float is ever used.
package money

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// ErrUnknownCurrency is returned for a code that is not an active ISO 4217 code.
var ErrUnknownCurrency = errors.New("unknown ISO 4217 currency code")

// ErrInvalidAmount is returned by Parse for a value that is not a plain
// decimal number.
var ErrInvalidAmount = errors.New("amount is not a plain decimal number")

// plainDecimal is the lexical form Parse accepts: the xsd:decimal form, an
// optional sign, digits and an optional fraction; no exponent, no grouping.
var plainDecimal = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$`)

// Money is an exact amount in a currency.
type Money struct {
	Amount   decimal.Decimal
	Currency string
}

// Exponent returns the number of minor-unit digits of an ISO 4217 currency.
func Exponent(code string) (int, error) {
	e, ok := iso4217[strings.ToUpper(code)]
	if !ok || code != strings.ToUpper(code) {
		return 0, fmt.Errorf("%w: %q", ErrUnknownCurrency, code)
	}
	return e, nil
}

// ValidCurrency reports whether code is an active ISO 4217 code (upper case).
func ValidCurrency(code string) bool {
	_, err := Exponent(code)
	return err == nil
}

// Parse reads a plain decimal string ("55.00", "100", "-1.5") in a currency.
// Surrounding white space is ignored (XML collapses it); exponent notation
// ("1e3"), grouping ("1,000") and anything else is refused with
// ErrInvalidAmount. Parse does not check the currency's exponent: use
// MinorUnits for that.
func Parse(value, currency string) (Money, error) {
	if _, err := Exponent(currency); err != nil {
		return Money{}, err
	}
	d, err := ParseDecimal(value)
	if err != nil {
		return Money{}, err
	}
	return Money{Amount: d, Currency: currency}, nil
}

// ParseDecimal reads a plain decimal string without a currency, with the
// rules of Parse: surrounding white space is ignored, anything but an
// optional sign, digits and an optional fraction is ErrInvalidAmount.
func ParseDecimal(value string) (decimal.Decimal, error) {
	v := strings.TrimSpace(value)
	if !plainDecimal.MatchString(v) {
		return decimal.Decimal{}, fmt.Errorf("%w: %q", ErrInvalidAmount, value)
	}
	d, err := decimal.NewFromString(v)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%w: %q: %w", ErrInvalidAmount, value, err)
	}
	return d, nil
}

// Canonical returns the canonical text of a plain decimal amount in a
// currency, the one form every spelling of the same money shares: XML white
// space around it dropped, no "+" and no minus on a zero, no leading zero
// but the one before the point, and the fraction without trailing zeros,
// padded with zeros to the currency's exponent ("+055.0", "55", " 55.000 "
// are "55.00" USD; "100.0" JPY is "100"; "1.2345" KWD stays "1.2345"). Two
// texts in one currency are the same amount exactly when their canonical
// texts are equal. It reads the text, never parses a number: its time is
// linear in the length. ok is false, and value is returned unchanged, when
// value is not a plain decimal (the form Parse accepts, around it only XML
// white space: space, tab, CR, LF) or currency is not an active upper-case
// ISO 4217 code.
func Canonical(value, currency string) (canonical string, ok bool) {
	exp, err := Exponent(currency)
	if err != nil {
		return value, false
	}
	return canonicalText(value, exp)
}

// CanonicalDecimal is Canonical for a decimal without a currency (a
// quantity, a rate): the fraction is not padded ("+02.50" is "2.5", "-0"
// is "0", "7.000" is "7").
func CanonicalDecimal(value string) (canonical string, ok bool) {
	return canonicalText(value, 0)
}

// canonicalText is Canonical with the fraction padded to exp digits.
func canonicalText(value string, exp int) (string, bool) {
	v := strings.Trim(value, " \t\r\n")
	if !plainDecimal.MatchString(v) {
		return value, false
	}
	negative := v[0] == '-'
	v = strings.TrimLeft(v, "+-")
	whole, frac, _ := strings.Cut(v, ".")
	whole = strings.TrimLeft(whole, "0")
	frac = strings.TrimRight(frac, "0")
	if whole == "" {
		whole = "0"
	}
	if whole == "0" && frac == "" {
		negative = false
	}
	if len(frac) < exp {
		frac += strings.Repeat("0", exp-len(frac))
	}
	var b strings.Builder
	b.Grow(len(whole) + len(frac) + 2)
	if negative {
		b.WriteByte('-')
	}
	b.WriteString(whole)
	if frac != "" {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String(), true
}

// ParseExact is Parse followed by the check of MinorUnits: the amount must
// be a whole int64 of the currency's minor units, else it is an error
// (never rounded). Its time is linear in the length of value: it reads
// the canonical text (Canonical), so leading zeros and a fraction's
// trailing zeros are dropped before any parse, and a value with more
// significant digits than an int64 of minor units holds is answered
// unparsed (a decimal's parse takes time that grows with the square of
// its length: a million digits, seconds). Errors quote at most the first
// 40 characters of value.
func ParseExact(value, currency string) (Money, error) {
	c, ok := Canonical(strings.TrimSpace(value), currency) // Parse's trimming
	if !ok {
		if _, err := Exponent(currency); err != nil {
			return Money{}, err
		}
		return Money{}, fmt.Errorf("%w: %s", ErrInvalidAmount, quoteShort(value))
	}
	exp, _ := Exponent(currency)
	whole, frac, _ := strings.Cut(strings.TrimPrefix(c, "-"), ".")
	switch {
	case len(frac) > exp:
		return Money{}, fmt.Errorf("amount %s %s has a fraction of a minor unit (%s allows %d decimals)", shorten(decimalText(c)), currency, currency, exp)
	case len(strings.TrimLeft(whole, "0"))+exp > maxInt64Digits:
		return Money{}, fmt.Errorf("amount %s %s is too large", shorten(decimalText(c)), currency)
	}
	m, err := Parse(c, currency)
	if err != nil {
		return Money{}, err
	}
	if _, err := m.MinorUnits(); err != nil {
		return Money{}, err
	}
	return m, nil
}

// decimalText is a canonical text as decimal.Decimal.String writes its
// value (what MinorUnits's errors show): the fraction without its
// trailing zeros.
func decimalText(c string) string {
	if strings.Contains(c, ".") {
		c = strings.TrimSuffix(strings.TrimRight(c, "0"), ".")
	}
	return c
}

// maxInt64Digits is the number of decimal digits of the largest int64.
const maxInt64Digits = 19

// shorten cuts an amount's text to 40 characters for an error.
func shorten(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:40] + fmt.Sprintf("… (%d characters)", len(s))
}

// quoteShort quotes at most the first 40 bytes of s (on a rune boundary)
// for an error.
func quoteShort(s string) string {
	if len(s) <= 40 {
		return fmt.Sprintf("%q", s)
	}
	n := 40
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return fmt.Sprintf("%q… (%d bytes)", s[:n], len(s))
}

// MustParse is Parse for constants in tests and examples; it panics on error.
func MustParse(value, currency string) Money {
	m, err := Parse(value, currency)
	if err != nil {
		panic(err)
	}
	return m
}

// FromMinor builds an amount from integer minor units (1234 USD = 12.34).
func FromMinor(minor int64, currency string) (Money, error) {
	exp, err := Exponent(currency)
	if err != nil {
		return Money{}, err
	}
	return Money{Amount: decimal.New(minor, int32(-exp)), Currency: currency}, nil
}

// MinorUnits converts to integer minor units. An amount with a fraction of a
// minor unit (12.345 USD) is an error: it is never rounded silently.
func (m Money) MinorUnits() (int64, error) {
	exp, err := Exponent(m.Currency)
	if err != nil {
		return 0, err
	}
	shifted := m.Amount.Shift(int32(exp))
	if !shifted.Equal(shifted.Truncate(0)) {
		return 0, fmt.Errorf("amount %s %s has a fraction of a minor unit (%s allows %d decimals)", m.Amount.String(), m.Currency, m.Currency, exp)
	}
	if !shifted.BigInt().IsInt64() {
		return 0, fmt.Errorf("amount %s %s is too large", m.Amount.String(), m.Currency)
	}
	return shifted.IntPart(), nil
}

// String formats the amount with exactly the currency's exponent digits when
// that is lossless ("55.00" USD, "100" JPY, "1.500" KWD), else in full.
func (m Money) String() string {
	exp, err := Exponent(m.Currency)
	if err != nil || m.Amount.Exponent() < int32(-exp) && !m.Amount.Equal(m.Amount.Truncate(int32(exp))) {
		return m.Amount.String()
	}
	return m.Amount.StringFixed(int32(exp))
}

// Cmp compares two amounts of the same currency; it panics on mixed currencies,
// which is a programming error.
func (m Money) Cmp(o Money) int {
	if m.Currency != o.Currency {
		panic("money: comparing " + m.Currency + " with " + o.Currency)
	}
	return m.Amount.Cmp(o.Amount)
}

// IsPositive reports whether the amount is greater than zero.
func (m Money) IsPositive() bool { return m.Amount.IsPositive() }

// FractionDigits returns the number of significant decimal places of the
// amount, trailing zeros excluded, as XML Schema's fractionDigits counts
// them: 55.00 has 0, 4.75 has 2, 1.500 has 1.
func (m Money) FractionDigits() int {
	n := m.Amount.Normalize()
	if n.Exponent() >= 0 {
		return 0
	}
	return int(-n.Exponent())
}
