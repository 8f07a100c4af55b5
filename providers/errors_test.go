package providers

import (
	"strings"
	"testing"
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
