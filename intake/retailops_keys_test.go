package intake

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRetailOPSKeysTwiceOrInAnotherCase: encoding/json keeps the last of
// two equal keys and matches a key to a field whatever its case, so an
// account {"available": 10, "available": 35} was settled for 35 (a reader
// that keeps the first sees 10), and an additional property "Captured"
// (RetailOPS allows properties the schema does not name) was read as
// captured and lowered the amount. The amount to capture is computed from
// these keys: a webhook with a known key twice in one object, or one that
// differs from a known key only in case, is refused as malformed JSON,
// naming the key, and nothing is published. Unknown keys stay accepted.
func TestRetailOPSKeysTwiceOrInAnotherCase(t *testing.T) {
	e := newEnv(t, envOptions{topology: true})
	const tmpl = `{"version": "1", "action": "order_settle_payment", ORDER}`
	const order = `"data": {"channel": {"id": "21"}, "order": {"id": "K-1", "payment_series_id": "3",
	  "payment_status": {"by_account": [{"id": "1", "success": 1, "captures_are_external": 1, ACCOUNT}]}}}`
	body := func(account string) []byte {
		return []byte(strings.Replace(strings.Replace(tmpl, "ORDER", order, 1), "ACCOUNT", account, 1))
	}
	refused := []struct{ name, body, key string }{
		{"available twice", string(body(`"available": 10, "charged": 35, "available": 35`)), `"available"`},
		{"captured in another case", string(body(`"available": 35, "charged": 35, "captured": 0, "Captured": 25`)), `"Captured"`},
		{"available only in upper case", string(body(`"AVAILABLE": 35, "charged": 35`)), `"AVAILABLE"`},
		{"order id twice", strings.Replace(string(body(`"available": 35`)), `"id": "K-1"`, `"id": "K-1", "id": "K-2"`, 1), `"id"`},
		{"action twice", strings.Replace(string(body(`"available": 35`)), `"action": "order_settle_payment"`, `"action": "order_settle_payment", "action": "order_settle_payment"`, 1), `"action"`},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			resp, out := e.post(ordersPath, "application/json", []byte(tt.body), bearer)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", resp.StatusCode, out)
			}
			ev := decodeEvents(t, out)
			if len(ev.Events) != 1 || ev.Events[0].ErrorCode != ErrMalformedJSON || !strings.Contains(ev.Events[0].ErrorMessage, tt.key) {
				t.Fatalf("events %+v, want one %s naming %s", ev.Events, ErrMalformedJSON, tt.key)
			}
			if ds := e.requests("radial", 300*time.Millisecond); len(ds) != 0 {
				t.Fatalf("refused webhook published %d requests", len(ds))
			}
		})
	}

	t.Run("accepted: unknown keys, the same key in two objects", func(t *testing.T) {
		resp, out := e.post(ordersPath, "application/json", body(`"available": 35, "charged": 35, "captured_elsewhere": 5, "note": {"id": 1, "ID": 2}`), bearer)
		if resp.StatusCode != http.StatusOK || len(decodeEvents(t, out).Events) != 0 {
			t.Fatalf("status %d: %s", resp.StatusCode, out)
		}
		if ds := e.requests("radial", 5*time.Second); len(ds) != 1 {
			t.Fatalf("published %d, want 1", len(ds))
		}
	})
}
