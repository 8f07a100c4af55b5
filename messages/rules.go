package messages

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/settlement-worker/settlement-worker/money"
)

// validator collects every broken rule of a message; the check methods never
// stop at the first problem.
type validator struct {
	errs ValidationErrors
}

// fail records one problem.
func (v *validator) fail(path, format string, args ...any) {
	v.errs = append(v.errs, ValidationError{Path: path, Rule: fmt.Sprintf(format, args...)})
}

// result is nil when nothing failed, else the collected ValidationErrors.
func (v *validator) result() error {
	if len(v.errs) == 0 {
		return nil
	}
	return v.errs
}

// got quotes a received value for a Rule, cut to 40 characters so that a
// hostile value cannot flood the logs, its card numbers masked before the
// cut (MaskPANs: a cut one is no longer recognized). Never call it with an
// account number.
func got(s string) string {
	const limit = 40
	s = MaskPANs(s)
	if utf8.RuneCountInString(s) > limit {
		s = string([]rune(s)[:limit]) + "…"
	}
	return "(got " + strconv.Quote(s) + ")"
}

// trimXMLSpace drops the white space XML Schema collapses around a value
// (space, tab, CR, LF), and no other: a no-break space or another Unicode
// space around a number or a date makes it invalid, as a schema validator
// says (strings.TrimSpace would drop those too).
func trimXMLSpace(s string) string { return strings.Trim(s, " \t\r\n") }

// blank reports whether a value is missing: empty or only white space (an
// empty element and an absent one decode alike).
func blank(s string) bool { return strings.TrimSpace(s) == "" }

// required records "is required" for a blank value and reports whether the
// value is present.
func (v *validator) required(path, s string) bool {
	if blank(s) {
		v.fail(path, "is required")
		return false
	}
	return true
}

// maxLen checks a maximum length in characters (not bytes).
func (v *validator) maxLen(path, s string, n int) {
	if c := utf8.RuneCountInString(s); c > n {
		v.fail(path, "must be at most %d characters (got %d)", n, c)
	}
}

// requiredMax is required followed by maxLen.
func (v *validator) requiredMax(path, s string, n int) {
	if v.required(path, s) {
		v.maxLen(path, s, n)
	}
}

// lenBetween checks a length range in characters.
func (v *validator) lenBetween(path, s string, lo, hi int) {
	if c := utf8.RuneCountInString(s); c < lo || c > hi {
		v.fail(path, "must be %d to %d characters (got %d)", lo, hi, c)
	}
}

// oneOf checks an enumeration (case-sensitive, as in the schema). An empty
// value is left to required.
func (v *validator) oneOf(path, s string, allowed ...string) {
	if s != "" && !slices.Contains(allowed, s) {
		v.fail(path, "must be one of %s %s", strings.Join(allowed, ", "), got(s))
	}
}

// noWhiteSpace checks the "no white space" restriction (the value is not
// quoted: VAT invoice numbers are not echoed).
func (v *validator) noWhiteSpace(path, s string) {
	if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		v.fail(path, "must not contain white space")
	}
}

// normalized checks xsd:normalizedString: no carriage return, line feed or tab.
func (v *validator) normalized(path, s string) {
	if strings.ContainsAny(s, "\r\n\t") {
		v.fail(path, "must not contain tabs or line breaks (normalizedString)")
	}
}

// boolean checks the schema's Boolean restriction "true or false".
func (v *validator) boolean(path, s string) {
	if s != "" && s != "true" && s != "false" {
		v.fail(path, "must be true or false %s", got(s))
	}
}

// integerRE is the xsd:integer lexical form.
var integerRE = regexp.MustCompile(`^[+-]?[0-9]+$`)

// integer checks an xsd:integer value (surrounding white space collapses).
func (v *validator) integer(path, s string) {
	if s != "" && !integerRE.MatchString(trimXMLSpace(s)) {
		v.fail(path, "must be an integer %s", got(s))
	}
}

