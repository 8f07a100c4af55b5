package paysafe

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestSettlementResponseShape checks the reply against seed 001's example.
func TestSettlementResponseShape(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	authID := authorize(t, sb, Authorization{Amount: 10098})
	r := call(t, srv, http.MethodPost, acctPath("/auths/"+authID+"/settlements"), map[string]string{"merchantRefNum": "settlementonlydemo-1"})
	if r.status != http.StatusOK {
		t.Fatalf("HTTP %d: %s", r.status, r.body)
	}
	var raw map[string]json.RawMessage
	mustJSON(t, r.body, &raw)
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if got := strings.Join(keys, ","); got != "amount,availableToRefund,id,links,merchantRefNum,status,txnTime" {
		t.Fatalf("keys = %s", got)
	}
	var s Settlement
	mustJSON(t, r.body, &s)
	// No amount: the whole remaining authorization is settled (seed 001).
	if s.Status != StatusPending || s.Amount != 10098 || s.AvailableToRefund != 10098 || s.MerchantRefNum != "settlementonlydemo-1" || len(s.ID) != 36 {
		t.Fatalf("settlement = %+v", s)
	}
	if tt, err := time.Parse(time.RFC3339, s.TxnTime); err != nil || !strings.HasSuffix(s.TxnTime, "Z") || time.Since(tt) > time.Minute {
		t.Fatalf("txnTime %q: %v", s.TxnTime, err)
	}
	if len(s.Links) != 1 || s.Links[0].Rel != "self" || s.Links[0].Href != srv.URL+acctPath("/settlements/"+s.ID) {
		t.Fatalf("links = %+v", s.Links)
	}
	got := call(t, srv, http.MethodGet, acctPath("/settlements/"+s.ID), nil)
	var again Settlement
	mustJSON(t, got.body, &again)
	if got.status != http.StatusOK || again.ID != s.ID || again.Status != StatusPending {
		t.Fatalf("GET: HTTP %d %+v", got.status, again)
	}
	a := call(t, srv, http.MethodGet, acctPath("/auths/"+authID), nil)
	var ar AuthorizationReply
	mustJSON(t, a.body, &ar)
	if ar.Status != StatusCompleted || ar.Amount != 10098 || ar.AvailableToSettle != 0 || ar.CurrencyCode != "USD" || ar.ID != authID {
		t.Fatalf("authorization = %+v", ar)
	}
	if m := call(t, srv, http.MethodGet, "/paysafe/cardpayments/monitor", nil); m.status != http.StatusOK || !strings.Contains(string(m.body), "READY") {
		t.Fatalf("monitor: %d %s", m.status, m.body)
	}
}

