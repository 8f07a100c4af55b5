// Package providertest holds checks that every provider client's tests run
// alike (providers/<name>), so that the providers' copies do not drift, and
// the rigs those tests and the handlers' share: a proxy that answers 503
// while the call goes on (Detached503), replicas of the worker on one
// PostgreSQL database (Replica, TerminateOrderLocks). Only tests import it.
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

// EchoedAuthorization is one answer of a server that echoes the request's
// Authorization header: its status, and its body given that header's
// value.
type EchoedAuthorization struct {
	Name   string
	Status int
	Body   func(auth string) string
}

// AuthorizationEchoIsNeverShown checks that the credentials a client
// sends in its Authorization header stay out of the texts its callers pass
// on (the reason of an error or refusal goes into the retry header, the
// parked reason or the R's DeclineReason, the store, the log line and the
// span) when its server echoes that header in its answers, as a proxy or
// a wrong BaseURL does. For each of answers (a subtest named by it):
// ConfirmFunds of a debit, Settle of a debit and Settle of a credit are
// sent to a server answering it, and none of their errors, the errors'
// providers.ReasonOf and the Outcomes' reasons may hold the first 16
// characters of encoded (the header's base64, found so with its padding
// dropped too) or secret (the raw password or key); what names them in
// the failures ("the credentials", "the key").
//
// client returns the provider's client for the server at url; debit and
// credit return a new request each call.
func AuthorizationEchoIsNeverShown(t *testing.T, answers []EchoedAuthorization, encoded, secret, what string,
	client func(t *testing.T, url string) providers.Provider, debit, credit func() *providers.Request) {
	t.Helper()
	for _, tc := range answers {
		t.Run(tc.Name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.Status)
				_, _ = io.WriteString(w, tc.Body(r.Header.Get("Authorization")))
			}))
			defer srv.Close()
			c := client(t, srv.URL)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			check := func(call string, err error, reason string) {
				t.Helper()
				texts := []string{reason}
				if err != nil {
					texts = append(texts, err.Error(), providers.ReasonOf(err))
				}
				for _, s := range texts {
					if strings.Contains(s, encoded[:16]) || strings.Contains(s, secret) {
						t.Errorf("%s: the text holds %s: %s", call, what, s)
					}
				}
			}
			_, err := c.ConfirmFunds(ctx, debit())
			check("confirm", err, "")
			out, err := c.Settle(ctx, debit())
			check("settle", err, out.Reason)
			out, err = c.Settle(ctx, credit())
			check("refund", err, out.Reason)
		})
	}
}
