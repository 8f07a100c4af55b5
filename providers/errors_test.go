package providers

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMismatchBeforeCall(t *testing.T) {
	for _, tc := range []struct {
		attempt int
		want    Class
	}{{1, Permanent}, {0, Permanent}, {2, Unresolved}, {7, Unresolved}} {
		err := MismatchBeforeCall(tc.attempt, "currency differs")
		if ClassOf(err) != tc.want || !strings.Contains(ReasonOf(err), "currency differs") {
			t.Errorf("attempt %d: %v (class %s), want %s", tc.attempt, err, ClassOf(err), tc.want)
		}
	}
}

// TestQuoted: a provider's text is masked, then cut to MaxQuoted bytes on
// a character boundary; a code to MaxQuotedCode.
func TestQuoted(t *testing.T) {
	if got := Quoted("declined 4111 1111 1111 1111"); got != "declined **** **** **** 1111" {
		t.Errorf("Quoted masks: %q", got)
	}
	long := strings.Repeat("é", MaxQuoted) // two bytes each
	got := Quoted(long)
	if !strings.HasSuffix(got, "…") || len(got) > MaxQuoted+len("…") || !utf8.ValidString(got) {
		t.Errorf("Quoted(%d bytes) = %d bytes, valid %v", len(long), len(got), utf8.ValidString(got))
	}
	if got := QuotedCode(strings.Repeat("9", 1000)); len(got) > MaxQuotedCode+len("…") {
		t.Errorf("QuotedCode kept %d bytes", len(got))
	}
}
