package webhook

import (
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestURLQuerySecretInEveryFormIsNeverShown: the query of WEBHOOK_URL is
// masked in the config line, the POST errors and TargetErr whatever form
// it takes. url.Values drops a pair it cannot parse (a ';' separator, a
// bad %-escape) and keeps a key without '=' as a key: a query made only of
// such a pair was printed whole.
func TestURLQuerySecretInEveryFormIsNeverShown(t *testing.T) {
	const secret = "QS-SECRET-7f3a9c"
	for _, tc := range []struct{ name, query string }{
		{"semicolon separator", "user=hook;token=" + secret},
		{"bad percent escape", "sig=" + secret + "%zz"},
		{"key without value", secret},
		{"secret as a later bare key", "a=b&" + secret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{AMQPURL: "amqp://guest:guest@127.0.0.1:5672/",
				URL: "http://127.0.0.1:1/hook?" + tc.query}
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
		})
	}
}
