package paysafe_test

import (
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/paysafe"
)

// TestAuthorizationNotFinalYetIsNotR: ConfirmFunds withheld (R, "funds not
// available") a debit whose authorization Paysafe had not finished: RECEIVED
// (being processed) or HELD (under Paysafe's risk review). Either may still
// become COMPLETED with the whole amount to settle (the sandbox's
// authorization is moved to COMPLETED below and settles), so the R was a
// guess at an outcome Paysafe had not decided; such an authorization is now
// transient (asked again, then parked for a person). FAILED and CANCELLED
// authorizations are final: still R.
func TestAuthorizationNotFinalYetIsNotR(t *testing.T) {
	tests := []struct {
		status string
		final  bool
	}{
		{sandbox.StatusReceived, false},
		{sandbox.StatusHeld, false},
		{sandbox.StatusFailed, true},
		{sandbox.StatusCancelled, true},
	}
	for _, tc := range tests {
		t.Run(tc.status, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{})
			authID := e.authorize(t, sandbox.Authorization{ID: "auth-" + tc.status, Amount: 5000, Status: tc.status})
			req := debit("nf-"+tc.status, authID, "50.00", "USD")
			res, err := e.client.ConfirmFunds(ctx(t), req)
			if tc.final {
				if err != nil || res.Available || res.Reason != "authorization is "+tc.status {
					t.Fatalf("a %s authorization: %+v %v", tc.status, res, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("a %s authorization answered %+v: an R (funds not available) for an authorization Paysafe has not decided", tc.status, res)
			}
			checkErr(t, err, providers.Transient, "", "is "+tc.status+", not final yet")
			e.authorize(t, sandbox.Authorization{ID: authID, Amount: 5000, Status: sandbox.StatusCompleted})
			if res, err := e.client.ConfirmFunds(ctx(t), req); err != nil || !res.Available {
				t.Fatalf("once COMPLETED: %+v %v", res, err)
			}
			expect(t, providers.Pending)(e.client.Settle(ctx(t), req))
		})
	}
}
