package paysafe_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/paysafe"
)

// TestReplyWithLoneSurrogateOrInvalidUTF8IsNoAnswer: encoding/json reads a
// lone surrogate escape (\ud800) or a byte that is not UTF-8 in a string
// as U+FFFD without a word, so a reply naming merchantRefNum "sg-\ud800"
// (not a string its sender could have meant as ours) was the answer on a
// request whose requestId is "sg-\uFFFD" (a valid XML and JSON requestId):
// its COMPLETED made an S with nothing settled in the sandbox's ledger,
// its FAILED an R while the ledger holds the request's live settlement.
// Such a reply is now one the client cannot read: transient (the next
// attempt looks the merchantRefNum up first), never a verdict.
func TestReplyWithLoneSurrogateOrInvalidUTF8IsNoAnswer(t *testing.T) {
	const ours = "sg-\uFFFD"
	for _, echo := range []struct{ name, ref string }{
		{"lone surrogate escape", `sg-\ud800`},
		{"lone low surrogate escape", `sg-\udfff`},
		{"invalid UTF-8", "sg-\xff"},
	} {
		t.Run(echo.name+": settle answered COMPLETED, nothing created", func(t *testing.T) {
			e := newEnv(t, sandbox.Config{})
			authID := e.authorize(t, sandbox.Authorization{Amount: 2500})
			c := behindGateway(t, e, func(r *http.Request) (string, bool) {
				return `{"id":"gw-1","merchantRefNum":"` + echo.ref + `","status":"COMPLETED","amount":2500,"availableToRefund":2500}`,
					r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/settlements")
			})
			out, err := c.Settle(ctx(t), debit(ours, authID, "25.00", "USD"))
			judge(t, e, sandbox.KindSettlement, ours, out, err)
			checkErr(t, err, providers.Transient, "", "unparseable reply")
			checkErr(t, err, providers.Transient, "", "not JSON text")
			if providers.WasNotSent(err) {
				t.Fatalf("NotSent, but the call may have reached Paysafe: %v", err)
			}
		})
		t.Run(echo.name+": poll answered FAILED, ours live", func(t *testing.T) {
			e := newEnv(t, sandbox.Config{})
			authID := e.authorize(t, sandbox.Authorization{Amount: 2500})
			req := debit(ours, authID, "25.00", "USD")
			pending := expect(t, providers.Pending)(e.client.Settle(ctx(t), req))
			c := behindGateway(t, e, func(r *http.Request) (string, bool) {
				return `{"id":"` + pending.Ref + `","merchantRefNum":"` + echo.ref + `","status":"FAILED","amount":2500,"error":{"code":"3022","message":"declined"}}`,
					r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/settlements/"+pending.Ref)
			})
			out, err := c.Poll(ctx(t), withRefs(req, pending))
			judge(t, e, sandbox.KindSettlement, ours, out, err)
			checkErr(t, err, providers.Transient, "", "not JSON text")
		})
	}
	// An error reply with one is read as any error body that is not
	// Paysafe's JSON: without an error code (none in the header either),
	// no refusal.
	t.Run("error reply with a lone surrogate", func(t *testing.T) {
		srv, _ := fake(t, 400, `{"error":{"code":"3022","message":"declined\ud800"}}`, "")
		_, err := newClient(t, srv.URL, user, pass).Settle(ctx(t), debit("sg-2", "a1", "1.00", "USD"))
		checkErr(t, err, providers.Transient, "400", "HTTP 400")
		if strings.Contains(providers.ReasonOf(err), "\uFFFD") {
			t.Fatalf("reason %q holds U+FFFD", providers.ReasonOf(err))
		}
	})
}
