package radial

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
)

func TestAdminAPI(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ac, err := NewAdminClient(srv.URL+"/radial", srv.Client())
	if err != nil {
		t.Fatal(err)
	}

	st, err := ac.Authorize(ctx, Authorization{StoreID: testStore, OrderID: "A1", Amount: "30.00", Currency: "USD",
		LaterStatuses: []LaterStatus{{AfterMS: 10, Status: "R", DeclineReason: "Chargeback"}}})
	if err != nil || st.Captured != "0.00" || len(st.LaterStatuses) != 1 {
		t.Fatalf("Authorize = %+v, %v", st, err)
	}
	if _, err := ac.Authorize(ctx, Authorization{StoreID: testStore, OrderID: "A2", Amount: "abc", Currency: "USD"}); err == nil ||
		!strings.Contains(err.Error(), "HTTP 400") {
		t.Fatalf("invalid authorization: %v", err)
	}
	fs, err := ac.SetFaults(ctx, EndpointConfirm, Faults{FailNext: 2})
	if err != nil || fs.Confirm.FailNext != 2 || fs.Settle.FailNext != 0 {
		t.Fatalf("SetFaults = %+v, %v", fs, err)
	}
	if _, err := ac.SetFaults(ctx, "nowhere", Faults{}); err == nil {
		t.Fatal("unknown endpoint accepted")
	}

	settle(t, srv, settlement("adm-1", "A1", messages.SettlementDebit, "30.00"))
	settle(t, srv, settlement("adm-2", "A9", messages.SettlementDebit, "3.00"))
	settle(t, srv, settlement("adm-1", "A1", messages.SettlementDebit, "30.00"))
	es, err := ac.WaitLedger(ctx, LedgerFilter{OrderID: "A1"}, func(es []Entry) bool {
		return len(es) == 1 && len(es[0].History) == 2
	})
	if err != nil {
		t.Fatalf("WaitLedger: %v (%+v)", err, es)
	}
	e := es[0]
	if e.RequestID != "adm-1" || e.State != "R" || e.DeclineReason != "Chargeback" || e.Amount != "30.00" || e.Currency != "USD" ||
		e.Type != "Debit" || e.TenderType != "VC" || e.StoreID != testStore || e.ClientContext != "cc-adm-1" || e.DuplicateHits != 1 ||
		e.DecidedAt == nil || e.Seq != 1 {
		t.Fatalf("entry = %+v", e)
	}
	if es, err := ac.Ledger(ctx, LedgerFilter{RequestID: "adm-2"}); err != nil || len(es) != 1 || es[0].OrderID != "A9" {
		t.Fatalf("Ledger(adm-2) = %+v, %v", es, err)
	}
	if all, err := ac.Ledger(ctx, LedgerFilter{}); err != nil || len(all) != 2 {
		t.Fatalf("Ledger() = %d, %v", len(all), err)
	}
	calls, err := ac.Calls(ctx)
	if err != nil || calls.Settle.Total != 3 || calls.Settle.Processed != 2 || calls.Settle.DedupHits != 1 {
		t.Fatalf("Calls = %+v, %v", calls, err)
	}
	recs, err := ac.Statuses(ctx)
	if err != nil || len(recs) < 2 || recs[0].MessageID == "" {
		t.Fatalf("Statuses = %+v, %v", recs, err)
	}
	auths, err := ac.Authorizations(ctx)
	if err != nil || len(auths) != 2 || !auths[1].Auto {
		t.Fatalf("Authorizations = %+v, %v", auths, err)
	}

	if err := ac.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if all, _ := ac.Ledger(ctx, LedgerFilter{}); len(all) != 0 {
		t.Fatalf("ledger after reset: %d", len(all))
	}
	if f, _ := ac.Faults(ctx); f.Confirm.FailNext != 0 {
		t.Fatalf("faults after reset: %+v", f)
	}
	if c := sb.Calls(); c.Settle.Total != 0 {
		t.Fatalf("calls after reset: %+v", c)
	}
}

func TestAdminLoopbackOnly(t *testing.T) {
	sb, _ := newTestSandbox(t, Config{})
	req := httptest.NewRequest(http.MethodGet, "/radial/_sandbox/ledger", nil)
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
	req = httptest.NewRequest(http.MethodPut, "/radial/_sandbox/faults", strings.NewReader(`{"endpoint":"all","bogus":1}`))
	req.RemoteAddr = "127.0.0.1:1"
	rec = httptest.NewRecorder()
	sb.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "bogus") {
		t.Fatalf("unknown field: HTTP %d %s", rec.Code, rec.Body)
	}
}
