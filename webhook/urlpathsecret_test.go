package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestURLPathSecretIsNeverShown: many webhook services put the credential
// in the URL's path, not its query (Slack's /services/T…/B…/SECRET,
// Discord's /api/webhooks/ID/TOKEN, Zapier's /hooks/catch/ID/SECRET/), or
// in its user name (https://TOKEN@host/). Only a userinfo password and the
// query were masked, so the path was printed whole in the startup config
// line, in each POST error (logged at every retry: a closed port, a non-2xx
// answer), in TargetErr (/readyz) and in a validation error. Each path
// segment is now masked; the scheme, the host and a fingerprint of the
// whole URL (the first 8 hex digits of its SHA-256) tell the operator which
// endpoint is meant.
func TestURLPathSecretIsNeverShown(t *testing.T) {
	const secret = "PS-SECRET-9d2e41"
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such hook", http.StatusNotFound)
	}))
	defer refuse.Close()
	for _, tc := range []struct{ name, path string }{
		{"slack", "/services/T0001/B0002/" + secret},
		{"discord", "/api/webhooks/123456/" + secret},
		{"zapier trailing slash", "/hooks/catch/123/" + secret + "/"},
		{"percent-encoded", "/hooks/" + strings.ReplaceAll(secret, "-", "%2D")},
		{"secret in a matrix parameter", "/hook;token=" + secret},
	} {
		for _, target := range []struct{ name, base string }{
			{"closed port", "http://127.0.0.1:1"},
			{"non-2xx answer", refuse.URL},
		} {
			t.Run(tc.name+"/"+target.name, func(t *testing.T) {
				raw := target.base + tc.path
				sum := sha256.Sum256([]byte(raw))
				fingerprint := hex.EncodeToString(sum[:])[:8]
				host := strings.TrimPrefix(target.base, "http://")
				leaks := func(s string) bool {
					return strings.Contains(s, secret) || strings.Contains(s, "PS%2DSECRET") || strings.Contains(s, "9d2e41")
				}
				d, err := New(Config{AMQPURL: "amqp://guest:guest@127.0.0.1:5672/", URL: raw}, zerolog.Nop())
				if err != nil {
					t.Fatal(err)
				}
				s := d.cfg.String()
				if leaks(s) {
					t.Errorf("config string (logged at start) leaks the URL's path secret: %s", s)
				}
				if !strings.Contains(s, host) || !strings.Contains(s, fingerprint) {
					t.Errorf("config string does not name the host %s and the fingerprint %s: %s", host, fingerprint, s)
				}
				perr := d.post(context.Background(), []byte("<x/>"), "k")
				if perr == nil {
					t.Fatal("the POST succeeded")
				}
				if leaks(perr.Error()) {
					t.Errorf("POST error (logged at each retry) leaks the URL's path secret: %v", perr)
				}
				if !strings.Contains(perr.Error(), fingerprint) {
					t.Errorf("POST error does not name the fingerprint %s: %v", fingerprint, perr)
				}
				if terr := d.TargetErr(); terr == nil || leaks(terr.Error()) {
					t.Errorf("TargetErr (readiness output) leaks the URL's path secret or is nil: %v", terr)
				}
			})
		}
	}
	for _, raw := range []string{
		"https://" + secret + "@hooks.example.com/hook",
		"https://user:" + secret + "@hooks.example.com/hook",
	} {
		d, err := New(Config{AMQPURL: "amqp://guest:guest@127.0.0.1:5672/", URL: raw}, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		if s := d.cfg.String(); strings.Contains(s, secret) {
			t.Errorf("config string leaks the URL's userinfo: %s", s)
		}
	}
	// A URL refused by Validate is quoted in its error: a mistyped
	// scheme or a missing "//" must not print the path either.
	for _, raw := range []string{
		"htps://hooks.slack.com/services/T0001/B0002/" + secret,
		"https:hooks.slack.com/services/T0001/B0002/" + secret,
		"/services/T0001/B0002/" + secret,
	} {
		err := Config{AMQPURL: "amqp://guest:guest@127.0.0.1:5672/", URL: raw}.Validate()
		if err == nil {
			t.Fatalf("Validate accepted %s", raw)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("validation error leaks the URL's path secret: %v", err)
		}
	}
}
