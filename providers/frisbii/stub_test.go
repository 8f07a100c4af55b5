package frisbii_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
)

// TestUnusualAnswers drives the client against canned answers the sandbox
// does not produce, to pin down their classification.
func TestUnusualAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   providers.Kind
		class  providers.Class
		code   string
		reason string
	}{
		{name: "settled without a transaction id", status: 200, body: `{"handle":"O1","state":"settled","amount":100,"currency":"USD","extra":{"new":"field"}}`,
			want: providers.Settled},
		{name: "failed without error_state", status: 200, body: `{"handle":"O1","state":"failed","error":"acquirer_rejected_error"}`,
			want: providers.Refused, reason: "charge failed (acquirer_rejected_error)"},
		{name: "unknown error_state", status: 200, body: `{"handle":"O1","state":"authorized","error_state":"mystery"}`,
			class: providers.Transient, code: "mystery", reason: "unknown error_state"},
		{name: "still authorized without error", status: 200, body: `{"handle":"O1","state":"authorized","processing":true}`,
			class: providers.Transient, reason: "without an error"},
		{name: "unparseable 200", status: 200, body: `<html>`, class: providers.Transient, reason: "unparseable reply"},
		{name: "rate limited", status: 429, body: `{"code":122,"error":"Request rate limit exceeded","http_status":429}`,
			class: providers.Transient, code: "122", reason: "HTTP 429"},
		{name: "unknown 4xx code is transient", status: 400, body: `{"code":4242,"error":"Something new","message":"details","http_status":400}`,
			class: providers.Transient, code: "4242", reason: "error 4242 Something new (details)"},
		{name: "plain 500", status: 500, body: `oops`, class: providers.Transient, code: "500", reason: "HTTP 500"},
		{name: "plain 403", status: 403, body: ``, class: providers.Transient, code: "403", reason: "FRISBII_API_KEY"},
		// Error 1 on a possible repeat (attempt 2) may be the key's earlier
		// use with other content: Unresolved, never R.
		{name: "echoed key is redacted", status: 400, body: `{"code":1,"error":"Invalid request","message":"bad key ` + apiKey + `"}`,
			class: providers.Unresolved, code: "1", reason: "[redacted]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			req := debit("u1", "O1", "1.00")
			req.Attempt = 2 // no charge read first
			out, err := newClient(t, srv.URL, apiKey).Settle(context.Background(), req)
			if tc.want != "" {
				if err != nil || out.Kind != tc.want || out.Ref == "" {
					t.Fatalf("Settle = %+v, %v", out, err)
				}
				if tc.reason != "" && out.Reason != "Frisbii declined the settle: "+tc.reason {
					t.Fatalf("reason %q", out.Reason)
				}
				return
			}
			checkErr(t, err, tc.class, tc.code, tc.reason)
		})
	}
}

func TestConnectionRefusedIsTransient(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := newClient(t, url, apiKey).ConfirmFunds(context.Background(), debit("c", "O1", "1.00"))
	checkErr(t, err, providers.Transient, "", "retrying with the same idempotency key is safe")
}

func TestBare404IsTransient(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	_, err := newClient(t, srv.URL, apiKey).ConfirmFunds(context.Background(), debit("c", "O1", "1.00"))
	checkErr(t, err, providers.Transient, "404", "HTTP 404")
}
