package frisbii_test

import (
	"context"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/frisbii"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/frisbii"
)

func TestConfirmFundsContract(t *testing.T) {
	e := newEnv(t)
	for _, s := range []sandbox.ChargeSeed{
		{Handle: "AUTH", Amount: 10000},
		{Handle: "PART", Amount: 10000, State: sandbox.StateSettled, SettledAmount: 4000},
		{Handle: "FULL", Amount: 10000, State: sandbox.StateSettled},
		{Handle: "FAILED", Amount: 10000, State: sandbox.StateFailed},
		{Handle: "CANCELLED", Amount: 10000, State: sandbox.StateCancelled},
		{Handle: "YEN", Amount: 1500, Currency: "JPY"},
		{Handle: "DINAR", Amount: 1500, Currency: "KWD"},
		{Handle: "EURO", Amount: 10000, Currency: "EUR"},
		{Handle: "charge-77", Amount: 500},
	} {
		e.seed(t, s)
	}
	yen := request("c-yen", "YEN", "Debit", "1500", "JPY")
	dinar := request("c-kwd", "DINAR", "Debit", "1.500", "KWD")
	viaHeader := debit("c-hdr", "ORDER-9", "5.00")
	viaHeader.Headers[frisbii.HeaderChargeHandle] = "charge-77"

	tests := []struct {
		name       string
		req        *providers.Request
		available  bool
		reason     string
		authorized string
		settled    string
	}{
		{"authorized and enough", debit("c1", "AUTH", "100.00"), true, "", "10000", "0"},
		{"authorized, insufficient", debit("c2", "AUTH", "100.01"), false, "only 100.00 USD of 100.00 USD left to settle; 100.01 USD requested", "10000", "0"},
		{"not found", debit("c3", "NOPE", "1.00"), false, frisbii.ReasonChargeNotFound, "", ""},
		{"partially settled, enough left", debit("c4", "PART", "60.00"), true, "", "10000", "4000"},
		{"partially settled, too little left", debit("c5", "PART", "60.01"), false, "only 60.00 USD of 100.00 USD left", "10000", "4000"},
		{"fully settled", debit("c6", "FULL", "0.01"), false, frisbii.ReasonFullySettled, "10000", "10000"},
		{"failed", debit("c7", "FAILED", "1.00"), false, "charge failed (hard_declined: declined_by_acquirer)", "10000", "0"},
		{"cancelled", debit("c8", "CANCELLED", "1.00"), false, "charge was cancelled", "10000", "0"},
		{"JPY has no decimals", yen, true, "", "1500", "0"},
		{"KWD has three", dinar, true, "", "1500", "0"},
		{"currency mismatch", debit("c9", "EURO", "1.00"), false, "is in EUR, the settlement in USD", "", ""},
		{"handle from the charge_handle header", viaHeader, true, "", "500", "0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.client.ConfirmFunds(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if res.Available != tc.available || !strings.Contains(res.Reason, tc.reason) {
				t.Fatalf("result %+v, want available=%v reason %q", res, tc.available, tc.reason)
			}
			if res.Refs[frisbii.RefAuthorizedAmount] != tc.authorized || res.Refs[frisbii.RefSettledAmount] != tc.settled {
				t.Fatalf("refs = %v", res.Refs)
			}
		})
	}
	if c := e.sb.Calls().Charge; c.Total != len(tests) {
		t.Fatalf("charge reads = %d, want %d", c.Total, len(tests))
	}

	errTests := []struct {
		name   string
		req    *providers.Request
		faults *sandbox.Faults
		client *frisbii.Client
		class  providers.Class
		code   string
		reason string
	}{
		{name: "fraction of a cent", req: debit("x1", "AUTH", "10.005"), class: providers.Permanent, reason: "fraction of a minor unit"},
		{name: "invalid handle", req: debit("x2", "ORDER 1/2", "1.00"), class: providers.Permanent, reason: "is not a Frisbii charge handle"},
		{name: "503", req: debit("x3", "AUTH", "1.00"), faults: &sandbox.Faults{FailNext: 1}, class: providers.Transient, code: "2", reason: "HTTP 503"},
		{name: "hang", req: debit("x4", "AUTH", "1.00"), faults: &sandbox.Faults{HangNext: 1}, class: providers.Transient, reason: "no answer within 1.5s"},
		{name: "wrong key", req: debit("x5", "AUTH", "1.00"), client: newClient(t, e.srv.URL+"/frisbii", "priv_wrong_secret"),
			class: providers.Transient, code: "6", reason: "FRISBII_API_KEY"},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.faults != nil {
				e.faults(t, sandbox.EndpointCharge, *tc.faults)
			}
			c := e.client
			if tc.client != nil {
				c = tc.client
			}
			before := e.sb.Calls().Charge.Total
			_, err := c.ConfirmFunds(context.Background(), tc.req)
			checkErr(t, err, tc.class, tc.code, tc.reason)
			if tc.class == providers.Permanent && e.sb.Calls().Charge.Total != before {
				t.Fatal("a request refused locally reached Frisbii")
			}
		})
	}
}
