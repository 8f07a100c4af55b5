package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/config"
	"github.com/settlement-worker/settlement-worker/providers/all"
)

// TestEmptyVariableFileIsRefused: V_FILE naming an empty file (a secret
// mounted from an empty source, a template that rendered nothing) set V
// to "", which the configuration takes for unset: V's default applied
// without a word. STORE_DSN_FILE empty ran every replica on its own
// SQLite file (the default sqlite:settlement-worker.db);
// STORE_ENCRYPTION_KEY_FILE empty stored request bodies, raw card
// numbers included, in clear with a mere warning. The images' entrypoint
// (deployments/secretenv) already refused an empty file; the worker's own
// reading of V_FILE, used without it, now does too.
func TestEmptyVariableFileIsRefused(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, content string }{
		{"empty", ""},
		{"one newline", "\n"},
		{"CRLF", "\r\n"},
	} {
		for _, v := range []string{"STORE_DSN", "STORE_ENCRYPTION_KEY", "AMQP_URL"} {
			t.Run(tc.name+"/"+v, func(t *testing.T) {
				path := filepath.Join(dir, v+"-"+strings.ReplaceAll(tc.name, " ", "_"))
				if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
				cleanEnv(t)
				setEnv(t, minimal...)
				setEnv(t, v+"_FILE", path)
				_, err := config.Load(all.Providers)
				if err == nil {
					t.Fatalf("Load accepted %s_FILE naming an empty file", v)
				}
				if !strings.Contains(err.Error(), v+"_FILE") || !strings.Contains(err.Error(), "empty") {
					t.Errorf("error does not say %s_FILE is empty: %v", v, err)
				}
			})
		}
	}
}
