package intake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
)

const ordersPath = "/orders"

// The seed's example, delivered verbatim, becomes one PaymentSettlementRequest
// for account 6: 35.00 USD, order 4897, with the shipment's package.
func TestRetailOPSSeedExamplePublishesRequest(t *testing.T) {
	e := newEnv(t, envOptions{topology: true})
	resp, body := e.post(ordersPath, "application/json", seed(t), bearer)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if ev := decodeEvents(t, body); len(ev.Events) != 0 {
		t.Fatalf("events: %+v", ev.Events)
	}
	ds := e.requests("radial", 5*time.Second)
	if len(ds) != 1 {
		t.Fatalf("published %d requests, want 1", len(ds))
	}
	d := ds[0]
	const wantID = "ro-21-4897-2572-6"
	checks := []struct{ what, got, want string }{
		{"exchange", d.Exchange, broker.IntakeExchange},
		{"routing key", d.RoutingKey, "settlement.request.radial"},
		{"content type", d.ContentType, "application/xml"},
		{"message_id", d.MessageId, wantID},
		{"store_id", header(d, "store_id"), "ABCXYZ"},
		{"tender_type", header(d, "tender_type"), "PY"},
		{"original_authorization_amount (authed is 0)", header(d, "original_authorization_amount"), ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if d.DeliveryMode != amqp.Persistent {
		t.Errorf("delivery mode %d, want persistent", d.DeliveryMode)
	}
	req, err := messages.DecodeSettlementRequest(d.Body)
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, d.Body)
	}
	if err := req.Validate(); err != nil {
		t.Fatalf("published request is invalid: %v\n%s", err, d.Body)
	}
	fields := []struct{ what, got, want string }{
		{"requestId", req.RequestID, wantID},
		{"OrderId", req.OrderID(), "4897"},
		{"InvoiceId", req.InvoiceID, "4897-6"},
		{"Amount", req.Amount.Value + " " + req.Amount.CurrencyCode, "35.00 USD"},
		{"TaxAmount", req.TaxAmount.Value + " " + req.TaxAmount.CurrencyCode, "0.00 USD"},
		{"SettlementType", req.SettlementType, "Debit"},
		{"ClientContext", req.ClientContext, wantID},
		{"OmsOrderId", req.OmsOrderID, "4897"},
		{"OriginatingSystemOrderId", req.OriginatingSystemOrderID, "496"},
		{"SourceOrderSystem", req.SourceOrderSystem, "EXTERNAL"},
	}
	for _, f := range fields {
		if f.got != f.want {
			t.Errorf("%s = %q, want %q", f.what, f.got, f.want)
		}
	}
	if req.PaymentContext != nil || req.PaymentContextBase == nil {
		t.Errorf("want PaymentContextBase only, got %+v / %+v", req.PaymentContext, req.PaymentContextBase)
	}
	want := []messages.ShipmentData{{
		ShipmentCount: &messages.ShipmentCount{CurrentCount: "1", TotalCount: "1"},
		ShippedDate:   "2016-04-08T21:13:11Z",
		Carrier:       &messages.Carrier{Name: "WillCall", Service: "WillCall Standard"},
		TrackingID:    "ZX29827782929",
	}}
	if got, _ := json.Marshal(req.ShipmentData); !bytes.Equal(got, mustJSON(t, want)) {
		t.Errorf("ShipmentData = %s, want %s", got, mustJSON(t, want))
	}
}

