package miva

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestAdminAPI(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ac, err := NewAdminClient(srv.URL+"/miva", srv.Client())
	if err != nil {
		t.Fatal(err)
	}

	st, err := ac.SeedOrder(ctx, seedExampleOrder)
	if err != nil || len(st.Records) != 2 || st.Totals.FormattedTotalAuth != "$8.00" || st.StoreCode != testStore {
		t.Fatalf("SeedOrder = %+v, %v", st, err)
	}
	if _, err := ac.SeedOrder(ctx, OrderSeed{OrderID: 1, Records: []RecordSeed{{Type: TypeAuth, Amount: "abc"}}}); err == nil ||
		!strings.Contains(err.Error(), "HTTP 400") {
		t.Fatalf("invalid seed: %v", err)
	}
	fs, err := ac.SetFaults(ctx, EndpointCapture, Faults{DropNext: 1})
	if err != nil || fs.Capture.DropNext != 1 || fs.List.DropNext != 0 {
		t.Fatalf("SetFaults = %+v, %v", fs, err)
	}
	if _, err := ac.SetFaults(ctx, "nowhere", Faults{}); err == nil {
		t.Fatal("unknown endpoint accepted")
	}

	status, _ := call(t, srv, FunctionCapture, map[string]any{"OrderPayment_ID": 4, "Amount": json.Number("0.40")})
	if status != http.StatusBadGateway {
		t.Fatalf("dropped capture: HTTP %d", status)
	}
	es, err := ac.Ledger(ctx, LedgerFilter{OrderID: 200102})
	if err != nil || len(es) != 1 || !es[0].ReplyDropped || es[0].Amount != "0.40" || es[0].RecordID != 5 || es[0].Type != TypeCapture {
		t.Fatalf("Ledger = %+v, %v", es, err)
	}
	if es, err := ac.Ledger(ctx, LedgerFilter{Function: FunctionRefund}); err != nil || len(es) != 0 {
		t.Fatalf("Ledger(refund) = %+v, %v", es, err)
	}
	o, err := ac.Order(ctx, 200102)
	if err != nil || len(o.Records) != 3 || o.Records[1].FormattedAvailable != "$0.60" || o.Records[2].Refundable != "0.40" {
		t.Fatalf("Order = %+v, %v", o, err)
	}
	if _, err := ac.Order(ctx, 1); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("unknown order: %v", err)
	}
	if os, err := ac.Orders(ctx); err != nil || len(os) != 1 {
		t.Fatalf("Orders = %+v, %v", os, err)
	}
	calls, err := ac.Calls(ctx)
	if err != nil || calls.Capture.Total != 1 || calls.Capture.Dropped != 1 {
		t.Fatalf("Calls = %+v, %v", calls, err)
	}
	if f, err := ac.Faults(ctx); err != nil || f.Capture.DropNext != 0 {
		t.Fatalf("Faults = %+v, %v", f, err)
	}

	if err := ac.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if all, _ := ac.Ledger(ctx, LedgerFilter{}); len(all) != 0 {
		t.Fatalf("ledger after reset: %d", len(all))
	}
	if c := sb.Calls(); c.Capture.Total != 0 || len(sb.Orders()) != 0 {
		t.Fatalf("after reset: %+v", c)
	}
}

func TestAdminLoopbackOnly(t *testing.T) {
	sb, _ := newTestSandbox(t, Config{})
	req := httptest.NewRequest(http.MethodGet, "/miva/_sandbox/ledger", nil)
	req.RemoteAddr = "192.0.2.10:4321"
	rec := httptest.NewRecorder()
	sb.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("remote admin call: HTTP %d", rec.Code)
	}
	req.RemoteAddr = "[::1]:4321"
	rec = httptest.NewRecorder()
	sb.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("loopback admin call: HTTP %d", rec.Code)
	}
	req = httptest.NewRequest(http.MethodPut, "/miva/_sandbox/faults", strings.NewReader(`{"endpoint":"all","bogus":1}`))
	req.RemoteAddr = "127.0.0.1:1"
	rec = httptest.NewRecorder()
	sb.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "bogus") {
		t.Fatalf("unknown field: HTTP %d %s", rec.Code, rec.Body)
	}
	req = httptest.NewRequest(http.MethodPut, "/miva/_sandbox/faults", strings.NewReader(
		`{"endpoint":"capture","late_next":2,"late_ms":100,"late_per_mille":1,"hang_per_mille":2,"drop_per_mille":3}`))
	req.RemoteAddr = "127.0.0.1:1"
	rec = httptest.NewRecorder()
	sb.Handler().ServeHTTP(rec, req)
	want := Faults{LateNext: 2, LateMS: 100, LatePerMille: 1, HangPerMille: 2, DropPerMille: 3}
	if rec.Code != http.StatusOK || sb.Faults().Capture != want {
		t.Fatalf("late knobs: HTTP %d %s; %+v", rec.Code, rec.Body, sb.Faults().Capture)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []Config{
		{SigningKey: "not base64!"},
		{APIToken: "has space"},
		{Currency: "usd"},
		{Prefix: "/a b"},
		{EndpointPath: "/_sandbox/x"},
		{TimestampWindow: -time.Second},
	} {
		if err := c.Validate(); err == nil {
			t.Fatalf("accepted %+v", c)
		} else if c.SigningKey != "" && strings.Contains(err.Error(), c.SigningKey) {
			t.Fatalf("error echoes the signing key: %v", err)
		}
	}
	c := Config{Prefix: "miva/"}.WithDefaults()
	if c.Prefix != "/miva" || c.EndpointPath != DefaultEndpointPath || c.StoreCode != "beta" || c.Currency != "USD" {
		t.Fatalf("defaults: %+v", c)
	}
}
