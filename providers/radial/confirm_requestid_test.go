package radial_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers/radial"
)

// Every confirmation returns the requestId its retry must send
// (RefConfirmRequestID), answer or failure: the one it sent after a
// failure that leaves Radial's reauthorization unknown (Radial answers it
// from its record), a new one after a Timeout answer; and it sends the one
// recorded.
func TestConfirmFundsRequestIDOfTheRetry(t *testing.T) {
	sent := radial.ConfirmRequestID("req-1", 1)
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string // the retry's requestId
	}{
		{"Success", 200, reply("Success"), sent},
		{"Fail", 200, reply("Fail"), sent},
		{"Timeout answer", 200, reply("Timeout"), radial.ConfirmRequestID("req-1", 2)},
		{"fault with HTTP 200", 200, fault, sent},
		{"fault with HTTP 500", 500, fault, sent},
		{"bare 502 (answer lost)", 502, "bad gateway", sent},
		{"unparseable 200", 200, "<html>ok</html>", sent},
		{"unknown FundsAvailable", 200, reply("PaymentProcessorTimeout"), sent},
		{"401", 401, fault, sent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var ids []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				q, err := messages.DecodeConfirmFundsRequest(b)
				if err != nil {
					t.Errorf("request: %v", err)
					return
				}
				mu.Lock()
				ids = append(ids, q.RequestID)
				mu.Unlock()
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			c := newClient(t, srv.URL, apiKey)
			req := request("req-1", "ORD-1", messages.SettlementDebit, "10.00", "10.00")
			res, _ := c.ConfirmFunds(context.Background(), req)
			if got := res.Refs[radial.RefConfirmRequestID]; got != tc.want {
				t.Fatalf("the retry's requestId is %q, want %q", got, tc.want)
			}
			// The retry (a later attempt) sends what was recorded.
			req.Attempt, req.Refs = 5, res.Refs
			_, _ = c.ConfirmFunds(context.Background(), req)
			mu.Lock()
			defer mu.Unlock()
			if len(ids) != 2 || ids[0] != sent || ids[1] != tc.want {
				t.Errorf("requestIds sent %v, want [%s %s]", ids, sent, tc.want)
			}
		})
	}
	// A transport failure (no answer at all) returns it too.
	c := newClient(t, "http://127.0.0.1:1", apiKey)
	res, err := c.ConfirmFunds(context.Background(), request("req-1", "ORD-1", messages.SettlementDebit, "10.00", "10.00"))
	if err == nil || res.Refs[radial.RefConfirmRequestID] != sent {
		t.Errorf("unreachable: refs %v, err %v", res.Refs, err)
	}
}

const fault = `<Fault xmlns="http://api.gsicommerce.com/schema/checkout/1.0"><Code>ServiceFault</Code><Description>retry</Description></Fault>`

func reply(funds string) string {
	return `<ConfirmFundsReply xmlns="http://api.gsicommerce.com/schema/checkout/1.0"><PaymentContextBase><OrderId>ORD-1</OrderId></PaymentContextBase><FundsAvailable>` +
		funds + `</FundsAvailable></ConfirmFundsReply>`
}
