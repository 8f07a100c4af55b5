package money

import (
	"errors"
	"strings"
	"testing"
)

func TestExponent(t *testing.T) {
	tests := []struct {
		code string
		want int
	}{
		{"USD", 2}, {"EUR", 2}, {"GBP", 2}, {"CAD", 2},
		{"JPY", 0}, {"KRW", 0}, {"VND", 0}, {"ISK", 0}, {"XAF", 0}, {"XOF", 0},
		{"XPF", 0}, {"CLP", 0}, {"PYG", 0}, {"UGX", 0},
		{"KWD", 3}, {"BHD", 3}, {"JOD", 3}, {"OMR", 3}, {"TND", 3}, {"LYD", 3}, {"IQD", 3},
		{"CLF", 4}, {"UYW", 4},
		{"XCG", 2}, {"ZWG", 2}, {"SLE", 2}, {"VED", 2},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			got, err := Exponent(tt.code)
			if err != nil {
				t.Fatalf("Exponent(%q): %v", tt.code, err)
			}
			if got != tt.want {
				t.Errorf("Exponent(%q) = %d, want %d", tt.code, got, tt.want)
			}
		})
	}
}

func TestTableShape(t *testing.T) {
	if len(iso4217) < 160 {
		t.Errorf("ISO 4217 table has %d codes, want the full active list (>160)", len(iso4217))
	}
	for code, exp := range iso4217 {
		if len(code) != 3 || strings.ToUpper(code) != code {
			t.Errorf("code %q is not three upper-case letters", code)
		}
		if exp < 0 || exp > 4 {
			t.Errorf("code %s has exponent %d", code, exp)
		}
	}
}

func TestValidCurrency(t *testing.T) {
	tests := []struct {
		code string
		want bool
	}{
		{"USD", true},
		{"JPY", true},
		{"usd", false},
		{"Usd", false},
		{"", false},
		{"US", false},
		{"USDD", false},
		{"ABC", false},
		{"XXX", false}, // "no currency"
		{"XTS", false}, // testing code
		{"XAU", false}, // gold: no minor unit
		{"HRK", false}, // withdrawn 2023
	}
	for _, tt := range tests {
		if got := ValidCurrency(tt.code); got != tt.want {
			t.Errorf("ValidCurrency(%q) = %v, want %v", tt.code, got, tt.want)
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		value, currency string
		want            string // canonical String(), when no error
		wantErr         error
	}{
		{"55.00", "USD", "55.00", nil},
		{"55", "USD", "55.00", nil},
		{" 4.75 ", "EUR", "4.75", nil},
		{"100", "JPY", "100", nil},
		{"1.5", "KWD", "1.500", nil},
		{"-1.00", "USD", "-1.00", nil},
		{"+2.5", "USD", "2.50", nil},
		{".5", "USD", "0.50", nil},
		{"12.345", "USD", "12.345", nil}, // parses; MinorUnits refuses it
		{"abc", "USD", "", ErrInvalidAmount},
		{"", "USD", "", ErrInvalidAmount},
		{"1e3", "USD", "", ErrInvalidAmount},
		{"1,000.00", "USD", "", ErrInvalidAmount},
		{"1.2.3", "USD", "", ErrInvalidAmount},
		{"NaN", "USD", "", ErrInvalidAmount},
		{"\u22121.00", "USD", "", ErrInvalidAmount},
		{"1.00", "usd", "", ErrUnknownCurrency},
		{"1.00", "ABC", "", ErrUnknownCurrency},
		{"1.00", "XXX", "", ErrUnknownCurrency},
		{"1.00", "", "", ErrUnknownCurrency},
	}
	for _, tt := range tests {
		t.Run(tt.value+"_"+tt.currency, func(t *testing.T) {
			m, err := Parse(tt.value, tt.currency)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Parse(%q, %q) error = %v, want %v", tt.value, tt.currency, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q, %q): %v", tt.value, tt.currency, err)
			}
			if got := m.String(); got != tt.want {
				t.Errorf("Parse(%q, %q).String() = %q, want %q", tt.value, tt.currency, got, tt.want)
			}
			if m.Currency != tt.currency {
				t.Errorf("currency = %q, want %q", m.Currency, tt.currency)
			}
		})
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParse of an invalid amount did not panic")
		}
	}()
	MustParse("abc", "USD")
}

