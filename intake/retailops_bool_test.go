package intake

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRetailOPSBooleanIsNoAmountOrID: a JSON true or false is read as "1"
// or "0" so that success and captures_are_external may be booleans, but
// the same reading applied to every field: an account {"available": true}
// was settled for 1.00 USD, {"captured": true} lowered the amount by one,
// and an order id true named order 1 (its requestId, its OrderId). A
// boolean where an amount or an id is read is now refused, naming the
// field, and nothing is published; booleans stay accepted for the flags.
func TestRetailOPSBooleanIsNoAmountOrID(t *testing.T) {
	e := newEnv(t, envOptions{topology: true})
	acct := func(m map[string]any) map[string]any {
		return obj(m, "data", "order", "payment_status")["by_account"].([]any)[0].(map[string]any)
	}
	tests := []struct {
		name  string
		edit  func(m map[string]any)
		code  string
		field string
	}{
		{"available true", func(m map[string]any) { acct(m)["available"] = true }, ErrInvalidAmount, "available"},
		{"captured true", func(m map[string]any) { acct(m)["captured"] = true }, ErrInvalidAmount, "captured"},
		{"charged false", func(m map[string]any) { acct(m)["charged"] = false }, ErrInvalidAmount, "charged"},
		{"authed true", func(m map[string]any) { acct(m)["authed"] = true }, ErrInvalidAmount, "authed"},
		{"order id true", func(m map[string]any) { obj(m, "data", "order")["id"] = true }, ErrInvalidField, "data.order.id"},
		{"payment series true", func(m map[string]any) { obj(m, "data", "order")["payment_series_id"] = true }, ErrInvalidField, "data.order.payment_series_id"},
		{"account id true", func(m map[string]any) { acct(m)["id"] = true }, ErrInvalidField, ".id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, out := e.post(ordersPath, "application/json", edit(t, seed(t), tt.edit), bearer)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, out)
			}
			ds := e.requests("radial", 300*time.Millisecond)
			if len(ds) != 0 {
				t.Fatalf("published %d requests (first: %s)", len(ds), ds[0].Body)
			}
			ev := decodeEvents(t, out)
			found := false
			for _, x := range ev.Events {
				if x.ErrorCode == tt.code && strings.Contains(strings.Join(x.DiagnosticData, " "), tt.field) {
					found = true
				}
			}
			if !found {
				t.Fatalf("events %+v, want a %s naming %s", ev.Events, tt.code, tt.field)
			}
		})
	}

	t.Run("accepted: the flags as booleans", func(t *testing.T) {
		body := edit(t, seed(t), func(m map[string]any) {
			acct(m)["success"], acct(m)["captures_are_external"] = true, true
			acct(m)["available"] = json.Number("35")
		})
		resp, out := e.post(ordersPath, "application/json", body, bearer)
		if resp.StatusCode != http.StatusOK || len(decodeEvents(t, out).Events) != 0 {
			t.Fatalf("status %d: %s", resp.StatusCode, out)
		}
		if ds := e.requests("radial", 5*time.Second); len(ds) != 1 {
			t.Fatalf("published %d, want 1", len(ds))
		}
	})
}
