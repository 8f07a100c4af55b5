package paysafe

import (
	"context"
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
	ac, err := NewAdminClient(srv.URL+"/paysafe", srv.Client())
	if err != nil {
		t.Fatal(err)
	}

	st, err := ac.Authorize(ctx, Authorization{AccountID: testAcct, ID: "A1", Amount: 3000, Currency: "JPY"})
	if err != nil || st.AvailableToSettle != 3000 || st.Status != StatusCompleted || st.ID != "A1" {
		t.Fatalf("Authorize = %+v, %v", st, err)
	}
	if _, err := ac.Authorize(ctx, Authorization{AccountID: testAcct, Amount: 1, Currency: "XXY"}); err == nil || !strings.Contains(err.Error(), "HTTP 400") {
		t.Fatalf("invalid authorization: %v", err)
	}
	fs, err := ac.SetFaults(ctx, EndpointLookup, Faults{FailNext: 2, FailCode: CodeInProgress})
	if err != nil || fs[EndpointLookup].FailNext != 2 || fs[EndpointSettle].FailNext != 0 {
		t.Fatalf("SetFaults = %+v, %v", fs, err)
	}
	if _, err := ac.SetFaults(ctx, "nowhere", Faults{}); err == nil {
		t.Fatal("unknown endpoint accepted")
	}

	s1 := settle(t, srv, "A1", "adm-1", amt(1000))
	s2 := settle(t, srv, "A1", "adm-2", amt(500))
	if e, err := ac.Cancel(ctx, testAcct, KindSettlement, s2.ID); err != nil || e.Status != StatusCancelled {
		t.Fatalf("Cancel = %+v, %v", e, err)
	}
	if _, err := ac.Cancel(ctx, testAcct, KindSettlement, s2.ID); err == nil || !strings.Contains(err.Error(), CodeCannotCancel) {
		t.Fatalf("second cancel: %v", err)
	}
	if res, err := ac.RunBatch(ctx); err != nil || res.Completed != 1 {
		t.Fatalf("RunBatch = %+v, %v", res, err)
	}
	es, err := ac.WaitLedger(ctx, LedgerFilter{MerchantRefNum: "adm-1"}, func(es []Entry) bool {
		return len(es) == 1 && es[0].Status == StatusCompleted
	})
	if err != nil {
		t.Fatal(err)
	}
	e := es[0]
	if e.ID != s1.ID || e.Kind != KindSettlement || e.Amount != 1000 || e.Currency != "JPY" || e.AuthorizationID != "A1" ||
		e.AccountID != testAcct || e.AvailableToRefund != 1000 || len(e.History) != 2 || e.Seq != 1 {
		t.Fatalf("entry = %+v", e)
	}
	if es, err := ac.Ledger(ctx, LedgerFilter{Kind: KindSettlement, AuthorizationID: "A1"}); err != nil || len(es) != 2 {
		t.Fatalf("Ledger = %+v, %v", es, err)
	}
	auths, err := ac.Authorizations(ctx)
	if err != nil || len(auths) != 1 || auths[0].AvailableToSettle != 2000 || auths[0].Settlements != 2 {
		t.Fatalf("Authorizations = %+v, %v", auths, err)
	}
	calls, err := ac.Calls(ctx)
	if err != nil || calls.Settle.Processed != 2 {
		t.Fatalf("Calls = %+v, %v", calls, err)
	}
	if err := ac.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if all, _ := ac.Ledger(ctx, LedgerFilter{}); len(all) != 0 {
		t.Fatalf("ledger after reset: %d", len(all))
	}
	if f, _ := ac.Faults(ctx); f[EndpointLookup].FailNext != 0 {
		t.Fatalf("faults after reset: %+v", f)
	}
	if c := sb.Calls(); c.Settle.Total != 0 {
		t.Fatalf("calls after reset: %+v", c)
	}
	if _, err := NewAdminClient("ftp://x", nil); err == nil {
		t.Fatal("ftp base URL accepted")
	}
}

func TestAdminLoopbackOnly(t *testing.T) {
	sb, _ := newTestSandbox(t, Config{})
	req := httptest.NewRequest(http.MethodGet, "/paysafe/_sandbox/ledger", nil)
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
	req = httptest.NewRequest(http.MethodPut, "/paysafe/_sandbox/faults", strings.NewReader(`{"endpoint":"all","bogus":1}`))
	req.RemoteAddr = "127.0.0.1:1"
	rec = httptest.NewRecorder()
	sb.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "bogus") {
		t.Fatalf("unknown field: HTTP %d %s", rec.Code, rec.Body)
	}
	req = httptest.NewRequest(http.MethodPut, "/paysafe/_sandbox/faults", strings.NewReader(
		`{"endpoint":"settle","late_next":2,"late_ms":100,"late_per_mille":1,"hang_per_mille":2,"drop_per_mille":3}`))
	req.RemoteAddr = "127.0.0.1:1"
	rec = httptest.NewRecorder()
	sb.Handler().ServeHTTP(rec, req)
	want := Faults{LateNext: 2, LateMS: 100, LatePerMille: 1, HangPerMille: 2, DropPerMille: 3}
	if rec.Code != http.StatusOK || sb.Faults()[EndpointSettle] != want {
		t.Fatalf("late knobs: HTTP %d %s; %+v", rec.Code, rec.Body, sb.Faults()[EndpointSettle])
	}
}