func TestMinorUnits(t *testing.T) {
	tests := []struct {
		value, currency string
		want            int64
		wantErr         string
	}{
		{"12.34", "USD", 1234, ""},
		{"55.00", "USD", 5500, ""},
		{"55", "USD", 5500, ""},
		{"0.01", "USD", 1, ""},
		{"0", "USD", 0, ""},
		{"-1.50", "USD", -150, ""},
		{"100", "JPY", 100, ""},
		{"100.00", "JPY", 100, ""}, // trailing zeros are not a fraction
		{"1.500", "KWD", 1500, ""},
		{"1.5", "KWD", 1500, ""},
		{"0.001", "BHD", 1, ""},
		{"1.2345", "CLF", 12345, ""},
		{"12.345", "USD", 0, "fraction of a minor unit"},
		{"12.340", "USD", 1234, ""},
		{"1.5", "JPY", 0, "fraction of a minor unit"},
		{"0.0001", "KWD", 0, "fraction of a minor unit"},
		{"99999999999999999999", "USD", 0, "too large"},
		{"92233720368547758.07", "USD", 9223372036854775807, ""},
		{"92233720368547758.08", "USD", 0, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.value+"_"+tt.currency, func(t *testing.T) {
			m := MustParse(tt.value, tt.currency)
			got, err := m.MinorUnits()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("MinorUnits(%s %s) = %d, %v; want error containing %q", tt.value, tt.currency, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("MinorUnits(%s %s): %v", tt.value, tt.currency, err)
			}
			if got != tt.want {
				t.Errorf("MinorUnits(%s %s) = %d, want %d", tt.value, tt.currency, got, tt.want)
			}
		})
	}
}

func TestMinorUnitsUnknownCurrency(t *testing.T) {
	m := Money{Amount: MustParse("1", "USD").Amount, Currency: "ABC"}
	if _, err := m.MinorUnits(); !errors.Is(err, ErrUnknownCurrency) {
		t.Errorf("MinorUnits with currency ABC: error = %v, want ErrUnknownCurrency", err)
	}
}

func TestFromMinor(t *testing.T) {
	tests := []struct {
		minor    int64
		currency string
		want     string
	}{
		{1234, "USD", "12.34"},
		{5500, "USD", "55.00"},
		{1, "USD", "0.01"},
		{0, "USD", "0.00"},
		{-150, "USD", "-1.50"},
		{100, "JPY", "100"},
		{1500, "KWD", "1.500"},
		{1, "BHD", "0.001"},
		{12345, "CLF", "1.2345"},
	}
	for _, tt := range tests {
		t.Run(tt.want+"_"+tt.currency, func(t *testing.T) {
			m, err := FromMinor(tt.minor, tt.currency)
			if err != nil {
				t.Fatalf("FromMinor(%d, %q): %v", tt.minor, tt.currency, err)
			}
			if got := m.String(); got != tt.want {
				t.Errorf("FromMinor(%d, %q) = %q, want %q", tt.minor, tt.currency, got, tt.want)
			}
			back, err := m.MinorUnits()
			if err != nil || back != tt.minor {
				t.Errorf("round trip: MinorUnits() = %d, %v; want %d", back, err, tt.minor)
			}
		})
	}
	for _, code := range []string{"usd", "ABC", "XXX", ""} {
		if _, err := FromMinor(1, code); !errors.Is(err, ErrUnknownCurrency) {
			t.Errorf("FromMinor(1, %q) error = %v, want ErrUnknownCurrency", code, err)
		}
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		value, currency, want string
	}{
		{"55", "USD", "55.00"},
		{"55.00", "USD", "55.00"},
		{"55.000", "USD", "55.00"},
		{"4.7", "USD", "4.70"},
		{"12.345", "USD", "12.345"}, // never rounded
		{"100", "JPY", "100"},
		{"100.00", "JPY", "100"},
		{"1.5", "JPY", "1.5"}, // never rounded
		{"1.5", "KWD", "1.500"},
		{"1.500", "KWD", "1.500"},
		{"0", "BHD", "0.000"},
		{"1", "CLF", "1.0000"},
	}
	for _, tt := range tests {
		t.Run(tt.value+"_"+tt.currency, func(t *testing.T) {
			if got := MustParse(tt.value, tt.currency).String(); got != tt.want {
				t.Errorf("String(%s %s) = %q, want %q", tt.value, tt.currency, got, tt.want)
			}
		})
	}
}

