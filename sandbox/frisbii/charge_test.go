package frisbii

import (
	"net/http"
	"testing"
)

func TestGetCharge(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	seed(t, sb, ChargeSeed{Handle: "order-1", Amount: 10000, OrderText: "Two shirts"})
	seed(t, sb, ChargeSeed{Handle: "order-jpy", Amount: 1500, Currency: "JPY"})
	seed(t, sb, ChargeSeed{Handle: "order-part", Amount: 10000, State: StateSettled, SettledAmount: 4000})
	seed(t, sb, ChargeSeed{Handle: "order-failed", Amount: 10000, State: StateFailed})

	tests := []struct {
		handle, state, currency, errState string
		amount, authorized                int64
	}{
		{"order-1", StateAuthorized, "USD", "", 10000, 10000},
		{"order-jpy", StateAuthorized, "JPY", "", 1500, 1500},
		// "If partial settles are performed amount represents the total settled amount."
		{"order-part", StateSettled, "USD", "", 4000, 10000},
		{"order-failed", StateFailed, "USD", ErrorStateHardDeclined, 10000, 10000},
	}
	for _, tc := range tests {
		t.Run(tc.handle, func(t *testing.T) {
			r := call(t, srv, http.MethodGet, "/frisbii/v1/charge/"+tc.handle, testKey, nil)
			c := mustCharge(t, r)
			if c.Handle != tc.handle || c.State != tc.state || c.Currency != tc.currency || c.Amount != tc.amount ||
				c.AuthorizedAmount != tc.authorized || c.ErrorState != tc.errState || c.Created == "" || r.header.Get("Request-Id") == "" {
				t.Fatalf("charge = %+v", c)
			}
		})
	}

	t.Run("not found", func(t *testing.T) {
		e := mustError(t, call(t, srv, http.MethodGet, "/frisbii/v1/charge/nope", testKey, nil), http.StatusNotFound, CodeInvoiceNotFound)
		if e.Path != "/frisbii/v1/charge/nope" || e.HTTPReason != "Not Found" {
			t.Fatalf("error = %+v", e)
		}
	})
	t.Run("authentication", func(t *testing.T) {
		for _, key := range []string{"", "priv_wrong"} {
			r := call(t, srv, http.MethodGet, "/frisbii/v1/charge/order-1", key, nil)
			mustError(t, r, http.StatusUnauthorized, CodeNotAuthenticated)
			if r.header.Get("WWW-Authenticate") == "" {
				t.Fatal("no WWW-Authenticate header")
			}
		}
		if c := sb.Calls().Charge; c.Unauthorized != 2 || c.Total != 7 || c.ClientErrors != 1 {
			t.Fatalf("calls = %+v", c)
		}
	})
}
