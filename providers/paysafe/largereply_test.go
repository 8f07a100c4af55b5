package paysafe_test

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

// TestReplyLargerThanTheLimit: a reply longer than the 1 MiB read was cut
// there and parsed: a 200 was retried (then parked) as "unparseable reply
// (1048576 bytes)", a 4xx as an answer without a Paysafe error code. It is
// now a transient failure saying the reply was larger than the worker
// reads.
func TestReplyLargerThanTheLimit(t *testing.T) {
	for _, status := range []int{http.StatusOK, http.StatusBadRequest} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"id":"s-1","status":"COMPLETED","merchantRefNum":"`)
			_, _ = io.WriteString(w, strings.Repeat("x", 2<<20))
		}))
		c := newClient(t, srv.URL, user, pass)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.Settle(ctx, debit("big-1", "auth-1", "10.00", "USD"))
		checkErr(t, err, providers.Transient, "", "reply larger than 1048576 bytes")
		cancel()
		srv.Close()
	}
}