func TestFractionDigits(t *testing.T) {
	tests := []struct {
		value string
		want  int
	}{
		{"55.00", 0}, {"55", 0}, {"4.75", 2}, {"1.500", 1}, {"1.001", 3}, {"0.00", 0}, {"100", 0}, {"-0.10", 1},
	}
	for _, tt := range tests {
		if got := MustParse(tt.value, "USD").FractionDigits(); got != tt.want {
			t.Errorf("FractionDigits(%s) = %d, want %d", tt.value, got, tt.want)
		}
	}
}

func TestCmp(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.00", "1", 0},
		{"1.00", "1.01", -1},
		{"2", "1.99", 1},
		{"-1", "0", -1},
		{"0.00", "0", 0},
	}
	for _, tt := range tests {
		if got := MustParse(tt.a, "USD").Cmp(MustParse(tt.b, "USD")); got != tt.want {
			t.Errorf("Cmp(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestCmpMixedCurrenciesPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Cmp of USD with EUR did not panic")
		}
	}()
	MustParse("1", "USD").Cmp(MustParse("1", "EUR"))
}

func TestIsPositive(t *testing.T) {
	for value, want := range map[string]bool{"0.01": true, "0": false, "0.00": false, "-1": false} {
		if got := MustParse(value, "USD").IsPositive(); got != want {
			t.Errorf("IsPositive(%s) = %v, want %v", value, got, want)
		}
	}
}

func TestParseDecimal(t *testing.T) {
	for value, want := range map[string]string{"55.00": "55", " 1.5 ": "1.5", "-0.10": "-0.1", "+3": "3", "7.": "7"} {
		d, err := ParseDecimal(value)
		if err != nil || d.String() != want {
			t.Errorf("ParseDecimal(%q) = %s, %v; want %s", value, d, err, want)
		}
	}
	for _, value := range []string{"", "abc", "1e2", "0x10", "1_000", "Inf", "1.2.3", "--1"} {
		if _, err := ParseDecimal(value); !errors.Is(err, ErrInvalidAmount) {
			t.Errorf("ParseDecimal(%q) error = %v, want ErrInvalidAmount", value, err)
		}
	}
}

func TestCanonical(t *testing.T) {
	for _, tc := range []struct {
		value, currency, want string
		ok                    bool
	}{
		{"55.00", "USD", "55.00", true},
		{"55", "USD", "55.00", true},
		{"55.0", "USD", "55.00", true},
		{"55.000", "USD", "55.00", true},
		{"+055.00", "USD", "55.00", true},
		{" \t55.00\r\n", "USD", "55.00", true},
		{".5", "USD", "0.50", true},
		{"5.", "USD", "5.00", true},
		{"-0", "USD", "0.00", true},
		{"-0.000", "KWD", "0.000", true},
		{"+0", "JPY", "0", true},
		{"-1.50", "USD", "-1.50", true},
		{"100.0", "JPY", "100", true},
		{"100.5", "JPY", "100.5", true},
		{"1.2345", "KWD", "1.2345", true},
		{"1.23450", "KWD", "1.2345", true},
		{"1.5", "CLF", "1.5000", true},
		{"12.345", "USD", "12.345", true},
		{"0000000000000000000000000000000092233720368547758.07", "USD", "92233720368547758.07", true},
		{"99999999999999999999999999999.99", "USD", "99999999999999999999999999999.99", true},
		// Not plain decimals, or no currency: unchanged.
		{"1e3", "USD", "1e3", false},
		{"1,000.00", "USD", "1,000.00", false},
		{"55.00\u00a0", "USD", "55.00\u00a0", false},
		{"\u0665\u0665.00", "USD", "\u0665\u0665.00", false},
		{"5 5.00", "USD", "5 5.00", false},
		{"", "USD", "", false},
		{"+", "USD", "+", false},
		{"55.00", "usd", "55.00", false},
		{"55.00", "XYZ", "55.00", false},
	} {
		got, ok := Canonical(tc.value, tc.currency)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Canonical(%q, %s) = %q, %v; want %q, %v", tc.value, tc.currency, got, ok, tc.want, tc.ok)
		}
	}
}

