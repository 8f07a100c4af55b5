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
	"github.com/settlement-worker/settlement-worker/providers/miva"
)

// TestLongErrorMessageIsCut: Miva's error_message went whole into the
// reason (a permanent one is the R's DeclineReason): an answer of up to
// 4 MiB was stored, published and POSTed to the webhook in every batch it
// is in, and logged at every attempt. The message quoted is now cut,
// after the masking.
func TestLongErrorMessageIsCut(t *testing.T) {
	long := strings.Repeat("x", 3<<20)
	for _, tc := range []struct {
		code  string
		class providers.Class
	}{{"invalid_parameter", providers.Permanent}, {"some_new_error", providers.Transient}} {
		t.Run(tc.code, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				_, _ = io.WriteString(w, `{"success":0,"error_code":"`+tc.code+`","error_message":"`+long+`"}`)
			}))
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			// A 3 MiB answer read under -race on a loaded machine can take
			// longer than the helpers' 1.5 s call timeout: this test is
			// about the cut, not the timeout.
			c, cerr := miva.New(miva.Config{BaseURL: srv.URL, StoreCode: storeCode, APIToken: token, Timeout: 10 * time.Second, SettleWindow: time.Nanosecond}, nil)
			if cerr != nil {
				t.Fatal(cerr)
			}
			_, err := c.Settle(ctx, debit("1001", "10.00"))
			checkErr(t, err, tc.class, tc.code, "xxx")
			if n := len(providers.ReasonOf(err)); n > 1000 {
				t.Errorf("reason of %d bytes", n)
			}
		})
	}
}