// TestSettlementRules runs one settlement rule after the other against the
// same sandbox.
func TestSettlementRules(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{MaxSettlements: 2})
	ok := authorize(t, sb, Authorization{ID: "auth-ok", Amount: 5000})
	cancelled := authorize(t, sb, Authorization{ID: "auth-cancelled", Amount: 5000, Status: StatusCancelled})
	expired := authorize(t, sb, Authorization{ID: "auth-expired", Amount: 5000, Expired: true})
	small := authorize(t, sb, Authorization{ID: "auth-small", Amount: 300})
	settlePath := func(id string) string { return acctPath("/auths/" + id + "/settlements") }
	req := func(ref string, amount int64) SettlementRequest {
		return SettlementRequest{MerchantRefNum: ref, Amount: amt(amount)}
	}
	no := false

	steps := []struct {
		name   string
		path   string
		body   any
		creds  []string
		status int
		code   string
	}{
		{"partial settlement", settlePath(ok), req("r1", 2000), nil, 200, ""},
		{"beyond the remaining authorization", settlePath(ok), req("r2", 3001), nil, 400, CodeAmountExceeds},
		{"the remainder exactly", settlePath(ok), req("r2", 3000), nil, 200, ""},
		{"fully settled", settlePath(ok), req("r3", 1), nil, 400, CodeAlreadySettled},
		{"cancelled authorization", settlePath(cancelled), req("c1", 1), nil, 400, CodeAlreadySettled},
		{"expired authorization", settlePath(expired), req("e1", 1), nil, 400, CodeAuthExpired},
		{"duplicate merchantRefNum", settlePath(small), req("r1", 100), nil, 409, CodeDuplicate},
		{"duplicate allowed without dupCheck", settlePath(small), SettlementRequest{MerchantRefNum: "r1", Amount: amt(100), DupCheck: &no}, nil, 200, ""},
		{"second settlement of small", settlePath(small), req("s2", 100), nil, 200, ""},
		{"max settlements", settlePath(small), req("s3", 100), nil, 400, CodeMaxSettlements},
		{"unknown authorization", settlePath("nope"), req("u1", 1), nil, 404, CodeUnknownID},
		{"unknown account", "/paysafe" + APIPath + "/accounts/1/auths/" + ok + "/settlements", req("u2", 1), nil, 404, CodeUnknownID},
		{"missing merchantRefNum", settlePath(small), map[string]int{"amount": 5}, nil, 400, CodeFieldErrors},
		{"zero amount", settlePath(small), req("z1", 0), nil, 400, CodeFieldErrors},
		{"fractional amount", settlePath(small), map[string]any{"merchantRefNum": "f1", "amount": 10.5}, nil, 400, CodeFieldErrors},
		{"unknown field", settlePath(small), map[string]any{"merchantRefNum": "f2", "currency": "USD"}, nil, 400, CodeNotParseable},
		{"no credentials", settlePath(small), req("a1", 1), []string{"", ""}, 401, CodeInvalidCredentials},
		{"wrong password", settlePath(small), req("a2", 1), []string{testUser, "wrong"}, 401, CodeInvalidCredentials},
	}
	for _, st := range steps {
		user, pass := testUser, testPass
		if st.creds != nil {
			user, pass = st.creds[0], st.creds[1]
		}
		r := callAs(t, srv, http.MethodPost, st.path, st.body, user, pass)
		if st.code == "" {
			if r.status != st.status {
				t.Fatalf("%s: HTTP %d: %s", st.name, r.status, r.body)
			}
			continue
		}
		e := mustError(t, r, st.status, st.code)
		if st.code == CodeDuplicate && (len(e.Links) != 1 || e.Links[0].Rel != "existing_entity" || !strings.Contains(e.Links[0].Href, "/settlements/")) {
			t.Fatalf("%s: duplicate links = %+v", st.name, e.Links)
		}
	}
	if st, _ := sb.AuthorizationState(testAcct, ok); st.AvailableToSettle != 0 || st.Settlements != 2 {
		t.Fatalf("auth-ok = %+v", st)
	}
	if st, _ := sb.AuthorizationState(testAcct, small); st.AvailableToSettle != 100 || st.Settlements != 2 {
		t.Fatalf("auth-small = %+v", st)
	}
	if n := len(sb.Ledger()); n != 4 {
		t.Fatalf("%d ledger entries, want 4", n)
	}
	c := sb.Calls().Settle
	if c.Total != len(steps) || c.Processed != 4 || c.Unauthorized != 2 || c.NotFound != 2 || c.BadRequest != 4 || c.Refused != 6 {
		t.Fatalf("calls = %+v", c)
	}
}

