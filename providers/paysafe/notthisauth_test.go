package paysafe_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
)

// TestAuthorizationReadThatIsNotThisAuthorization: an HTTP 200 to
// GET .../auths/{id} was read as that authorization whatever it named: a
// FAILED or CANCELLED status without an id, or another authorization's,
// withheld the debit (R) and a smaller availableToSettle refused it,
// though Paysafe had said nothing of this authorization (a gateway or a
// stub at a wrong PAYSAFE_BASE_URL, a cache). Such an answer is now a
// transient failure (retried, then parked).
func TestAuthorizationReadThatIsNotThisAuthorization(t *testing.T) {
	for _, body := range []string{
		`{"status":"FAILED","availableToSettle":0}`,
		`{"id":"auth-other","status":"CANCELLED","availableToSettle":0,"currencyCode":"USD"}`,
		`{"id":"auth-other","status":"COMPLETED","availableToSettle":1,"currencyCode":"USD"}`,
	} {
		t.Run(body, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				_, _ = io.WriteString(w, body)
			}))
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := newClient(t, srv.URL, user, pass).ConfirmFunds(ctx, debit("na-1", "auth-1", "10.00", "USD"))
			if err == nil {
				t.Fatalf("ConfirmFunds = %+v, want a transient error: the answer is not authorization auth-1", res)
			}
			checkErr(t, err, providers.Transient, "", "not authorization auth-1")
		})
	}
}