// decimalValue checks an xsd:decimal value (Quantity, VAT/@rate): at most
// maxAmountDigits digits, what every XML Schema processor reads, counted
// before any parse (whose time grows with the square of the length).
func (v *validator) decimalValue(path, s string) {
	if s == "" {
		return
	}
	if xsdDecimal(s) && decimalDigits(s) > maxAmountDigits {
		v.fail(path, "must have at most %d digits, what every XML Schema processor reads (got %d) %s", maxAmountDigits, decimalDigits(s), got(s))
		return
	}
	if _, err := money.ParseDecimal(s); err != nil || !xsdDecimal(s) {
		v.fail(path, "must be a decimal number %s", got(s))
	}
}

// xsdDecimal reports whether s is an xsd:decimal once XML white space (space,
// tab, CR, LF) is collapsed: the lexical form
// [+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+) — an optional sign, digits and an
// optional fraction, at least one digit; no exponent, no grouping.
// money.ParseDecimal also trims other Unicode spaces (a no-break space),
// which a schema validator refuses.
//
// It reads the bytes by hand: the regexp it replaces cost about a
// microsecond per amount, some twenty times per settlement (every
// request's and status's amounts, at each validation), about 1 % of the
// worker's CPU. TestXSDDecimalMatchesRegexp and FuzzXSDDecimalMatchesRegexp
// hold it to that regexp.
func xsdDecimal(s string) bool {
	s = trimXMLSpace(s)
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

// sign says which amounts an amount check accepts.
type sign int

const (
	positive    sign = iota // greater than zero, as the seed says of amounts
	nonNegative             // zero allowed (TaxAmount)
)

// maxAmountPlaces is the seed's "up to two decimal places" for every amount.
const maxAmountPlaces = 2

// maxAmountDigits is the number of decimal digits XML Schema 1.0 requires
// every processor to support in an xsd:decimal (§3.2.3): a longer amount is
// refused by some (libxml2 stops at 24 digits, a fraction's trailing zeros
// included), so a status echoing it would not be valid for every order
// system. 18 digits still hold every amount int64 minor units can settle
// at two decimals but the last few (92 233 720 368 547 758.07).
const maxAmountDigits = 18

// decimalDigits counts the digits of an xsd:decimal as written, leading
// zeros of the integer part left out and the fraction's trailing zeros
// counted (as libxml2 counts them).
func decimalDigits(s string) int {
	s = strings.TrimLeft(trimXMLSpace(s), "+-")
	whole, frac, _ := strings.Cut(s, ".")
	return len(strings.TrimLeft(whole, "0")) + len(frac)
}

// amount checks an Amount: a required value that is a decimal with the
// wanted sign, at most two significant decimal places (as XML Schema's
// fractionDigits counts them, so "55.00" has none) and no more than the
// currency's exponent allows; and its @currencyCode, an upper-case active
// ISO 4217 code that Radial's schema enumerates (SchemaCurrency), required
// unless currencyOptional.
func (v *validator) amount(path string, a *Amount, s sign, currencyOptional bool) {
	if a == nil {
		v.fail(path, "is required")
		return
	}
	cur := a.CurrencyCode
	curOK := false
	switch {
	case cur == "" && currencyOptional:
	case blank(cur):
		v.fail(path+"/@currencyCode", "is required")
	case SchemaCurrency(cur):
		curOK = true
	case trimXMLSpace(cur) != cur && SchemaCurrency(trimXMLSpace(cur)):
		// An XML document's is collapsed as it is decoded (the schema's
		// whiteSpace facet); a JSON request's is as written.
		v.fail(path+"/@currencyCode", "must be the currency code without white space around it %s", got(cur))
	case money.ValidCurrency(cur):
		v.fail(path+"/@currencyCode", "must be one of the ISO 4217 codes Radial's schema enumerates (ISOCurrencyCodeType), which lacks this active code %s", got(cur))
	case money.ValidCurrency(strings.ToUpper(cur)):
		v.fail(path+"/@currencyCode", "must be an upper-case ISO 4217 currency code %s", got(cur))
	default:
		v.fail(path+"/@currencyCode", "must be an active 3-letter ISO 4217 currency code %s", got(cur))
	}
	if !v.required(path, a.Value) {
		return
	}
	if xsdDecimal(a.Value) && decimalDigits(a.Value) > maxAmountDigits {
		// Refused whatever it denotes, unparsed: a decimal's parse takes
		// time that grows with the square of its length (a million
		// digits: seconds, at each validation). Its sign is read from
		// the text, for the answer the parse would lead to.
		t := trimXMLSpace(a.Value)
		nonZero := strings.ContainsAny(t, "123456789")
		negative := nonZero && strings.HasPrefix(t, "-")
		switch {
		case s == positive && (!nonZero || negative):
			v.fail(path, "must be a positive amount %s", got(a.Value))
		case s == nonNegative && negative:
			v.fail(path, "must not be negative %s", got(a.Value))
		default:
			v.fail(path, "must have at most %d digits, what every XML Schema processor reads (got %d) %s", maxAmountDigits, decimalDigits(a.Value), got(a.Value))
		}
		return
	}
	d, err := money.ParseDecimal(a.Value)
	if err != nil || !xsdDecimal(a.Value) {
		v.fail(path, "must be a decimal number %s", got(a.Value))
		return
	}
	switch {
	case s == positive && !d.IsPositive():
		v.fail(path, "must be a positive amount %s", got(a.Value))
		return
	case s == nonNegative && d.IsNegative():
		v.fail(path, "must not be negative %s", got(a.Value))
		return
	}
	if n := decimalDigits(a.Value); n > maxAmountDigits {
		v.fail(path, "must have at most %d digits, what every XML Schema processor reads (got %d) %s", maxAmountDigits, n, got(a.Value))
		return
	}
	places := money.Money{Amount: d}.FractionDigits()
	if places > maxAmountPlaces {
		v.fail(path, "must have at most %d decimal places %s", maxAmountPlaces, got(a.Value))
		return
	}
	if curOK {
		if exp, _ := money.Exponent(cur); places > exp {
			v.fail(path, "must have at most %d decimal places for %s %s", exp, cur, got(a.Value))
		}
	}
}

// dateTimeRE is the xsd:dateTime lexical form, with the time part optional
// so that an xsd:date is accepted too.
var dateTimeRE = regexp.MustCompile(`^(-?[0-9]{4,})-([0-9]{2})-([0-9]{2})(?:T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})?$`)

// yearMonthRE is the xsd:gYearMonth lexical form: "2030-10", "2030-10Z",
// "2030-10-05:00" (October 2030 in time zone -05:00, the seed's example).
var yearMonthRE = regexp.MustCompile(`^(-?[0-9]{4,})-([0-9]{2})(Z|[+-][0-9]{2}:[0-9]{2})?$`)

// dateTime checks a DateTime element: an xsd:dateTime ("2021-04-28T11:56:00.998Z")
// or, leniently, an xsd:date ("2021-04-28").
func (v *validator) dateTime(path, s string) {
	if s != "" && !validDateTime(trimXMLSpace(s)) {
		v.fail(path, "must be a date-time such as 2021-05-10T21:59:13Z %s", got(s))
	}
}

// yearMonth checks a YearMonth element (xsd:gYearMonth).
func (v *validator) yearMonth(path, s string) {
	if s != "" && !validYearMonth(trimXMLSpace(s)) {
		v.fail(path, "must be a year and month such as 2030-10 %s", got(s))
	}
}

// validDateTime reports whether s is an xsd:dateTime or xsd:date with real
// calendar values.
func validDateTime(s string) bool {
	m := dateTimeRE.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	y, mo, d := atoi(m[1]), atoi(m[2]), atoi(m[3])
	if mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) {
		return false
	}
	if m[4] != "" {
		h, mi, sec := atoi(m[4]), atoi(m[5]), atoi(m[6])
		end := h == 24 && mi == 0 && sec == 0 // 24:00:00 is midnight at the end of the day
		if (h > 23 && !end) || mi > 59 || sec > 59 {
			return false
		}
	}
	return validZone(m[7])
}

// validYearMonth reports whether s is an xsd:gYearMonth.
func validYearMonth(s string) bool {
	m := yearMonthRE.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	mo := atoi(m[2])
	return mo >= 1 && mo <= 12 && validZone(m[3])
}

// validZone checks an optional time zone: "", "Z" or ±hh:mm up to ±14:00.
func validZone(z string) bool {
	if z == "" || z == "Z" {
		return true
	}
	h, m := atoi(z[1:3]), atoi(z[4:6])
	return m <= 59 && (h < 14 || h == 14 && m == 0)
}

// daysIn returns the number of days of a month.
func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// atoi converts digits already matched by a regular expression; a value too
// large for int becomes -1, which every range check refuses.
func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}
