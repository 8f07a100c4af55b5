package paysafe_test

import (
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/paysafe"
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

// TestBare404IsNotAnUnknownAuthorization: a 404 without Paysafe's error
// code (5269, in the body and the X-Application-Status-Code header) is not
// Paysafe saying the authorization is unknown: it is a path nothing serves
// (PAYSAFE_BASE_URL without the sandbox's /paysafe prefix, a proxy's page).
// Before the fix ConfirmFunds read it as "authorization not found" and the
// pipeline withheld every debit (R, "funds not available") while the
// authorizations were there, and a credit's currency check skipped the
// authorization. Now it is a transient error naming the configuration; a
// 404 with 5269 is still the unknown authorization.
func TestBare404IsNotAnUnknownAuthorization(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	authID := e.authorize(t, sandbox.Authorization{Amount: 5000})
	wrong := newClient(t, e.srv.URL, user, pass) // without the /paysafe prefix
	res, err := wrong.ConfirmFunds(ctx(t), debit("b404-1", authID, "10.00", "USD"))
	if err == nil {
		t.Fatalf("a bare 404 answered %+v: R (funds not available) for an authorization that exists", res)
	}
	checkErr(t, err, providers.Transient, "404", "without a Paysafe error code")

	// A credit naming its authorization: the currency check does not skip
	// it on a bare 404; the refund is not sent.
	c := credit("b404-2", "s-1", "10.00", "USD")
	c.Headers[paysafe.HeaderAuthorizationID] = authID
	_, err = wrong.Settle(ctx(t), c)
	checkErr(t, err, providers.Transient, "404", "without a Paysafe error code")
	if !providers.WasNotSent(err) {
		t.Fatalf("the refund was not sent, but the error does not say so: %v", err)
	}

	res, err = e.client.ConfirmFunds(ctx(t), debit("b404-3", "no-such-auth", "10.00", "USD"))
	if err != nil || res.Available || res.Reason != paysafe.ReasonAuthNotFound {
		t.Fatalf("an unknown authorization (404, 5269): %+v %v", res, err)
	}
	if n := e.sb.Calls().Refund.Total; n != 0 {
		t.Fatalf("%d refund calls reached the sandbox", n)
	}
}
