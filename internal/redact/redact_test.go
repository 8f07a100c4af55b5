package redact

import (
	"os/exec"
	"strings"
	"testing"
)

// TestURL: every part of a URL that may hold a secret is masked, the
// scheme and host are kept, and the fingerprint is the one an operator
// computes from the configured value.
func TestURL(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{"https://hooks.slack.com/services/T0/B0/XXX", "https://hooks.slack.com/xxxxx/xxxxx/xxxxx/xxxxx"},
		{"https://discord.com/api/webhooks/1/TOKEN", "https://discord.com/xxxxx/xxxxx/xxxxx/xxxxx"},
		{"https://hooks.zapier.com/hooks/catch/1/abc/", "https://hooks.zapier.com/xxxxx/xxxxx/xxxxx/xxxxx/"},
		{"https://user:pw@h:8443/x?code=C&sig=S#frag", "https://xxxxx@h:8443/xxxxx?code=xxxxx&sig=xxxxx"},
		{"https://TOKEN@h/", "https://xxxxx@h/"},
		{"http://h?user=a;TOKEN", "http://h?user=xxxxx&xxxxx"},
		{"http://h/a%2Fb;token=T", "http://h/xxxxx"},
		{"https:h/services/SECRET", "https:xxxxx"},
		{"/services/T0/B0/SECRET", "/xxxxx/xxxxx/xxxxx/xxxxx"},
		{"http://h", "http://h"},
		{"http://h:bad port/SECRET", "(unparseable url)"},
	} {
		got := URL(tc.raw)
		if want := tc.want + " (sha256:" + Fingerprint(tc.raw) + ")"; got != want {
			t.Errorf("URL(%q) = %q, want %q", tc.raw, got, want)
		}
	}
	raw := "https://hooks.slack.com/services/T0/B0/XXX"
	if sum, err := exec.Command("sh", "-c", `printf %s "$0" | sha256sum | cut -c1-8`, raw).Output(); err == nil {
		if got := strings.TrimSpace(string(sum)); got != Fingerprint(raw) {
			t.Errorf("Fingerprint(%q) = %s, but the documented command gives %s", raw, Fingerprint(raw), got)
		}
	}
}
