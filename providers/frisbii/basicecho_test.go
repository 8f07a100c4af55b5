package frisbii_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
)

// A proxy or a wrong FRISBII_BASE_URL echoing the request's headers in its
// answer echoes the key as it travels: the Authorization header's base64
// of "key:", which the redaction of the raw key does not find. That text
// went into the reason of the error or refusal, then into the retry
// header, the parked reason or the R's DeclineReason, the store, the log
// line and the span.
func TestAnswerEchoingTheAuthorizationHeaderNeverShowsTheKey(t *testing.T) {
	encoded := base64.StdEncoding.EncodeToString([]byte(apiKey + ":"))
	for _, tc := range []struct {
		name   string
		status int
		body   func(auth string) string
	}{
		{"unauthorized", 401, func(auth string) string {
			return `{"code":1,"error":"Unauthorized","message":"bad Authorization: ` + auth + `","http_status":401}`
		}},
		{"server error", 500, func(auth string) string {
			return `{"code":105,"error":"upstream saw ` + auth + `","http_status":500}`
		}},
		{"refusal, padding dropped", 400, func(auth string) string {
			return `{"code":1,"error":"Bad request","message":"` + strings.TrimRight(auth, "=") + `","http_status":400}`
		}},
		{"declined settle", 200, func(auth string) string {
			return `{"handle":"O1","state":"failed","error_state":"hard_declined","error":"denied for ` + auth + `"}`
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
			c := newClient(t, srv.URL, apiKey)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			check := func(what string, err error, reason string) {
				t.Helper()
				texts := []string{reason}
				if err != nil {
					texts = append(texts, err.Error(), providers.ReasonOf(err))
				}
				for _, s := range texts {
					if strings.Contains(s, encoded[:16]) || strings.Contains(s, apiKey) {
						t.Errorf("%s: the text holds the key: %s", what, s)
					}
				}
			}
			_, err := c.ConfirmFunds(ctx, debit("be-1", "O1", "1.00"))
			check("confirm", err, "")
			out, err := c.Settle(ctx, debit("be-1", "O1", "1.00"))
			check("settle", err, out.Reason)
			out, err = c.Settle(ctx, credit("be-2", "O1", "1.00"))
			check("refund", err, out.Reason)
		})
	}
}
