package frisbii

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestAdminAPI(t *testing.T) {
	_, srv := newTestSandbox(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ac, err := NewAdminClient(srv.URL+"/frisbii", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	ci, err := ac.SeedCharge(ctx, ChargeSeed{Handle: "a-1", Amount: 1500, Currency: "KWD", Decline: &Decline{ErrorState: ErrorStateSoftDeclined, Count: 1}})
	if err != nil || ci.State != StateAuthorized || ci.RemainingAmount != 1500 || ci.Currency != "KWD" {
		t.Fatalf("SeedCharge = %+v, %v", ci, err)
	}
	for _, bad := range []ChargeSeed{
		{Handle: "bad handle", Amount: 1, Currency: "USD"},
		{Handle: "a-2", Amount: 0, Currency: "USD"},
		{Handle: "a-2", Amount: 2147483648, Currency: "USD"},
		{Handle: "a-2", Amount: 1, Currency: "usd"},
		{Handle: "a-2", Amount: 10, Currency: "USD", State: StateSettled, SettledAmount: 11},
		{Handle: "a-2", Amount: 10, Currency: "USD", SettledAmount: 5},
		{Handle: "a-2", Amount: 10, Currency: "USD", Decline: &Decline{ErrorState: "declined"}},
		{Handle: "a-2", Amount: 10, Currency: "USD", Refund: &RefundScript{State: RefundFailed}},
	} {
		if _, err := ac.SeedCharge(ctx, bad); err == nil || !strings.Contains(err.Error(), "HTTP 400") {
			t.Fatalf("seed %+v: %v", bad, err)
		}
	}
	fs, err := ac.SetFaults(ctx, EndpointSettle, Faults{FailNext: 2})
	if err != nil || fs.Settle.FailNext != 2 || fs.Charge.FailNext != 0 {
		t.Fatalf("SetFaults = %+v, %v", fs, err)
	}
	if _, err := ac.SetFaults(ctx, "nowhere", Faults{}); err == nil {
		t.Fatal("unknown endpoint accepted")
	}
	if _, err := ac.SetFaults(ctx, EndpointSettle, Faults{}); err != nil {
		t.Fatal(err)
	}

	settle(t, srv, "a-1", keyed("k1", 500)) // soft declined
	settle(t, srv, "a-1", keyed("k2", 500)) // settled
	es, err := ac.Ledger(ctx, LedgerFilter{Handle: "a-1"})
	if err != nil || len(es) != 2 || es[0].State != EntryFailed || es[1].State != EntrySettled || es[1].Currency != "KWD" {
		t.Fatalf("Ledger = %+v, %v", es, err)
	}
	if es, err := ac.Ledger(ctx, LedgerFilter{Key: "k2", Kind: EntrySettle}); err != nil || len(es) != 1 {
		t.Fatalf("Ledger(k2) = %+v, %v", es, err)
	}
	if ci, err := ac.Charge(ctx, "a-1"); err != nil || ci.SettledAmount != 500 || len(ci.Transactions) != 2 {
		t.Fatalf("Charge = %+v, %v", ci, err)
	}
	if _, err := ac.Charge(ctx, "nope"); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("Charge(nope) = %v", err)
	}
	if cs, err := ac.Charges(ctx); err != nil || len(cs) != 1 {
		t.Fatalf("Charges = %+v, %v", cs, err)
	}
	if c, err := ac.Calls(ctx); err != nil || c.Settle.Processed != 2 || c.Settle.Declined != 1 {
		t.Fatalf("Calls = %+v, %v", c, err)
	}
	if f, err := ac.Faults(ctx); err != nil || f.Settle.FailNext != 0 {
		t.Fatalf("Faults = %+v, %v", f, err)
	}
	if err := ac.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if cs, err := ac.Charges(ctx); err != nil || len(cs) != 0 {
		t.Fatalf("after reset: %+v, %v", cs, err)
	}
	if _, err := NewAdminClient("not a url", nil); err == nil {
		t.Fatal("bad base URL accepted")
	}
}

func TestAdminLoopbackOnly(t *testing.T) {
	for _, allow := range []bool{false, true} {
		sb, err := NewSandbox(Config{Prefix: "/frisbii", AllowRemoteAdmin: allow})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodGet, "/frisbii/_sandbox/calls", nil)
		req.RemoteAddr = "10.1.2.3:4567"
		rec := httptest.NewRecorder()
		sb.Handler().ServeHTTP(rec, req)
		want := http.StatusForbidden
		if allow {
			want = http.StatusOK
		}
		if rec.Code != want {
			t.Fatalf("allow=%v: HTTP %d, want %d", allow, rec.Code, want)
		}
	}
}

func TestConfig(t *testing.T) {
	c := Config{Prefix: "frisbii/"}.WithDefaults()
	if c.Prefix != "/frisbii" || c.APIKey != DefaultAPIKey || c.MaxBodyBytes != DefaultMaxBodyBytes || c.Now == nil {
		t.Fatalf("defaults = %+v", c)
	}
	for _, bad := range []Config{{Prefix: "/a/{b}"}, {Prefix: "//x"}, {APIKey: "priv:x"}, {MaxBodyBytes: -1}} {
		if err := bad.Validate(); err == nil {
			t.Fatalf("%+v accepted", bad)
		}
	}
	if _, err := NewSandbox(Config{APIKey: "a b"}); err == nil {
		t.Fatal("NewSandbox accepted a bad config")
	}
}