// The same webhook delivered twice yields the same requestIds and the same
// request, so the worker settles it once.
func TestRetailOPSSameWebhookTwiceSameRequestIDs(t *testing.T) {
	e := newEnv(t, envOptions{topology: true})
	body := edit(t, seed(t), func(m map[string]any) {
		// Two accounts, so that both ids are compared.
		ps := obj(m, "data", "order", "payment_status")
		acc := ps["by_account"].([]any)[0].(map[string]any)
		second := map[string]any{}
		for k, v := range acc {
			second[k] = v
		}
		second["id"] = "7"
		second["available"] = json.Number("12.5")
		second["charged"] = json.Number("12.5")
		ps["by_account"] = []any{acc, second}
	})
	var runs [][]amqp.Delivery
	for i := 0; i < 2; i++ {
		resp, out := e.post(ordersPath, "application/json", body, bearer)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("delivery %d: status %d: %s", i+1, resp.StatusCode, out)
		}
		runs = append(runs, e.requests("radial", 5*time.Second))
	}
	for i, run := range runs {
		if len(run) != 2 {
			t.Fatalf("delivery %d published %d requests, want 2", i+1, len(run))
		}
	}
	ids := func(ds []amqp.Delivery) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.MessageId)
		}
		slices.Sort(out)
		return out
	}
	if a, b := ids(runs[0]), ids(runs[1]); !slices.Equal(a, b) || a[0] == a[1] {
		t.Fatalf("requestIds differ between deliveries or collide: %v vs %v", a, b)
	}
	fingerprints := func(ds []amqp.Delivery) map[string]string {
		out := map[string]string{}
		for _, d := range ds {
			r, err := messages.DecodeSettlementRequest(d.Body)
			if err != nil {
				t.Fatal(err)
			}
			if r.RequestID != d.MessageId {
				t.Errorf("message_id %s, requestId %s", d.MessageId, r.RequestID)
			}
			out[r.RequestID] = r.Fingerprint()
		}
		return out
	}
	if a, b := fingerprints(runs[0]), fingerprints(runs[1]); !maps.Equal(a, b) {
		t.Errorf("requests differ between deliveries: %v vs %v", a, b)
	}
}

func TestRetailOPSAuthentication(t *testing.T) {
	e := newEnv(t, envOptions{topology: true})
	withToken := func(tok string) []byte {
		return edit(t, seed(t), func(m map[string]any) { m["integration_auth_token"] = tok })
	}
	tests := []struct {
		name    string
		body    []byte
		headers map[string]string
		want    int
	}{
		{"bearer header", seed(t), bearer, http.StatusOK},
		{"integration_auth_token in the body (RetailOPS's scheme)", withToken(testRetailOPSKey), nil, http.StatusOK},
		{"older key during a rotation", withToken("old-key-to-rotate-out"), nil, http.StatusOK},
		{"no key", seed(t), nil, http.StatusUnauthorized},
		{"wrong bearer", seed(t), map[string]string{"Authorization": "Bearer " + testRetailOPSKey + "x"}, http.StatusUnauthorized},
		{"wrong body key", withToken("RETAILOPS_SDK"), nil, http.StatusUnauthorized},
		{"prefix of the key", withToken(testRetailOPSKey[:10]), nil, http.StatusUnauthorized},
		{"basic instead of bearer", seed(t), map[string]string{"Authorization": "Basic " + testRetailOPSKey}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.post(ordersPath, "application/json", tt.body, tt.headers)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, body)
			}
			ev := decodeEvents(t, body)
			got := e.requests("radial", 300*time.Millisecond)
			if tt.want == http.StatusOK {
				if len(ev.Events) != 0 || len(got) != 1 {
					t.Fatalf("events %+v, published %d", ev.Events, len(got))
				}
				return
			}
			if len(got) != 0 {
				t.Fatalf("refused request published %d messages", len(got))
			}
			if len(ev.Events) != 1 || ev.Events[0].ErrorCode != ErrUnauthorized || ev.Events[0].Status != "error" {
				t.Fatalf("want one UNAUTHORIZED error event, got %+v", ev.Events)
			}
			if resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if strings.Contains(string(body), testRetailOPSKey) {
				t.Error("answer echoes the key")
			}
		})
	}
}

