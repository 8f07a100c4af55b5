package radial_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
)

// A reply holding a reference to a surrogate (&#xD800;, not a character
// XML allows) is not well-formed: no reply. It was read with U+FFFD in
// its place, so a ConfirmFundsReply echoing "ORD&#xD800;" was the answer
// of the debit of order "ORD\uFFFD" and its Fail withheld it (an R the
// sender's Radial never wrote), and an AckReply with one in an element
// the worker does not read was an acknowledgement. Each is now a reply
// the worker cannot read: transient, retried under the same requestId,
// never a verdict.
func TestRadialReplyWithSurrogateReferenceIsNoAnswer(t *testing.T) {
	const ns = `xmlns="http://api.gsicommerce.com/schema/checkout/1.0"`
	serve := func(t *testing.T, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			_, _ = io.WriteString(w, body)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	t.Run("ConfirmFundsReply Fail", func(t *testing.T) {
		url := serve(t, `<ConfirmFundsReply `+ns+`><PaymentContextBase><OrderId>ORD&#xD800;</OrderId></PaymentContextBase><FundsAvailable>Fail</FundsAvailable></ConfirmFundsReply>`)
		res, err := newClient(t, url, apiKey).ConfirmFunds(context.Background(), request("req-1", "ORD\uFFFD", messages.SettlementDebit, "10.00", "10.00"))
		if err == nil {
			t.Fatalf("taken as an answer: available %v, reason %q", res.Available, res.Reason)
		}
		if providers.ClassOf(err) != providers.Transient {
			t.Errorf("class %v, want transient: %v", providers.ClassOf(err), err)
		}
	})
	t.Run("AckReply", func(t *testing.T) {
		url := serve(t, `<AckReply `+ns+`><Received/><Note>&#xDC00;</Note></AckReply>`)
		out, err := newClient(t, url, apiKey).Settle(context.Background(), request("req-1", "ORD-1", messages.SettlementDebit, "10.00", "10.00"))
		if err == nil {
			t.Fatalf("taken as an acknowledgement: %+v", out)
		}
		if providers.ClassOf(err) != providers.Transient {
			t.Errorf("class %v, want transient: %v", providers.ClassOf(err), err)
		}
	})
}
