package messages

import (
	"regexp"
	"strings"
	"testing"
)

// xsdDecimalRef is the definition xsdDecimal is held to: the xsd:decimal
// lexical form (an optional sign, digits and an optional fraction; no
// exponent, no grouping) once XML white space is trimmed. It was
// xsdDecimal itself until the regexp showed in the worker's CPU profile
// (validation of every request's and status's amounts).
var xsdDecimalRef = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$`)

func xsdDecimalWant(s string) bool { return xsdDecimalRef.MatchString(strings.Trim(s, " \t\r\n")) }

var xsdDecimalCases = []string{
	"", " ", "0", "00", "1", "+1", "-1", "+", "-", ".", "+.", "-.", "1.", "-1.", ".5", "+.5", "-.5",
	"125.40", "0.000", "1,000.00", "1e3", "1E3", "1.2.3", "..5", "1..", "++1", "+-1", "1-", "1+",
	" 1.00 ", "\t1.00\n", "\r\n-0.5\r\n", "1 .00", "1. 00", "\u00a01.00", "1.00\u00a0", "١٢٣",
	"０", "1.0x", "x1.0", "0x10", "NaN", "Inf", "-Inf", "1_000", "12345678901234567890.12345678901234567890",
	"\x00", "1\x00", " \t\r\n", "1 ", " 1", "\v1", "1\f",
}

// TestXSDDecimalMatchesRegexp: the hand-written matcher says what the
// regexp says.
func TestXSDDecimalMatchesRegexp(t *testing.T) {
	for _, s := range xsdDecimalCases {
		if got, want := xsdDecimal(s), xsdDecimalWant(s); got != want {
			t.Errorf("xsdDecimal(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}

// FuzzXSDDecimalMatchesRegexp: go test -fuzz FuzzXSDDecimalMatchesRegexp ./messages
func FuzzXSDDecimalMatchesRegexp(f *testing.F) {
	for _, s := range xsdDecimalCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := xsdDecimal(s), xsdDecimalWant(s); got != want {
			t.Errorf("xsdDecimal(%q) = %v, the regexp says %v", s, got, want)
		}
	})
}

// BenchmarkXSDDecimal: the matcher against the regexp it replaces, on an
// amount as requests and statuses carry it.
func BenchmarkXSDDecimal(b *testing.B) {
	for _, bc := range []struct {
		name string
		f    func(string) bool
	}{{"matcher", xsdDecimal}, {"regexp", xsdDecimalWant}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if !bc.f("125.40") {
					b.Fatal("not a decimal")
				}
			}
		})
	}
}