// Every refusal answers error events in the seed's shape, one per problem,
// and publishes nothing.
func TestRetailOPSRefusals(t *testing.T) {
	e := newEnv(t, envOptions{topology: true})
	acct := func(m map[string]any) map[string]any {
		return obj(m, "data", "order", "payment_status")["by_account"].([]any)[0].(map[string]any)
	}
	tests := []struct {
		name       string
		body       []byte
		status     int
		codes      []string
		aboutOrder bool
	}{
		{"unknown action", edit(t, seed(t), func(m map[string]any) { m["action"] = "order_update" }),
			http.StatusBadRequest, []string{ErrUnsupportedAction}, true},
		{"no action", edit(t, seed(t), func(m map[string]any) { delete(m, "action") }),
			http.StatusBadRequest, []string{ErrUnsupportedAction}, true},
		{"unknown version", edit(t, seed(t), func(m map[string]any) { m["version"] = json.Number("2") }),
			http.StatusBadRequest, []string{ErrUnsupportedVersion}, true},
		{"malformed JSON", []byte(`{"version": 1, "action": "order_settle_payment", "data": {`),
			http.StatusBadRequest, []string{ErrMalformedJSON}, false},
		{"JSON of the wrong shape", []byte(`["order_settle_payment"]`),
			http.StatusBadRequest, []string{ErrMalformedJSON}, false},
		{"channel without a provider", edit(t, seed(t), func(m map[string]any) { obj(m, "data", "channel")["id"] = json.Number("99") }),
			http.StatusOK, []string{ErrUnknownChannel}, true},
		{"fraction of a cent", edit(t, seed(t), func(m map[string]any) {
			acct(m)["available"] = json.Number("35.005")
			acct(m)["charged"] = json.Number("35.005")
		}),
			http.StatusOK, []string{ErrInvalidAmount}, true},
		{"amount in exponent notation", edit(t, seed(t), func(m map[string]any) { acct(m)["available"] = json.Number("3.5e1") }),
			http.StatusOK, []string{ErrInvalidAmount}, true},
		{"captured more than available", edit(t, seed(t), func(m map[string]any) { acct(m)["captured"] = json.Number("40") }),
			http.StatusOK, []string{ErrInconsistentAmount}, true},
		{"more available than charged", edit(t, seed(t), func(m map[string]any) { acct(m)["available"] = json.Number("50") }),
			http.StatusOK, []string{ErrInconsistentAmount}, true},
		{"order id and payment series missing: one event each", edit(t, seed(t), func(m map[string]any) {
			delete(obj(m, "data", "order"), "id")
			delete(obj(m, "data", "order"), "payment_series_id")
		}), http.StatusOK, []string{ErrMissingField, ErrMissingField}, false},
		{"order id too long for Radial", edit(t, seed(t), func(m map[string]any) {
			obj(m, "data", "order")["id"] = "123456789012345678901"
		}), http.StatusOK, []string{ErrInvalidRequest}, false},
		{"two bad accounts: one event each", edit(t, seed(t), func(m map[string]any) {
			ps := obj(m, "data", "order", "payment_status")
			a := acct(m)
			a["available"] = "x"
			ps["by_account"] = []any{a, map[string]any{"id": 7, "captures_are_external": 1, "available": -3}}
		}), http.StatusOK, []string{ErrInvalidAmount, ErrInvalidAmount}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.post(ordersPath, "application/json", tt.body, bearer)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			ev := decodeEvents(t, body)
			var codes []string
			for _, x := range ev.Events {
				codes = append(codes, x.ErrorCode)
				if x.Status != "error" || x.ErrorMessage == "" || x.DiagnosticData == nil || x.Associations == nil {
					t.Errorf("event not in the seed's shape: %+v", x)
				}
				if tt.aboutOrder && !slices.Contains(x.Associations, Association{Type: "order_id", Identity: "4897"}) {
					t.Errorf("event does not name order 4897: %+v", x.Associations)
				}
			}
			if !slices.Equal(codes, tt.codes) {
				t.Fatalf("codes %v, want %v: %s", codes, tt.codes, body)
			}
			if got := e.requests("radial", 300*time.Millisecond); len(got) != 0 {
				t.Fatalf("refused webhook published %d requests", len(got))
			}
		})
	}
}

