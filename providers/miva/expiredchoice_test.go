package miva_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/miva"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// TestChosenAuthorizationIsOneTheListShowsUnexpired: Miva's payment list
// gives each authorization its expiry date (expires), yet ConfirmFunds
// chose authorization 70, the smallest that covered the debit, although
// the list showed it expired an hour ago: the capture was sent to be
// refused (authorization_expired), and the fallback that follows parks the
// request whenever a capture of the same amount appeared on the order
// meanwhile. An authorization the list shows expired is now chosen only
// when no other covers the amount; it is not skipped then, since Miva's
// clock, not the worker's, decides (a skewed worker clock must not refuse
// a capture Miva would make). Judged from the sandbox's ledger and its
// count of refused captures.
func TestChosenAuthorizationIsOneTheListShowsUnexpired(t *testing.T) {
	const order = 772
	hourAgo := time.Now().Add(-time.Hour).Unix()
	tests := []struct {
		name   string
		left75 string        // authorization 75's available (100.00 authorized)
		skew   time.Duration // the sandbox clock's lead on the worker's
		chosen string        // ConfirmFunds's choice
		kind   providers.Kind
		reason string
		target int64 // the authorization captured (0: none)
	}{
		{name: "another covers: it is chosen, no refused call", left75: "100.00", chosen: "75", kind: providers.Settled, target: 75},
		{name: "none other covers: Miva decides, and refuses", left75: "40.00", chosen: "70", kind: providers.Refused, reason: "Authorization 70 expired"},
		{name: "none other covers, Miva's clock behind: captured", left75: "40.00", skew: -2 * time.Hour, chosen: "70", kind: providers.Settled, target: 70},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{Now: func() time.Time { return time.Now().Add(tc.skew) }},
				sandbox.OrderSeed{OrderID: order, Records: []sandbox.RecordSeed{
					{ID: 70, Type: sandbox.TypeAuth, Amount: "60.00", Available: "60.00", Expires: hourAgo},
					{ID: 75, Type: sandbox.TypeAuth, Amount: "100.00", Available: tc.left75},
				}})
			req := confirmed(t, e, debit(strconv.Itoa(order), "50.00"))
			if got := req.Refs[miva.RefPaymentID]; got != tc.chosen {
				t.Fatalf("confirmed against %s, want %s", got, tc.chosen)
			}
			out, err := e.client.Settle(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if out.Kind != tc.kind || !strings.Contains(out.Reason, tc.reason) {
				t.Fatalf("outcome %+v, want %s %q", out, tc.kind, tc.reason)
			}
			cs := captures(e)
			if tc.target == 0 {
				if len(cs) != 0 {
					t.Fatalf("captures %+v, want none", cs)
				}
				return
			}
			if len(cs) != 1 || cs[0].PaymentID != tc.target || mustID(out.Ref) != cs[0].RecordID {
				t.Fatalf("captures %+v, outcome %+v; want one capture on %d named by S", cs, out, tc.target)
			}
			if n := e.sb.Calls().Capture.Declined; n != 0 {
				t.Fatalf("%d captures refused before the one on %d", n, tc.target)
			}
		})
	}
}
