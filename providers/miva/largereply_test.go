package miva_test

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

// TestReplyLargerThanTheLimit: a reply longer than the 4 MiB read was cut
// there and parsed, and the settlement retried (then parked) as "HTTP 200
// with an unparseable reply (4194304 bytes)": an operator read Miva
// sending garbage, not a reply (a payment list) larger than the worker
// reads. It is now a transient failure saying so.
func TestReplyLargerThanTheLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"success":1,"data":{"total_count":1,"data":[{"id":1,"descrip":"`)
		_, _ = io.WriteString(w, strings.Repeat("x", 5<<20))
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, token, "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Settle(ctx, debit("1001", "10.00"))
	checkErr(t, err, providers.Transient, "", "reply larger than 4194304 bytes")
}