// Two texts have one canonical text exactly when they are the same amount.
func TestCanonicalIsTheAmount(t *testing.T) {
	values := []string{"0", "-0", "0.00", "+0.0", "1", "1.0", "01.00", "+1", "-1", "-1.00",
		"1.01", "1.010", "10.1", "10.10", "100", "100.000", ".1", "0.10", "0.01", ".01", "1.001"}
	for _, cur := range []string{"JPY", "USD", "KWD", "CLF"} {
		for _, a := range values {
			for _, b := range values {
				ca, _ := Canonical(a, cur)
				cb, _ := Canonical(b, cur)
				same := MustParse(a, cur).Amount.Equal(MustParse(b, cur).Amount)
				if (ca == cb) != same {
					t.Errorf("%s: %q → %q and %q → %q, but the amounts are equal: %v", cur, a, ca, b, cb, same)
				}
			}
			if c, _ := Canonical(a, cur); !MustParse(c, cur).Amount.Equal(MustParse(a, cur).Amount) {
				t.Errorf("%s: Canonical(%q) = %q, another amount", cur, a, c)
			}
		}
	}
}

// ParseExact is Parse and MinorUnits: the same amount or the same refusal.
func TestParseExactIsParseAndMinorUnits(t *testing.T) {
	values := []string{"55.00", "55", " 55.0 ", "\u00a055.00", "+055.00", "-1.50", "-0", "0", ".5", "5.",
		"12.345", "12.3450", "100.5", "1.2345", "1e3", "1,000", "", "abc",
		"92233720368547758.07", "92233720368547758.08", "-92233720368547758.08", "-92233720368547758.09",
		"9223372036854775807", "9223372036854775808", "922337203685477.5807", "922337203685477.5808",
		"99999999999999999999", "0.00000000000000000000000001"}
	for _, cur := range []string{"USD", "JPY", "KWD", "CLF", "usd", "XYZ"} {
		for _, v := range values {
			got, err := ParseExact(v, cur)
			want, werr := Parse(v, cur)
			if werr == nil {
				_, werr = want.MinorUnits()
			}
			if (err == nil) != (werr == nil) {
				t.Errorf("ParseExact(%q, %s) = %v, %v; Parse and MinorUnits: %v, %v", v, cur, got, err, want, werr)
				continue
			}
			if err == nil && (!got.Amount.Equal(want.Amount) || got.Currency != want.Currency || got.String() != want.String()) {
				t.Errorf("ParseExact(%q, %s) = %s, Parse = %s", v, cur, got, want)
			}
		}
	}
}

// ParseExact's refusals say what MinorUnits says.
func TestParseExactErrorsAreMinorUnits(t *testing.T) {
	for _, tc := range []struct{ v, cur string }{
		{"999999999999999999.00", "USD"}, {"12.345", "USD"}, {"12.3450", "USD"}, {"100.50", "JPY"},
		{"-0.001", "USD"}, {"99999999999999999999", "JPY"}, {"1000000000000000.0000", "CLF"},
	} {
		_, err := ParseExact(tc.v, tc.cur)
		_, werr := MustParse(tc.v, tc.cur).MinorUnits()
		if err == nil || werr == nil || err.Error() != werr.Error() {
			t.Errorf("ParseExact(%q, %s): %v; MinorUnits: %v", tc.v, tc.cur, err, werr)
		}
	}
}

func TestCanonicalDecimal(t *testing.T) {
	for _, tc := range []struct {
		value, want string
		ok          bool
	}{
		{"1", "1", true}, {"1.0", "1", true}, {"+01.50", "1.5", true}, {"-0", "0", true}, {" 7.000\n", "7", true},
		{".25", "0.25", true}, {"-2.50", "-2.5", true}, {"1e2", "1e2", false}, {"", "", false}, {"½", "½", false},
	} {
		if got, ok := CanonicalDecimal(tc.value); got != tc.want || ok != tc.ok {
			t.Errorf("CanonicalDecimal(%q) = %q, %v; want %q, %v", tc.value, got, ok, tc.want, tc.ok)
		}
	}
}
