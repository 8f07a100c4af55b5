package config

import (
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/providers/all"
)

// TestOldKeysHelpSaysSealedHeadersOutliveRetention: an old key also opens
// the recorded money-header values it sealed (store: sealed headers), which
// BODY_RETENTION never empties. The help said only "keep a key while rows
// sealed with it remain", which an operator reads as "until retention
// emptied the bodies": dropping the key then makes those settlements
// unreadable.
func TestOldKeysHelpSaysSealedHeadersOutliveRetention(t *testing.T) {
	var help string
	for _, v := range Vars(all.Providers) {
		if v.Name == "STORE_ENCRYPTION_OLD_KEYS" {
			help = v.Help
		}
	}
	if help == "" {
		t.Fatal("STORE_ENCRYPTION_OLD_KEYS is not documented")
	}
	for _, want := range []string{"header", "BODY_RETENTION", "record is kept"} {
		if !strings.Contains(help, want) {
			t.Errorf("STORE_ENCRYPTION_OLD_KEYS help lacks %q: %s", want, help)
		}
	}
}
