// Package providertest holds checks that every provider client's tests run
// alike (providers/<name>), so that the providers' copies do not drift.
package providertest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
)

// PathSecret is the secret BaseURLPathSecretIsNeverShown puts in a BaseURL's
// path.
const PathSecret = "PATH-SECRET-5be07c"

// BaseURLPathSecretIsNeverShown checks that a BaseURL carrying PathSecret in
// its path (a gateway's /t/TOKEN/ route) is shown neither in the errors of
// Settle and ConfirmFunds when the transport fails (a closed port, a
// timeout against a server that never answers: net/http's *url.Error names
// the whole URL, and those errors are logged) nor in the error of validate
// refusing it (a malformed scheme).
//
// client returns the provider's client for base (the server's URL, then
// /gw/ and PathSecret; it may append the provider's own path) and a debit
// to send it; validate validates the provider's Config with base as its
// BaseURL.
func BaseURLPathSecretIsNeverShown(t *testing.T, client func(t *testing.T, base string) (providers.Provider, *providers.Request), validate func(base string) error) {
	t.Helper()
	const secret = PathSecret
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	for _, tc := range []struct{ name, base string }{
		{"closed port", "http://127.0.0.1:1"},
		{"timeout", hang.URL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, req := client(t, tc.base+"/gw/"+secret)
			_, err := c.Settle(context.Background(), req)
			if err == nil || strings.Contains(err.Error(), secret) {
				t.Errorf("Settle's error (logged) shows the BaseURL's path secret or is nil: %v", err)
			}
			_, err = c.ConfirmFunds(context.Background(), req)
			if err == nil || strings.Contains(err.Error(), secret) {
				t.Errorf("ConfirmFunds' error (logged) shows the BaseURL's path secret or is nil: %v", err)
			}
		})
	}
	for _, base := range []string{"htps://gw.example.com/gw/" + secret, "https:gw.example.com/gw/" + secret} {
		err := validate(base)
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("Validate(%s) shows the path secret or accepts it: %v", base, err)
		}
	}
}

// ReplyLargerThanTheLimit checks a client against a provider whose reply,
// start followed by padding, is longer than the limit bytes the client
// reads, answered with each of statuses: settle sends a call to base (the
// server's URL) and checks its error, which must be a transient one
// saying the reply was larger than the limit ("reply larger than <limit>
// bytes"), not a cut reply parsed as garbage.
func ReplyLargerThanTheLimit(t *testing.T, limit int, start string, statuses []int, settle func(t *testing.T, ctx context.Context, base string)) {
	t.Helper()
	for _, status := range statuses {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(status)
			_, _ = io.WriteString(w, start)
			_, _ = io.WriteString(w, strings.Repeat("x", limit+(1<<20))) // a MiB over the limit
		}))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		settle(t, ctx, srv.URL)
		cancel()
		srv.Close()
	}
}