func TestBatchAndCancel(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	good := authorize(t, sb, Authorization{Amount: 9000})
	bad := authorize(t, sb, Authorization{Amount: 9000, BatchOutcome: StatusFailed, FailureMessage: "Issuer unavailable"})
	s1 := settle(t, srv, good, "b1", amt(1000))
	s2 := settle(t, srv, good, "b2", amt(2000))
	s3 := settle(t, srv, bad, "b3", amt(4000))

	r := call(t, srv, http.MethodPut, acctPath("/settlements/"+s2.ID), StatusUpdate{Status: StatusCancelled})
	var c Settlement
	mustJSON(t, r.body, &c)
	if r.status != http.StatusOK || c.Status != StatusCancelled || c.AvailableToRefund != 0 {
		t.Fatalf("cancel: HTTP %d %+v", r.status, c)
	}
	if st, _ := sb.AuthorizationState(testAcct, good); st.AvailableToSettle != 8000 {
		t.Fatalf("available after cancel = %d, want 8000", st.AvailableToSettle)
	}
	mustError(t, call(t, srv, http.MethodPut, acctPath("/settlements/"+s2.ID), StatusUpdate{Status: StatusCancelled}), 409, CodeCannotCancel)
	mustError(t, call(t, srv, http.MethodPut, acctPath("/settlements/"+s1.ID), StatusUpdate{Status: StatusCompleted}), 400, CodeFieldErrors)

	if res := sb.RunBatch(); res.Completed != 1 || res.Failed != 1 {
		t.Fatalf("batch = %+v", res)
	}
	if res := sb.RunBatch(); res.Completed+res.Failed != 0 {
		t.Fatalf("second batch = %+v", res)
	}
	for _, tc := range []struct {
		id, status string
		refundable int64
	}{{s1.ID, StatusCompleted, 1000}, {s2.ID, StatusCancelled, 0}, {s3.ID, StatusFailed, 0}} {
		var s Settlement
		mustJSON(t, call(t, srv, http.MethodGet, acctPath("/settlements/"+tc.id), nil).body, &s)
		if s.Status != tc.status || s.AvailableToRefund != tc.refundable {
			t.Fatalf("%s: %+v, want %s", tc.id, s, tc.status)
		}
		if tc.status == StatusFailed && (s.Error == nil || s.Error.Message != "Issuer unavailable" || s.Error.Code != CodeDeclined) {
			t.Fatalf("failed settlement error = %+v", s.Error)
		}
	}
	if st, _ := sb.AuthorizationState(testAcct, bad); st.AvailableToSettle != 9000 {
		t.Fatalf("a FAILED settlement must give the authorization back: %+v", st)
	}
	mustError(t, call(t, srv, http.MethodPut, acctPath("/settlements/"+s1.ID), StatusUpdate{Status: StatusCancelled}), 409, CodeCannotCancel)
	e := sb.LedgerFiltered(LedgerFilter{MerchantRefNum: "b1"})
	if len(e) != 1 || len(e[0].History) != 2 || e[0].History[1].Status != StatusCompleted {
		t.Fatalf("ledger b1 = %+v", e)
	}
}

func TestRefunds(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	authID := authorize(t, sb, Authorization{Amount: 5000})
	failing := authorize(t, sb, Authorization{Amount: 5000, RefundOutcome: StatusFailed})
	s := settle(t, srv, authID, "s1", nil)
	sf := settle(t, srv, failing, "s2", nil)
	refundPath := func(id string) string { return acctPath("/settlements/" + id + "/refunds") }

	mustError(t, call(t, srv, http.MethodPost, refundPath(s.ID), SettlementRequest{MerchantRefNum: "f0", Amount: amt(1)}), 400, CodeRefundNotBatched)
	sb.RunBatch()
	f1 := refund(t, srv, s.ID, "f1", amt(3000))
	if f1.Status != StatusPending || f1.Amount != 3000 {
		t.Fatalf("refund = %+v", f1)
	}
	mustError(t, call(t, srv, http.MethodPost, refundPath(s.ID), SettlementRequest{MerchantRefNum: "f2", Amount: amt(2001)}), 400, CodeRefundExceeds)
	mustError(t, call(t, srv, http.MethodPost, refundPath(s.ID), SettlementRequest{MerchantRefNum: "f1", Amount: amt(1)}), 409, CodeDuplicate)
	mustError(t, call(t, srv, http.MethodPost, refundPath("nope"), SettlementRequest{MerchantRefNum: "f3", Amount: amt(1)}), 404, CodeUnknownID)
	f4 := refund(t, srv, s.ID, "f4", amt(500))
	if e, err := sb.CancelRefund(testAcct, f4.ID); err != nil || e.Status != StatusCancelled {
		t.Fatalf("cancel refund: %+v %v", e, err)
	}
	var got Settlement
	mustJSON(t, call(t, srv, http.MethodGet, acctPath("/settlements/"+s.ID), nil).body, &got)
	if got.AvailableToRefund != 2000 {
		t.Fatalf("availableToRefund = %d, want 2000 (5000 - 3000, the cancelled 500 given back)", got.AvailableToRefund)
	}
	ff := refund(t, srv, sf.ID, "f5", amt(100))
	if res := sb.RunBatch(); res.Completed != 1 || res.Failed != 1 {
		t.Fatalf("batch = %+v", res)
	}
	var r1, r5 Refund
	mustJSON(t, call(t, srv, http.MethodGet, acctPath("/refunds/"+f1.ID), nil).body, &r1)
	mustJSON(t, call(t, srv, http.MethodGet, acctPath("/refunds/"+ff.ID), nil).body, &r5)
	if r1.Status != StatusCompleted || r5.Status != StatusFailed || r5.Error == nil {
		t.Fatalf("refunds after batch: %+v %+v", r1, r5)
	}
	mustJSON(t, call(t, srv, http.MethodGet, acctPath("/settlements/"+sf.ID), nil).body, &got)
	if got.AvailableToRefund != 5000 {
		t.Fatalf("a FAILED refund must give the settlement back: %+v", got)
	}
	// A refund of the whole remainder, then nothing is left.
	refund(t, srv, s.ID, "f6", nil)
	mustError(t, call(t, srv, http.MethodPost, refundPath(s.ID), SettlementRequest{MerchantRefNum: "f7"}), 400, CodeRefundExceeds)
	// A cancelled settlement cannot be refunded.
	s3 := settle(t, srv, authorize(t, sb, Authorization{Amount: 100}), "s3", nil)
	if _, err := sb.CancelSettlement(testAcct, s3.ID); err != nil {
		t.Fatal(err)
	}
	mustError(t, call(t, srv, http.MethodPost, refundPath(s3.ID), SettlementRequest{MerchantRefNum: "f8"}), 400, CodeRefundNotRefundable)
}

