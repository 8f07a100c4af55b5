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
	"github.com/settlement-worker/settlement-worker/providers/frisbii"
)

// TestLongProviderTextIsCut: Frisbii's error text went whole into the
// reason: an answer of up to 1 MiB became the R's DeclineReason (stored,
// published, POSTed to the webhook in every batch it is in) and a log
// line at every attempt. The text quoted is now cut, after the masking.
func TestLongProviderTextIsCut(t *testing.T) {
	long := strings.Repeat("x", 900<<10)
	for _, tc := range []struct {
		name, status, body string
		class              providers.Class
		refused            bool
	}{
		{"declined (error 77)", "400", `{"code":77,"error":"Transaction declined","message":"` + long + `"}`, providers.Permanent, false},
		{"unknown code", "400", `{"code":4242,"error":"` + long + `"}`, providers.Transient, false},
		{"hard declined settle", "200", `{"handle":"O1","state":"failed","error_state":"hard_declined","error":"` + long + `"}`, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				if tc.status == "400" {
					w.WriteHeader(http.StatusBadRequest)
				}
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			req := debit("lr-1", "O1", "1.00")
			// Confirmed: no charge read first.
			req.Refs = map[string]string{frisbii.RefChargeHandle: "O1", frisbii.RefAuthorizedAmount: "10000", frisbii.RefSettledAmount: "0"}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			// A 3 MiB answer read under -race on a loaded machine can take
			// longer than the helpers' 1.5 s call timeout: this test is
			// about the cut, not the timeout.
			c, cerr := frisbii.New(frisbii.Config{BaseURL: srv.URL, APIKey: apiKey, Timeout: 10 * time.Second, RefundRecheck: 5 * time.Second, SettleWindow: time.Nanosecond}, nil)
			if cerr != nil {
				t.Fatal(cerr)
			}
			out, err := c.Settle(ctx, req)
			reason := out.Reason
			if !tc.refused {
				checkErr(t, err, tc.class, "", "xxx")
				reason = providers.ReasonOf(err)
			} else if err != nil || out.Kind != providers.Refused {
				t.Fatalf("Settle = %+v, %v", out, err)
			}
			if n := len(reason); n > 1000 {
				t.Errorf("reason of %d bytes", n)
			}
		})
	}
}
