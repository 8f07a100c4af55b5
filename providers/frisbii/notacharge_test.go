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

// TestChargeReadThatIsNoCharge: an HTTP 200 to GET /v1/charge/{handle}
// whose body was JSON but not that charge (null, {}, another charge: a
// gateway's or a stub's answer at a wrong FRISBII_BASE_URL, a cache) was
// read as the charge. ConfirmFunds then withheld the debit, an R, on
// "charge  is in , the settlement in USD" or on another charge's state,
// and a first settle was refused before the call on another charge's
// amounts, though Frisbii never said anything of this one. Such an answer
// is now a transient failure (retried, then parked), as an unparseable
// one is.
func TestChargeReadThatIsNoCharge(t *testing.T) {
	for _, body := range []string{
		`null`,
		`{}`,
		`{"id":"x"}`,
		`{"handle":"O-other","state":"cancelled","amount":100,"currency":"USD"}`,
		`{"handle":"O-other","state":"authorized","amount":1,"currency":"USD"}`,
	} {
		t.Run(body, func(t *testing.T) {
			var settles int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				if r.Method != http.MethodGet {
					settles++
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				_, _ = io.WriteString(w, body)
			}))
			defer srv.Close()
			c := newClient(t, srv.URL, apiKey)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			res, err := c.ConfirmFunds(ctx, debit("nc-1", "O1", "1.00"))
			if err == nil {
				t.Errorf("ConfirmFunds = %+v, want a transient error: the answer is not charge O1", res)
			} else {
				checkErr(t, err, providers.Transient, "", "not charge O1")
			}
			out, err := c.Settle(ctx, debit("nc-1", "O1", "1.00"))
			if err == nil || providers.ClassOf(err) != providers.Transient {
				t.Errorf("Settle = %+v, %v, want a transient error", out, err)
			}
		})
	}
}

// TestChargeAnsweredInOtherCaseIsTheCharge: the check that an answer is
// the charge read compares handles without case: were Frisbii to find a
// handle whatever its case and answer it as stored, an exact comparison
// would hold every settlement of such a charge as transient, then park it.
func TestChargeAnsweredInOtherCaseIsTheCharge(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"handle":"o1","state":"authorized","amount":10000,"currency":"USD"}`)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := newClient(t, srv.URL, apiKey).ConfirmFunds(ctx, debit("oc-1", "O1", "1.00"))
	if err != nil || !res.Available {
		t.Fatalf("ConfirmFunds = %+v, %v, want available", res, err)
	}
}