func TestLookupByMerchantRefNum(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	authID := authorize(t, sb, Authorization{Amount: 5000})
	s := settle(t, srv, authID, "look-1", amt(1000))
	settle(t, srv, authID, "look-2", amt(1000))
	sb.RunBatch()
	refund(t, srv, s.ID, "look-1", amt(100)) // refunds have their own merchantRefNum space

	var sl SettlementList
	mustJSON(t, call(t, srv, http.MethodGet, acctPath("/settlements?merchantRefNum=look-1"), nil).body, &sl)
	if len(sl.Settlements) != 1 || sl.Settlements[0].ID != s.ID || sl.Settlements[0].Status != StatusCompleted {
		t.Fatalf("settlements = %+v", sl)
	}
	mustJSON(t, call(t, srv, http.MethodGet, acctPath("/settlements"), nil).body, &sl)
	if len(sl.Settlements) != 2 {
		t.Fatalf("all settlements = %d", len(sl.Settlements))
	}
	var rl RefundList
	mustJSON(t, call(t, srv, http.MethodGet, acctPath("/refunds?merchantRefNum=look-1"), nil).body, &rl)
	if len(rl.Refunds) != 1 || rl.Refunds[0].Amount != 100 {
		t.Fatalf("refunds = %+v", rl)
	}
	r := call(t, srv, http.MethodGet, acctPath("/settlements?merchantRefNum=none"), nil)
	if r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != "{\n  \"settlements\": []\n}" {
		t.Fatalf("empty lookup: %d %s", r.status, r.body)
	}
	mustError(t, call(t, srv, http.MethodGet, "/paysafe"+APIPath+"/accounts/42/settlements?merchantRefNum=x", nil), 404, CodeUnknownID)
	if c := sb.Calls().Lookup; c.Processed != 4 || c.NotFound != 1 {
		t.Fatalf("lookup calls = %+v", c)
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults Faults
		status int
		code   string
		text   string
		entry  bool
	}{
		{"another request in progress", Faults{FailNext: 1, FailCode: CodeInProgress}, 409, CodeInProgress, "in progress", false},
		{"plain 503", Faults{FailNext: 1}, 503, "", "injected", false},
		{"coded 500", Faults{FailNext: 1, FailStatus: 500, FailCode: "1000"}, 500, "1000", "injected", false},
		{"always failing", Faults{FailPerMille: 1000, FailStatus: 502}, 502, "", "injected", false},
		{"act then drop the reply", Faults{DropNext: 1}, 502, "", "dropped", true},
		{"latency only", Faults{LatencyMS: 30}, 200, "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sb, srv := newTestSandbox(t, Config{})
			authID := authorize(t, sb, Authorization{Amount: 5000})
			if err := sb.SetFaults(EndpointSettle, tc.faults); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			r := call(t, srv, http.MethodPost, acctPath("/auths/"+authID+"/settlements"), SettlementRequest{MerchantRefNum: "x1", Amount: amt(100)})
			if r.status != tc.status || r.code != tc.code || !strings.Contains(string(r.body), tc.text) {
				t.Fatalf("HTTP %d code %q: %s", r.status, r.code, r.body)
			}
			if tc.faults.LatencyMS > 0 && time.Since(start) < 30*time.Millisecond {
				t.Fatal("latency not applied")
			}
			es := sb.Ledger()
			if (len(es) == 1) != tc.entry {
				t.Fatalf("ledger = %+v", es)
			}
			if tc.faults.DropNext > 0 && !es[0].ReplyDropped {
				t.Fatal("dropped reply not recorded")
			}
			// Faults of one endpoint leave the others alone.
			if a := call(t, srv, http.MethodGet, acctPath("/auths/"+authID), nil); a.status != http.StatusOK {
				t.Fatalf("auth endpoint: HTTP %d", a.status)
			}
		})
	}

	t.Run("hang until the client gives up", func(t *testing.T) {
		sb, srv := newTestSandbox(t, Config{})
		authID := authorize(t, sb, Authorization{Amount: 5000})
		if err := sb.SetFaults(EndpointAll, Faults{HangNext: 1}); err != nil {
			t.Fatal(err)
		}
		hc := srv.Client()
		hc.Timeout = 200 * time.Millisecond
		req, _ := http.NewRequest(http.MethodGet, srv.URL+acctPath("/auths/"+authID), nil)
		req.SetBasicAuth(testUser, testPass)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("hung call answered HTTP %d", resp.StatusCode)
		}
		if c := sb.Calls().Auth; c.Hung != 1 {
			t.Fatalf("calls = %+v", c)
		}
		if f := sb.Faults(); f[EndpointAuth].HangNext != 0 || f[EndpointSettle].HangNext != 1 {
			t.Fatalf("faults = %+v", f)
		}
	})

	t.Run("late commit acts after the client gave up", func(t *testing.T) {
		sb, srv := newTestSandbox(t, Config{})
		authID := authorize(t, sb, Authorization{Amount: 5000})
		if err := sb.SetFaults(EndpointSettle, Faults{LateNext: 1, LateMS: 300}); err != nil {
			t.Fatal(err)
		}
		hc := srv.Client()
		hc.Timeout = 50 * time.Millisecond
		req, _ := http.NewRequest(http.MethodPost, srv.URL+acctPath("/auths/"+authID+"/settlements"),
			strings.NewReader(`{"merchantRefNum":"late-1","amount":100,"dupCheck":true}`))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(testUser, testPass)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("late commit answered in time: HTTP %d", resp.StatusCode)
		}
		if len(sb.Ledger()) != 0 {
			t.Fatal("committed before the late delay")
		}
		deadline := time.Now().Add(5 * time.Second)
		for len(sb.Ledger()) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the late commit never happened (did it depend on the cancelled request?)")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if es := sb.Ledger(); len(es) != 1 || es[0].MerchantRefNum != "late-1" || es[0].Amount != 100 {
			t.Fatalf("ledger %+v", es)
		}
		if c := sb.Calls().Settle; c.Late != 1 || c.Processed != 1 {
			t.Fatalf("counters %+v", c)
		}
		// A second settlement with the merchantRefNum is refused (5031).
		r := call(t, srv, http.MethodPost, acctPath("/auths/"+authID+"/settlements"), SettlementRequest{MerchantRefNum: "late-1", Amount: amt(100)})
		mustError(t, r, http.StatusConflict, CodeDuplicate)
	})

	t.Run("per-mille drop and late knobs", func(t *testing.T) {
		for _, tc := range []struct {
			f      Faults
			status int
			check  func(c EndpointCalls) bool
		}{
			{Faults{DropPerMille: 1000}, http.StatusBadGateway, func(c EndpointCalls) bool { return c.Dropped == 1 && c.Processed == 1 }},
			{Faults{LatePerMille: 1000, LateMS: 10}, http.StatusOK, func(c EndpointCalls) bool { return c.Late == 1 && c.Processed == 1 }},
		} {
			sb, srv := newTestSandbox(t, Config{})
			authID := authorize(t, sb, Authorization{Amount: 5000})
			if err := sb.SetFaults(EndpointSettle, tc.f); err != nil {
				t.Fatal(err)
			}
			if r := call(t, srv, http.MethodPost, acctPath("/auths/"+authID+"/settlements"), SettlementRequest{MerchantRefNum: "pm", Amount: amt(100)}); r.status != tc.status {
				t.Fatalf("%+v: HTTP %d %s", tc.f, r.status, r.body)
			}
			if c := sb.Calls().Settle; !tc.check(c) {
				t.Fatalf("%+v: counters %+v", tc.f, c)
			}
		}
	})

	t.Run("invalid knobs", func(t *testing.T) {
		sb, _ := newTestSandbox(t, Config{})
		for _, f := range []Faults{{FailNext: -1}, {FailStatus: 302}, {FailCode: "abc"}, {FailPerMille: 1001},
			{LateNext: -1}, {LateMS: -1}, {LatePerMille: 500, DropPerMille: 501}, {HangPerMille: -1}} {
			if err := sb.SetFaults(EndpointSettle, f); err == nil {
				t.Errorf("%+v accepted", f)
			}
		}
		if err := sb.SetFaults("nowhere", Faults{}); err == nil {
			t.Error("unknown endpoint accepted")
		}
	})
}

