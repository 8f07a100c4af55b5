package config

import (
	"github.com/settlement-worker/settlement-worker/providers/all"
	"os"
	"strings"
	"testing"
)

// TestREADMEConfigTableIsCurrent keeps the README's configuration table in
// step with the Config struct. Regenerate with UPDATE_README=1.
func TestREADMEConfigTableIsCurrent(t *testing.T) {
	const path = "../docs/configuration.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- config-table:begin -->\n", "<!-- config-table:end -->"
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("docs/configuration.md has no %q ... %q section", begin, end)
	}
	want := MarkdownTable(all.Providers)
	if got := s[i+len(begin) : j]; got != want {
		if os.Getenv("UPDATE_README") != "" {
			if err := os.WriteFile(path, []byte(s[:i+len(begin)]+want+s[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("docs/configuration.md's table is out of date; run UPDATE_README=1 go test ./config/ -run README")
	}
}
