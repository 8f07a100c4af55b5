package messages

import (
	"strings"
	"testing"
	"time"
)

// TestAmountMoneyLongValueIsNotParsed: Validate refuses an amount of more
// than 18 digits unparsed, because a decimal's parse takes time that grows
// with the square of its length; but the pipeline also converts every
// request's Amount (handlers.understand calls Money, valid or not), and
// Money parsed the whole text: a request body under MAX_REQUEST_BYTES
// (1 MiB) holding a 1,000,000-digit amount kept a consumer 2.5–3.5 s per
// delivery before it was parked. Money reads the canonical text and
// answers a value with more digits than any int64 of minor units holds at
// once, with the answer it gave (too large, or a fraction of a minor
// unit), and takes a long spelling of a small amount ("1." and a million
// zeros) for the amount it is.
func TestAmountMoneyLongValueIsNotParsed(t *testing.T) {
	const n = 1_000_000
	bound := 300 * time.Millisecond
	if raceEnabled {
		bound *= 10
	}
	for _, tc := range []struct {
		name, value, currency string
		want                  string // the amount, or "" for an error
		err                   string
	}{
		{"a million-digit whole part", "1" + strings.Repeat("7", n) + ".00", "USD", "", "is too large"},
		{"a million-digit fraction", "0." + strings.Repeat("1", n), "USD", "", "has a fraction of a minor unit"},
		{"a million-digit fraction in JPY", "5." + strings.Repeat("5", n), "JPY", "", "has a fraction of a minor unit"},
		{"a million trailing zeros", "1." + strings.Repeat("0", n), "USD", "1.00", ""},
		{"a million leading zeros", strings.Repeat("0", n) + "12.5", "KWD", "12.500", ""},
		{"twenty digits", "12345678901234567890", "JPY", "", "is too large"},
		{"the largest int64 of minor units", "92233720368547758.07", "USD", "92233720368547758.07", ""},
		{"one minor unit more", "92233720368547758.08", "USD", "", "is too large"},
		{"the largest in JPY", "9223372036854775807", "JPY", "9223372036854775807", ""},
		{"the largest in CLF", "922337203685477.5807", "CLF", "922337203685477.5807", ""},
		{"one more in CLF", "922337203685477.5808", "CLF", "", "is too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			m, err := Amount{CurrencyCode: tc.currency, Value: tc.value}.Money()
			if d := time.Since(start); d > bound {
				t.Errorf("Money took %v (bound %v)", d, bound)
			}
			switch {
			case tc.want == "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("Money = %v, %v; want an error saying %q", m, err, tc.err)
			case tc.want != "" && (err != nil || m.String() != tc.want || m.Currency != tc.currency):
				t.Errorf("Money = %s %s, %v; want %s", m, m.Currency, err, tc.want)
			}
			if err != nil && len(err.Error()) > 300 {
				t.Errorf("the error holds the whole value (%d bytes)", len(err.Error()))
			}
		})
	}
}