func TestRetailOPSSkipsAccountsWithNothingToSettle(t *testing.T) {
	e := newEnv(t, envOptions{topology: true})
	acct := func(m map[string]any) map[string]any {
		return obj(m, "data", "order", "payment_status")["by_account"].([]any)[0].(map[string]any)
	}
	tests := []struct {
		name string
		f    func(m map[string]any)
	}{
		{"captured by RetailOPS itself", func(m map[string]any) { acct(m)["captures_are_external"] = json.Number("0") }},
		{"already captured", func(m map[string]any) { acct(m)["captured"] = json.Number("35") }},
		{"payment not successful", func(m map[string]any) { acct(m)["success"] = json.Number("0") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.post(ordersPath, "application/json", edit(t, seed(t), tt.f), bearer)
			if resp.StatusCode != http.StatusOK || len(decodeEvents(t, body).Events) != 0 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if got := e.requests("radial", 300*time.Millisecond); len(got) != 0 {
				t.Fatalf("published %d requests, want none", len(got))
			}
		})
	}
}

// Several accounts, string ids (the RetailOPS SDK's other schema), a
// zero-exponent currency and an authorization amount.
func TestRetailOPSAccountsCurrencyAndAuthorization(t *testing.T) {
	e := newEnv(t, envOptions{topology: true})
	body := []byte(`{
	  "version": "1", "action": "order_settle_payment",
	  "data": {
	    "channel": {"id": "30"},
	    "order": {
	      "id": "A-77", "payment_series_id": "9", "channel_refnum": "JP-1",
	      "payment_status": {"by_account": [
	        {"id": "1", "success": 1, "captures_are_external": 1, "available": 1200, "captured": 200, "charged": 1200, "authed": 1200},
	        {"id": "2", "success": 1, "captures_are_external": 1, "available": "500", "charged": 500}
	      ]},
	      "shipments": [{"id": 5, "packages": [{"id": 1, "date_shipped": "not a date"}]}]
	    }
	  }
	}`)
	resp, out := e.post(ordersPath, "application/json", body, bearer)
	if resp.StatusCode != http.StatusOK || len(decodeEvents(t, out).Events) != 0 {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	ds := e.requests("radial", 5*time.Second)
	if len(ds) != 2 {
		t.Fatalf("published %d, want 2", len(ds))
	}
	got := map[string]amqp.Delivery{}
	for _, d := range ds {
		got[d.MessageId] = d
	}
	tests := []struct {
		id, amount, auth string
	}{
		// "A-77" has a dash: the readable form could be forged, so hashed.
		{retailOPSRequestID("30", "A-77", "9", "1"), "1000", "1200"},
		{retailOPSRequestID("30", "A-77", "9", "2"), "500", ""},
	}
	for _, tt := range tests {
		d, ok := got[tt.id]
		if !ok {
			t.Fatalf("no request %s among %v", tt.id, keys(got))
		}
		if !strings.HasPrefix(tt.id, "roh-") || len(tt.id) != 40 {
			t.Errorf("requestId %q: want the hashed form, 40 characters", tt.id)
		}
		req, err := messages.DecodeSettlementRequest(d.Body)
		if err != nil {
			t.Fatal(err)
		}
		if err := req.Validate(); err != nil {
			t.Fatalf("invalid: %v", err)
		}
		if req.Amount.Value != tt.amount || req.Amount.CurrencyCode != "JPY" || req.TaxAmount.Value != "0" {
			t.Errorf("%s: amount %s %s tax %s, want %s JPY tax 0", tt.id, req.Amount.Value, req.Amount.CurrencyCode, req.TaxAmount.Value, tt.amount)
		}
		if h := header(d, "original_authorization_amount"); h != tt.auth {
			t.Errorf("%s: original_authorization_amount %q, want %q", tt.id, h, tt.auth)
		}
		if header(d, "store_id") != "JP-STORE" || header(d, "tender_type") != "VC" {
			t.Errorf("%s: headers %v", tt.id, d.Headers)
		}
		if len(req.ShipmentData) != 0 {
			t.Errorf("package without a usable date_shipped was sent: %+v", req.ShipmentData)
		}
	}
}

func TestRetailOPSHTTPChecks(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBodyBytes = 4096
	e := newEnv(t, envOptions{topology: true, cfg: &cfg})
	big := edit(t, seed(t), func(m map[string]any) { m["padding"] = strings.Repeat("x", 8192) })
	tests := []struct {
		name        string
		method, ct  string
		body        []byte
		status      int
		code, allow string
	}{
		{"GET", http.MethodGet, "", nil, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "POST"},
		{"PUT", http.MethodPut, "application/json", seed(t), http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "POST"},
		{"text/plain", http.MethodPost, "text/plain", seed(t), http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"no content type", http.MethodPost, "", seed(t), http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"too large", http.MethodPost, "application/json", big, http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE", ""},
		{"charset parameter is fine", http.MethodPost, "application/json; charset=utf-8", seed(t), http.StatusOK, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.do(tt.method, ordersPath, tt.ct, tt.body, bearer)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			ev := decodeEvents(t, body)
			if tt.code != "" && (len(ev.Events) != 1 || ev.Events[0].ErrorCode != tt.code) {
				t.Fatalf("want one %s event, got %s", tt.code, body)
			}
			if resp.Header.Get("Allow") != tt.allow {
				t.Errorf("Allow = %q, want %q", resp.Header.Get("Allow"), tt.allow)
			}
			e.requests("radial", 200*time.Millisecond)
		})
	}
}

// The answer comes only after the broker confirmed: with the intake
// exchange missing nothing can be confirmed, so RetailOPS gets a 503 and
// retries.
func TestRetailOPSPublishFailureAnswers503(t *testing.T) {
	e := newEnv(t, envOptions{topology: false})
	resp, body := e.post(ordersPath, "application/json", seed(t), bearer)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503: %s", resp.StatusCode, body)
	}
	ev := decodeEvents(t, body)
	if len(ev.Events) != 1 || ev.Events[0].ErrorCode != ErrPublishFailed ||
		!slices.Equal(ev.Events[0].DiagnosticData, []string{"ro-21-4897-2572-6"}) {
		t.Fatalf("events: %s", body)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

func TestHealthAndReadiness(t *testing.T) {
	var (
		mu    sync.Mutex
		ready error
	)
	e := newEnv(t, envOptions{ready: func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		return ready
	}})
	tests := []struct {
		name, method, path string
		ready              error
		want               int
	}{
		{"healthz", http.MethodGet, "/healthz", errNotReady, http.StatusOK},
		{"readyz while not ready", http.MethodGet, "/readyz", errNotReady, http.StatusServiceUnavailable},
		{"readyz when ready", http.MethodGet, "/readyz", nil, http.StatusOK},
		{"healthz POST", http.MethodPost, "/healthz", nil, http.StatusMethodNotAllowed},
		{"unknown path", http.MethodGet, "/orders/1", nil, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			ready = tt.ready
			mu.Unlock()
			resp, body := e.do(tt.method, tt.path, "", nil, nil)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, body)
			}
		})
	}
}

var errNotReady = errors.New("broker unreachable")

func header(d amqp.Delivery, k string) string {
	v, _ := d.Headers[k].(string)
	return v
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Issue 7: a settlement request built from the order that is larger than
// MAX_REQUEST_BYTES once encoded would be parked by the worker: the order
// is refused with an error event instead, and nothing is published.
func TestRetailOPSRequestAboveMaxRequestBytes(t *testing.T) {
	cfg := testConfig()
	cfg.MaxRequestBytes = 300
	e := newEnv(t, envOptions{topology: true, cfg: &cfg})
	resp, body := e.post(ordersPath, "application/json", seed(t), bearer)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	ev := decodeEvents(t, body)
	if len(ev.Events) != 1 || ev.Events[0].ErrorCode != ErrRequestTooLarge || !strings.Contains(ev.Events[0].ErrorMessage, "MAX_REQUEST_BYTES") {
		t.Fatalf("events %+v, want one %s naming MAX_REQUEST_BYTES", ev.Events, ErrRequestTooLarge)
	}
	if ds := e.requests("radial", 200*time.Millisecond); len(ds) != 0 {
		t.Fatalf("published %d requests", len(ds))
	}
}
