package radial_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
)

// TestReplyLargerThanTheLimit: a reply longer than the 1 MiB read was cut
// there and parsed, and the settlement retried (then parked) as "HTTP 200
// with an unparseable reply (1048576 bytes)": an operator read a provider
// sending garbage, not a reply the worker does not read to its end. It is
// now a transient failure saying so, whatever the status.
func TestReplyLargerThanTheLimit(t *testing.T) {
	for _, status := range []int{http.StatusOK, http.StatusInternalServerError} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `<AckReply xmlns="`+messages.Namespace+`"><Received>`)
			_, _ = io.WriteString(w, strings.Repeat("x", 2<<20))
		}))
		c := newClient(t, srv.URL, apiKey)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.Settle(ctx, request("big-1", "O-BIG", "Debit", "10.00", "10.00"))
		checkErr(t, err, true, "", "reply larger than 1048576 bytes")
		cancel()
		srv.Close()
	}
}
