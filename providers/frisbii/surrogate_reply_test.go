package frisbii_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
)

// TestReplyWithLoneSurrogateOrInvalidUTF8IsNoAnswer: encoding/json reads a
// lone surrogate escape (\ud800) or a byte that is not UTF-8 in a string
// as U+FFFD without a word. Frisbii's handles and states are ASCII, so no
// verdict changed with it, but a decline was published as an R whose
// reason held a character Frisbii never wrote, read from a reply that is
// not JSON text (RFC 8259: UTF-8; I-JSON: no lone surrogates). Such a
// reply is now one the client cannot read: transient (retried with the
// same idempotency key, parked after the retries), never a verdict.
func TestReplyWithLoneSurrogateOrInvalidUTF8IsNoAnswer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		reason string
	}{
		{"hard decline, lone surrogate in error", 200, `{"handle":"O1","state":"authorized","error_state":"hard_declined","error":"declined\ud800"}`, "not JSON text: a lone surrogate escape (high, \\ud800)"},
		{"failed charge, lone low surrogate in an ignored field", 200, `{"handle":"O1","state":"failed","error":"acquirer_rejected_error","note":"\udc00"}`, "not JSON text: a lone surrogate escape (low, \\udc00)"},
		{"hard decline, invalid UTF-8 in error", 200, "{\"handle\":\"O1\",\"state\":\"authorized\",\"error_state\":\"hard_declined\",\"error\":\"declined\xff\"}", "not JSON text: a byte that is not UTF-8"},
		// An error reply with one is read as any error body that is not
		// Frisbii's JSON: by its status, no refusal.
		{"error 29, lone surrogate in message", 400, `{"code":29,"error":"Invoice already cancelled","message":"\ud83d","http_status":400}`, "HTTP 400"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			req := debit("sg1", "O1", "1.00")
			req.Attempt = 2 // no charge read first
			out, err := newClient(t, srv.URL, apiKey).Settle(context.Background(), req)
			if err == nil {
				t.Fatalf("Settle = %+v (reason %q), want a transient error: the reply is not JSON text", out, out.Reason)
			}
			checkErr(t, err, providers.Transient, "", tc.reason)
			if providers.WasNotSent(err) {
				t.Fatalf("NotSent, but the call may have reached Frisbii: %v", err)
			}
		})
	}
}
