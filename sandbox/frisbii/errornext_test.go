package frisbii

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestErrorNext: error_next answers Frisbii's error_code (default 8 "Not
// found", 404) without acting, then the endpoint answers as before; an
// unknown code is refused.
func TestErrorNext(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{RandSeed: 7})
	seed(t, sb, ChargeSeed{Handle: "o-1", Amount: 10000})
	if err := sb.SetFaults(EndpointSettle, Faults{ErrorNext: 1}); err != nil {
		t.Fatal(err)
	}
	mustError(t, settle(t, srv, "o-1", keyed("e1", 1000)), http.StatusNotFound, CodeNotFound)
	if len(sb.Ledger()) != 0 {
		t.Fatal("an error_next answer moved money")
	}
	mustCharge(t, settle(t, srv, "o-1", keyed("e1", 1000)))
	if err := sb.SetFaults(EndpointCharge, Faults{ErrorNext: 1, ErrorCode: CodeInvalidRequest}); err != nil {
		t.Fatal(err)
	}
	mustError(t, call(t, srv, http.MethodGet, "/frisbii/v1/charge/o-1", testKey, nil), http.StatusBadRequest, CodeInvalidRequest)
	mustCharge(t, call(t, srv, http.MethodGet, "/frisbii/v1/charge/o-1", testKey, nil))
	if err := sb.SetFaults(EndpointCharge, Faults{ErrorNext: 1, ErrorCode: 9999}); err == nil {
		t.Fatal("error_code 9999 accepted")
	}
	for code, status := range map[int]int{CodeUnauthorized: http.StatusForbidden, CodeRefundFailed: http.StatusBadRequest,
		CodeRateLimit: http.StatusTooManyRequests, CodeConcurrencyLimit: http.StatusTooManyRequests} {
		if err := sb.SetFaults(EndpointCharge, Faults{ErrorNext: 1, ErrorCode: code}); err != nil {
			t.Fatal(err)
		}
		mustError(t, call(t, srv, http.MethodGet, "/frisbii/v1/charge/o-1", testKey, nil), status, code)
	}
}

// TestGarbleNext: garble_next answers HTTP 200 with a truncated JSON body
// without acting, then the endpoint answers as before.
func TestGarbleNext(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{RandSeed: 7})
	seed(t, sb, ChargeSeed{Handle: "o-1", Amount: 10000})
	if err := sb.SetFaults(EndpointSettle, Faults{GarbleNext: 1}); err != nil {
		t.Fatal(err)
	}
	resp := settle(t, srv, "o-1", keyed("g1", 1000))
	if resp.status != http.StatusOK || json.Valid(resp.body) {
		t.Fatalf("garbled answer %d %s", resp.status, resp.body)
	}
	if len(sb.Ledger()) != 0 {
		t.Fatal("a garble_next answer moved money")
	}
	mustCharge(t, settle(t, srv, "o-1", keyed("g1", 1000)))
	if err := sb.SetFaults(EndpointSettle, Faults{GarbleNext: -1}); err == nil {
		t.Fatal("garble_next -1 accepted")
	}
}
