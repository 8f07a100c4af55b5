package radial_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/radial"
)

// A ConfirmFundsReply echoes the payment context it answers. One that
// echoes another order is not this confirmation's
// answer (a proxy or cache mixing replies up): its Fail must not withhold
// this debit (an R for an order whose funds are there) and its Success
// must not stand for this order's funds. It is retried under the same
// requestId (Radial answers from its record), and parked after the
// retries if it keeps coming.
func TestConfirmFundsReplyForAnotherPaymentIsNoAnswer(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		answer     bool // taken as this confirmation's answer
	}{
		{"own order, Success", echo("ORD-1", pan, "Success"), true},
		{"own order, Fail", echo("ORD-1", pan, "Fail"), true},
		{"own order padded, Success", echo(" ORD-1 ", pan, "Success"), true},
		{"no echo, Success", `<ConfirmFundsReply xmlns="http://api.gsicommerce.com/schema/checkout/1.0"><FundsAvailable>Success</FundsAvailable></ConfirmFundsReply>`, true},
		{"another order, Success", echo("ORD-2", pan, "Success"), false},
		{"another order, Fail", echo("ORD-2", pan, "Fail"), false},
		// Radial may echo the account in another form (a token): not compared.
		{"own order, account echoed as a token, Success", echo("ORD-1", "4111110PASeK1111", "Success"), true},
		{"another order without account, Fail", strings.Replace(reply("Fail"), "ORD-1", "ORD-9", 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				_, _ = io.WriteString(w, body)
			}))
			defer srv.Close()
			c := newClient(t, srv.URL, apiKey)
			res, err := c.ConfirmFunds(context.Background(), request("req-1", "ORD-1", messages.SettlementDebit, "10.00", "10.00"))
			if tc.answer {
				if err != nil {
					t.Fatalf("own answer refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("a reply for another payment was taken as this confirmation's answer: available %v, reason %q", res.Available, res.Reason)
			}
			if providers.ClassOf(err) != providers.Transient {
				t.Errorf("class %v, want transient", providers.ClassOf(err))
			}
			if res.Refs[radial.RefConfirmRequestID] != radial.ConfirmRequestID("req-1", 1) {
				t.Errorf("refs %v: the retry must send the same requestId", res.Refs)
			}
			if strings.Contains(err.Error(), pan) {
				t.Errorf("error shows an account number: %v", err)
			}
		})
	}
}

func echo(order, account, funds string) string {
	return `<ConfirmFundsReply xmlns="http://api.gsicommerce.com/schema/checkout/1.0"><PaymentContext><OrderId>` + order +
		`</OrderId><PaymentAccountUniqueId isToken="false">` + account + `</PaymentAccountUniqueId></PaymentContext><FundsAvailable>` +
		funds + `</FundsAvailable><ReauthorizationAttempted>true</ReauthorizationAttempted></ConfirmFundsReply>`
}
