package frisbii_test

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

// TestAnswerTextNeverShowsTheAPIKey: the client removes the API key from
// Frisbii's texts it quotes (defence in depth: a proxy or a wrong
// FRISBII_BASE_URL may echo it), but the error text of a declined settle
// (HTTP 200, error_state) and of a failed refund was quoted as it came: a
// stub echoing the key put it in the R reason, which is published and
// logged.
func TestAnswerTextNeverShowsTheAPIKey(t *testing.T) {
	for _, tc := range []struct{ name, answer string }{
		{"settle hard declined", `{"handle":"O1","state":"failed","error_state":"hard_declined","error":"denied for ` + apiKey + `"}`},
		{"settle soft declined", `{"handle":"O1","state":"authorized","error_state":"soft_declined","error":"denied for ` + apiKey + `"}`},
		{"settle failed", `{"handle":"O1","state":"failed","error":"denied for ` + apiKey + `"}`},
		{"settle processing error", `{"handle":"O1","state":"authorized","error_state":"processing_error","error":"denied for ` + apiKey + `"}`},
		{"refund failed", `{"id":"rf-1","invoice":"O1","state":"failed","error_state":"hard_declined","error":"denied for ` + apiKey + `"}`},
		{"refund processing error", `{"id":"rf-1","invoice":"O1","state":"failed","error_state":"processing_error","error":"denied for ` + apiKey + `"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				if r.Method == http.MethodGet {
					_, _ = io.WriteString(w, `{"handle":"O1","state":"settled","amount":10000,"authorized_amount":20000,"currency":"USD"}`)
					return
				}
				_, _ = io.WriteString(w, tc.answer)
			}))
			defer srv.Close()
			req := debit("ts-1", "O1", "1.00")
			if strings.HasPrefix(tc.name, "refund") {
				req = credit("ts-1", "O1", "1.00")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			out, err := newClient(t, srv.URL, apiKey).Settle(ctx, req)
			if err != nil {
				noSecrets(t, err.Error())
				noSecrets(t, providers.ReasonOf(err))
				return
			}
			if out.Kind != providers.Refused {
				t.Fatalf("Settle = %+v", out)
			}
			noSecrets(t, out.Reason)
		})
	}
}

// TestAnotherRefundReasonNeverShowsTheAPIKey: a repeat of a known refund
// answered with another refund is parked naming that refund's id and
// state; the state was quoted as it came, before the answer's texts were
// redacted.
func TestAnotherRefundReasonNeverShowsTheAPIKey(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Method == http.MethodGet {
			_, _ = io.WriteString(w, `{"handle":"O1","state":"settled","amount":10000,"authorized_amount":10000,"currency":"USD"}`)
			return
		}
		_, _ = io.WriteString(w, `{"id":"rf-other-`+apiKey+`","invoice":"O1","state":"processing `+apiKey+`","amount":4000,"currency":"USD"}`)
	}))
	defer srv.Close()
	req := credit("c1", "O1", "40.00")
	req.Refs = map[string]string{"frisbii_refund_id": "rf-mine", "frisbii_charge_handle": "O1"}
	req.Attempt = 2
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := newClient(t, srv.URL, apiKey).Settle(ctx, req)
	if err == nil {
		t.Fatalf("Settle = %+v: the verdict of another refund", out)
	}
	checkErr(t, err, providers.Unresolved, "", "rf-mine")
	noSecrets(t, err.Error())
	noSecrets(t, providers.ReasonOf(err))
}
