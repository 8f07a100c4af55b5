package providertest

import (
	"errors"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
)

// ErrorIs checks that err is a *providers.Error of class, with code
// (unless code is ""), whose reason (providers.ReasonOf) contains reason;
// the providers' checkErr run it, then their own check that no secret of
// theirs is in it.
func ErrorIs(t testing.TB, err error, class providers.Class, code, reason string) {
	t.Helper()
	if err == nil {
		t.Fatal("want an error")
	}
	if got := providers.ClassOf(err); got != class {
		t.Fatalf("class %v, want %v: %v", got, class, err)
	}
	var pe *providers.Error
	if !errors.As(err, &pe) {
		t.Fatalf("not a *providers.Error: %v", err)
	}
	if code != "" && pe.Code != code {
		t.Fatalf("code %q, want %q: %v", pe.Code, code, err)
	}
	if !strings.Contains(providers.ReasonOf(err), reason) {
		t.Fatalf("reason %q does not contain %q", providers.ReasonOf(err), reason)
	}
}