func TestConcurrentSettlementsNeverOverSettle(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{MaxSettlements: 100})
	authID := authorize(t, sb, Authorization{Amount: 10000})
	done := make(chan result, 20)
	for i := range 20 {
		go func() {
			r, _ := tryCall(srv, http.MethodPost, acctPath("/auths/"+authID+"/settlements"),
				SettlementRequest{MerchantRefNum: "c-" + string(rune('a'+i)), Amount: amt(1500)})
			done <- r
		}()
	}
	ok, refused := 0, 0
	for range 20 {
		switch r := <-done; {
		case r.status == http.StatusOK:
			ok++
		case r.code == CodeAmountExceeds:
			refused++
		default:
			t.Fatalf("HTTP %d %s", r.status, r.body)
		}
	}
	st, _ := sb.AuthorizationState(testAcct, authID)
	if ok != 6 || refused != 14 || st.AvailableToSettle != 1000 {
		t.Fatalf("ok %d refused %d available %d", ok, refused, st.AvailableToSettle)
	}
}

func TestBatchClockAndInitialStatus(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{BatchInterval: 20 * time.Millisecond})
	authID := authorize(t, sb, Authorization{Amount: 100})
	s := settle(t, srv, authID, "clock-1", nil)
	deadline := time.Now().Add(3 * time.Second)
	for sb.LedgerFiltered(LedgerFilter{MerchantRefNum: "clock-1"})[0].Status != StatusCompleted {
		if time.Now().After(deadline) {
			t.Fatalf("settlement %s never batched", s.ID)
		}
		time.Sleep(10 * time.Millisecond)
	}

	sb2, srv2 := newTestSandbox(t, Config{InitialStatus: StatusCompleted})
	s2 := settle(t, srv2, authorize(t, sb2, Authorization{Amount: 100}), "now-1", nil)
	if s2.Status != StatusCompleted {
		t.Fatalf("status %s, want COMPLETED", s2.Status)
	}
}

