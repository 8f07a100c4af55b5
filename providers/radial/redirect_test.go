package radial_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
)

// TestRedirectIsNotFollowed: Radial's base URL answering a 307 (a proxy,
// a moved endpoint) made the client POST the settlement — apikey header
// and payment account number included — to the host the Location named,
// and take that host's answer as Radial's: an AckReply there was recorded
// as Accepted, a Fail as funds not available, though Radial received
// nothing. The 3xx is now the answer, a transient failure naming the
// status; the other host receives nothing.
func TestRedirectIsNotFollowed(t *testing.T) {
	var reached atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		if strings.Contains(r.URL.Path, "/funds/confirm/") {
			_, _ = w.Write([]byte(`<ConfirmFundsReply xmlns="` + messages.Namespace + `"><FundsAvailable>Fail</FundsAvailable></ConfirmFundsReply>`))
			return
		}
		_, _ = w.Write([]byte(`<AckReply xmlns="` + messages.Namespace + `"><Received/></AckReply>`))
	}))
	defer elsewhere.Close()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer front.Close()

	c := newClient(t, front.URL, apiKey)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := request("redir-1", "O-REDIR", "Debit", "10.00", "10.00")

	out, err := c.Settle(ctx, req)
	if err == nil {
		t.Errorf("Settle through a 307: %+v, want a transient error (Radial received nothing)", out)
	} else {
		checkErr(t, err, true, "307", "HTTP 307")
	}
	res, err := c.ConfirmFunds(ctx, req)
	if err == nil {
		t.Errorf("ConfirmFunds through a 307: %+v, want a transient error (Radial received nothing)", res)
	} else {
		checkErr(t, err, true, "307", "HTTP 307")
	}
	if n := reached.Load(); n > 0 {
		t.Errorf("the other host received %d calls (with the apikey and the account number)", n)
	}
}
