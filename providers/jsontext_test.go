package providers_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
)

// TestCheckJSONText: a reply encoding/json would read with U+FFFD in place
// of what was sent (a byte that is not UTF-8, a lone surrogate escape) is
// refused, naming the fault and its offset; JSON text, escapes and
// surrogate pairs included, passes, and an escaped backslash before a 'u'
// is no escape.
func TestCheckJSONText(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"plain", `{"id":"R1","status":"COMPLETED"}`, ""},
		{"non-ASCII UTF-8 and U+FFFD itself", `{"m":"Müller ` + "\uFFFD" + `"}`, ""},
		{"escapes", `{"m":"a\"b\\c\/\n\u00e9\u0041"}`, ""},
		{"surrogate pair", `{"m":"\ud83d\ude00 \uD83D\uDE00"}`, ""},
		{"escaped backslash then ud800", `{"m":"\\ud800"}`, ""},
		{"escaped backslash twice then ud800", `{"m":"\\\\ud800"}`, ""},
		{"not JSON is left to the decoder", `<html>\u`, ""},
		{"lone high", `{"merchantRefNum":"R\ud800"}`, "lone surrogate escape (high, \\ud800) at offset 20"},
		{"lone high upper case", `{"m":"\uDBFF"}`, "lone surrogate escape (high, \\udbff)"},
		{"lone low", `{"m":"\udc00"}`, "lone surrogate escape (low, \\udc00)"},
		{"high then high", `{"m":"\ud800\ud800"}`, "(high, \\ud800) at offset 6"},
		{"high then another escape", `{"m":"\ud800\n"}`, "(high, \\ud800)"},
		{"high at the end", `"\ud800`, "(high, \\ud800)"},
		{"pair then lone low", `{"m":"\ud83d\ude00\ude00"}`, "(low, \\ude00) at offset 18"},
		{"escaped backslash, then a real lone escape", `{"m":"\\\ud800"}`, "(high, \\ud800) at offset 8"},
		{"in a key", `{"\udfff":1}`, "(low, \\udfff)"},
		{"invalid UTF-8", "{\"m\":\"ab\xff\"}", "a byte that is not UTF-8 at offset 8"},
		{"cut UTF-8 sequence", "{\"m\":\"\xc3\"}", "not UTF-8 at offset 6"},
		{"UTF-8 encoded surrogate", "{\"m\":\"\xed\xa0\x80\"}", "not UTF-8 at offset 6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := providers.CheckJSONText([]byte(tc.body))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, providers.ErrNotJSONText) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
			var v any
			if uerr := providers.UnmarshalReply([]byte(tc.body), &v); !errors.Is(uerr, providers.ErrNotJSONText) || v != nil {
				t.Fatalf("UnmarshalReply: %v, %v", v, uerr)
			}
			if d := providers.NotJSONTextDetail(err); d != ": "+err.Error() {
				t.Fatalf("detail %q", d)
			}
		})
	}
	if d := providers.NotJSONTextDetail(errors.New("other")); d != "" {
		t.Fatalf("detail of another error: %q", d)
	}
}

// TestCheckJSONTextDoesNotAllocate: replies without a fault, with and
// without escapes, are checked without an allocation.
func TestCheckJSONTextDoesNotAllocate(t *testing.T) {
	for _, body := range []string{
		`{"id":"8f2c","merchantRefNum":"R1","status":"COMPLETED","amount":2500}`,
		`{"id":"8f2c","message":"caf\u00e9 \ud83d\ude00 \"q\" \\u"}`,
	} {
		b := []byte(body)
		if n := testing.AllocsPerRun(100, func() { _ = providers.CheckJSONText(b) }); n != 0 {
			t.Errorf("%s: %v allocations", body, n)
		}
	}
}
