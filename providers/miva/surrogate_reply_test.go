package miva_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/miva"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// TestReplyWithLoneSurrogateOrInvalidUTF8IsNoAnswer: encoding/json reads a
// lone surrogate escape (\ud800) or a byte that is not UTF-8 in a string
// as U+FFFD without a word. Miva's ids are numbers and its error codes
// ASCII, so no verdict changed with it, but a capture's refusal was an R
// whose reason held a character Miva never wrote, read from a reply that
// is not JSON text (RFC 8259: UTF-8; I-JSON: no lone surrogates), and a
// payment list with one was read as Miva's list. Such a reply is now one
// the client cannot read: transient (a capture's is not NotSent: the
// retry reconciles first), never a verdict; nothing is captured in the
// sandbox's ledger.
func TestReplyWithLoneSurrogateOrInvalidUTF8IsNoAnswer(t *testing.T) {
	for _, tc := range []struct{ name, function, body string }{
		{"capture declined, lone surrogate in the message", miva.FunctionCapture,
			`{"success":0,"error_code":"payment_declined","error_message":"declined\ud800"}`},
		{"capture declined, invalid UTF-8 in the message", miva.FunctionCapture,
			"{\"success\":0,\"error_code\":\"payment_declined\",\"error_message\":\"declined\xc3\"}"},
		// ConfirmFunds reads the payment list: an empty one was "no
		// funds", a refusal.
		{"payment list, lone surrogate in an ignored field", miva.FunctionPaymentList,
			`{"success":1,"data":[],"note":"\udbff\u0041"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{}, authOf50(781))
			req := confirmed(t, e, debit("781", "50.00"))
			target, err := url.Parse(e.srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			proxy := httputil.NewSingleHostReverseProxy(target)
			front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				if strings.Contains(string(b), `"Function":"`+tc.function+`"`) {
					_, _ = io.WriteString(w, tc.body)
					return
				}
				r.Body = io.NopCloser(bytes.NewReader(b))
				proxy.ServeHTTP(w, r)
			}))
			defer front.Close()
			c := newClient(t, front.URL+strings.TrimPrefix(e.url, e.srv.URL), token, "")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if tc.function == miva.FunctionPaymentList {
				res, err := c.ConfirmFunds(ctx, debit("781", "50.00"))
				if err == nil {
					t.Fatalf("ConfirmFunds = %+v, want a transient error: the reply is not JSON text", res)
				}
				checkErr(t, err, providers.Transient, "", "not JSON text")
				return
			}
			out, err := c.Settle(ctx, req)
			if err == nil {
				t.Fatalf("Settle = %+v (reason %q), want a transient error: the reply is not JSON text", out, out.Reason)
			}
			checkErr(t, err, providers.Transient, "", "not JSON text")
			if tc.function == miva.FunctionCapture && providers.WasNotSent(err) {
				t.Fatalf("NotSent, but the capture may have reached Miva: %v", err)
			}
			if cs := captures(e); len(cs) != 0 {
				t.Fatalf("captures %+v, want none", cs)
			}
		})
	}
}
