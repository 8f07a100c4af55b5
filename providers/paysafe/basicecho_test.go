package paysafe_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
)

// A proxy or a wrong PAYSAFE_BASE_URL echoing the request's headers in
// its error answer echoes the credentials as they travel: the
// Authorization header's base64 of user:password, which the redaction of
// the raw password does not find. That text went into the reason of the
// error, then into the retry header, the parked reason, the store, the
// log line and the span.
func TestAnswerEchoingTheAuthorizationHeaderNeverShowsIt(t *testing.T) {
	encoded := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	for _, tc := range []struct {
		name   string
		status int
		body   func(auth string) string
	}{
		{"refusal with a code", 400, func(auth string) string {
			return `{"error":{"code":"5279","message":"invalid credentials in Authorization: ` + auth + `"}}`
		}},
		{"failure with a code", 500, func(auth string) string {
			return `{"error":{"code":"1000","message":"upstream saw ` + auth + `"}}`
		}},
		{"refusal, padding dropped", 401, func(auth string) string {
			return `{"error":{"code":"5279","message":"bad ` + strings.TrimRight(auth, "=") + `"}}`
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body(r.Header.Get("Authorization")))
			}))
			defer srv.Close()
			c := newClient(t, srv.URL, user, pass)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			check := func(what string, err error, reason string) {
				t.Helper()
				texts := []string{reason}
				if err != nil {
					texts = append(texts, err.Error(), providers.ReasonOf(err))
				}
				for _, s := range texts {
					if strings.Contains(s, encoded[:16]) || strings.Contains(s, pass) {
						t.Errorf("%s: the text holds the credentials: %s", what, s)
					}
				}
			}
			req := debit("be-1", "auth-1", "10.00", "USD")
			_, err := c.ConfirmFunds(ctx, req)
			check("confirm", err, "")
			out, err := c.Settle(ctx, req)
			check("settle", err, out.Reason)
			cr := credit("be-2", "st-1", "10.00", "USD")
			cr.Message.SettlementType = messages.SettlementCredit
			out, err = c.Settle(ctx, cr)
			check("refund", err, out.Reason)
		})
	}
}
