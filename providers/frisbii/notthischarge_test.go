package frisbii_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
)

// TestSettleOrRefundAnswerNotForThisCharge: an HTTP 200 to a settle or a
// refund whose JSON body was not about the charge (another charge, no
// handle, a refund of another invoice or without an id) was read as the
// answer: {"state":"failed"} refused the settle (R), another charge's
// "settled" made it S, and {"state":"failed"} or another invoice's refund
// ended the credit R or S, though Frisbii had answered nothing about this
// charge. Such answers are now transient failures (retried with the same
// idempotency key, then parked).
func TestSettleOrRefundAnswerNotForThisCharge(t *testing.T) {
	for _, tc := range []struct {
		name, answer string
		credit       bool
	}{
		{"settle answered a charge without a handle, failed", `{"state":"failed","error":"x"}`, false},
		{"settle answered a charge without a handle, hard declined", `{"state":"authorized","error_state":"hard_declined"}`, false},
		{"settle answered another charge, settled", `{"handle":"O-other","state":"settled","amount":100}`, false},
		{"refund answered without id or invoice, failed", `{"state":"failed","error_state":"hard_declined"}`, true},
		{"refund answered another invoice's refund, refunded", `{"id":"rf-9","invoice":"O-other","state":"refunded","amount":100}`, true},
		{"refund answered a refund without an id, refunded", `{"invoice":"O1","state":"refunded","amount":100}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				if r.Method == http.MethodGet {
					_, _ = io.WriteString(w, `{"handle":"O1","state":"settled","amount":10000,"currency":"USD"}`)
					return
				}
				_, _ = io.WriteString(w, tc.answer)
			}))
			defer srv.Close()
			req := debit("nt-1", "O1", "1.00")
			if tc.credit {
				req = credit("nt-1", "O1", "1.00")
			}
			req.Attempt = 2 // no charge read before a settle
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			out, err := newClient(t, srv.URL, apiKey).Settle(ctx, req)
			if err == nil {
				t.Fatalf("Settle = %+v, want a transient error: the answer is not about charge O1", out)
			}
			checkErr(t, err, providers.Transient, "", "not about charge O1")
		})
	}
}