func TestConfig(t *testing.T) {
	for _, c := range []Config{
		{Prefix: "/a{b}"},
		{Username: "a:b"},
		{InitialStatus: StatusFailed},
		{MaxSettlements: -1},
	} {
		if _, err := NewSandbox(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	d := Config{Prefix: "paysafe/"}.WithDefaults()
	if d.Prefix != "/paysafe" || d.Username != DefaultUsername || d.Password != DefaultPassword || d.InitialStatus != StatusPending ||
		d.BatchInterval != DefaultBatchInterval || d.MaxSettlements != DefaultMaxSettlement {
		t.Fatalf("defaults = %+v", d)
	}
	for _, a := range []Authorization{
		{Amount: 1, Currency: "USD"},
		{AccountID: "1", Amount: 0, Currency: "USD"},
		{AccountID: "1", Amount: 1, Currency: "usd"},
		{AccountID: "1", Amount: 1, Currency: "USD", Status: "DONE"},
		{AccountID: "1", Amount: 1, Currency: "USD", BatchOutcome: "PENDING"},
	} {
		if err := a.Validate(); err == nil {
			t.Errorf("%+v accepted", a)
		}
	}
}

// TestStateBeforeDupCheck: with Config.StateBeforeDupCheck a repeated
// merchantRefNum is refused with the state its first settlement or refund
// left (3203, 3204, 3406) when that state refuses it, and with 5031 only
// when the state would accept it; nothing is created twice.
func TestStateBeforeDupCheck(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{StateBeforeDupCheck: true})
	whole := authorize(t, sb, Authorization{ID: "auth-whole", Amount: 1000})
	part := authorize(t, sb, Authorization{ID: "auth-part", Amount: 1000})
	roomy := authorize(t, sb, Authorization{ID: "auth-roomy", Amount: 1000})
	settlePath := func(id string) string { return acctPath("/auths/" + id + "/settlements") }
	body := func(ref string, n int64) SettlementRequest {
		return SettlementRequest{MerchantRefNum: ref, Amount: amt(n)}
	}

	first := settle(t, srv, whole, "w1", amt(1000))
	mustError(t, callAs(t, srv, http.MethodPost, settlePath(whole), body("w1", 1000), testUser, testPass), 400, CodeAlreadySettled)
	settle(t, srv, part, "p1", amt(600))
	mustError(t, callAs(t, srv, http.MethodPost, settlePath(part), body("p1", 600), testUser, testPass), 400, CodeAmountExceeds)
	settle(t, srv, roomy, "r1", amt(100))
	mustError(t, callAs(t, srv, http.MethodPost, settlePath(roomy), body("r1", 100), testUser, testPass), 409, CodeDuplicate)

	sb.RunBatch()
	refundPath := acctPath("/settlements/" + first.ID + "/refunds")
	if r := callAs(t, srv, http.MethodPost, refundPath, body("f1", 1000), testUser, testPass); r.status != 200 {
		t.Fatalf("refund: HTTP %d %s", r.status, r.body)
	}
	mustError(t, callAs(t, srv, http.MethodPost, refundPath, body("f1", 1000), testUser, testPass), 400, CodeRefundExceeds)
	if n := len(sb.Ledger()); n != 4 {
		t.Fatalf("%d ledger entries, want 4", n)
	}
}

// TestLookupPages: a lookup lists at most Config.LookupPageSize (or the
// call's limit) transactions from offset and links the next page with rel
// "next" while more follow; following the links reads every one.
func TestLookupPages(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{LookupPageSize: 2})
	authID := authorize(t, sb, Authorization{Amount: 5000})
	var want []string
	for _, ref := range []string{"p-1", "p-2", "p-3", "p-4", "p-5"} {
		want = append(want, settle(t, srv, authID, ref, amt(100)).ID)
	}
	var got []string
	path := acctPath("/settlements")
	for pages := 0; path != ""; pages++ {
		if pages > 3 {
			t.Fatalf("more than 3 pages for 5 settlements of 2 a page: %v", got)
		}
		var sl SettlementList
		mustJSON(t, call(t, srv, http.MethodGet, path, nil).body, &sl)
		if len(sl.Settlements) > 2 {
			t.Fatalf("a page of %d", len(sl.Settlements))
		}
		for _, s := range sl.Settlements {
			got = append(got, s.ID)
		}
		path = ""
		for _, l := range sl.Links {
			if l.Rel == "next" {
				path = strings.TrimPrefix(l.Href, srv.URL)
			}
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("pages listed %v, want %v", got, want)
	}
	var sl SettlementList
	mustJSON(t, call(t, srv, http.MethodGet, acctPath("/settlements?limit=10"), nil).body, &sl)
	if len(sl.Settlements) != 5 || len(sl.Links) != 0 {
		t.Fatalf("limit=10: %+v", sl)
	}
	mustJSON(t, call(t, srv, http.MethodGet, acctPath("/settlements?merchantRefNum=p-4&offset=1"), nil).body, &sl)
	if len(sl.Settlements) != 0 || len(sl.Links) != 0 {
		t.Fatalf("offset past the end: %+v", sl)
	}
	mustError(t, call(t, srv, http.MethodGet, acctPath("/settlements?limit=x"), nil), 400, CodeFieldErrors)
}
