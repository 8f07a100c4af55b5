package webhook

import (
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestURLQuerySecretIsNeverShown: a webhook URL that carries its
// credential in the query string (?token=..., Azure Functions' ?code=...,
// many SaaS hooks) must not leak it through the startup config line, the
// POST errors that are logged on every retry, or TargetErr (shown by the
// worker's /readyz). It did through all three: only a userinfo password was
// masked, and net/http's error repeated the whole URL.
func TestURLQuerySecretIsNeverShown(t *testing.T) {
	const secret = "QS-SECRET-7f3a9c"
	c := Config{AMQPURL: "amqp://guest:guest@127.0.0.1:5672/",
		URL: "http://127.0.0.1:1/hook?token=" + secret}
	d, err := New(c, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if s := d.cfg.String(); strings.Contains(s, secret) {
		t.Errorf("config string (logged at start) leaks the URL's query secret: %s", s)
	}
	perr := d.post(context.Background(), []byte("<x/>"), "k")
	if perr == nil {
		t.Fatal("POST to a closed port succeeded")
	}
	if strings.Contains(perr.Error(), secret) {
		t.Errorf("POST error (logged at each retry) leaks the URL's query secret: %v", perr)
	}
	if terr := d.TargetErr(); terr != nil && strings.Contains(terr.Error(), secret) {
		t.Errorf("TargetErr (readiness output) leaks the URL's query secret: %v", terr)
	}
}
