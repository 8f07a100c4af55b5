package radial

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
)

func TestConfirmFunds(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	if _, err := sb.Authorize(Authorization{StoreID: testStore, OrderID: "O-AUTH", Amount: "100.00", Currency: "USD"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Authorize(Authorization{StoreID: testStore, OrderID: "O-TIMEOUT", Amount: "100.00", Currency: "USD", FundsOutcome: messages.FundsTimeout}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, id, order, amount, want string
	}{
		{"within authorization", "c1", "O-AUTH", "100.00", messages.FundsSuccess},
		{"beyond authorization", "c2", "O-AUTH", "100.01", messages.FundsFail},
		{"unknown order auto-authorized", "c3", "O-NEW", "42.00", messages.FundsSuccess},
		{"scripted timeout", "c4", "O-TIMEOUT", "10.00", messages.FundsTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, srv, confirmPath("VC"), encode(t, confirmReq(tc.id, tc.order, tc.amount)), nil)
			if status != http.StatusOK {
				t.Fatalf("HTTP %d: %s", status, body)
			}
			rep, err := messages.DecodeConfirmFundsReply(body)
			if err != nil {
				t.Fatal(err)
			}
			if rep.FundsAvailable != tc.want {
				t.Fatalf("FundsAvailable %q, want %q", rep.FundsAvailable, tc.want)
			}
			if rep.PaymentContext == nil || rep.PaymentContext.OrderID != tc.order || rep.ReauthorizationAttempted != "true" {
				t.Fatalf("reply does not echo the context / reauthorization: %s", body)
			}
		})
	}
	if st, ok := sb.AuthorizationState(testStore, "O-NEW"); !ok || !st.Auto || st.Amount != "42.00" {
		t.Fatalf("auto authorization = %+v, %v", st, ok)
	}

	t.Run("dedup by requestId", func(t *testing.T) {
		// c2 failed; the same requestId answers the same even after the
		// authorization grew.
		if _, err := sb.Authorize(Authorization{StoreID: testStore, OrderID: "O-AUTH", Amount: "500.00", Currency: "USD"}); err != nil {
			t.Fatal(err)
		}
		_, body := post(t, srv, confirmPath("VC"), encode(t, confirmReq("c2", "O-AUTH", "100.01")), nil)
		if rep, _ := messages.DecodeConfirmFundsReply(body); rep == nil || rep.FundsAvailable != messages.FundsFail {
			t.Fatalf("dedup reply = %s", body)
		}
		status, body := post(t, srv, confirmPath("VC"), encode(t, confirmReq("c2", "O-AUTH", "1.00")), nil)
		if status != http.StatusBadRequest {
			t.Fatalf("reused requestId with other content: HTTP %d", status)
		}
		mustFault(t, body, FaultDuplicateRequestID)
		c := sb.Calls().Confirm
		if c.Processed != 4 || c.DedupHits != 1 || c.Conflicts != 1 || c.Total != 6 {
			t.Fatalf("calls = %+v", c)
		}
	})

	t.Run("auto authorize off", func(t *testing.T) {
		sb2, srv2 := newTestSandbox(t, Config{AutoAuthorize: Bool(false)})
		_, body := post(t, srv2, confirmPath("VC"), encode(t, confirmReq("x1", "O-NONE", "1.00")), nil)
		if rep, _ := messages.DecodeConfirmFundsReply(body); rep == nil || rep.FundsAvailable != messages.FundsFail {
			t.Fatalf("reply = %s", body)
		}
		if len(sb2.Authorizations()) != 0 {
			t.Fatal("an authorization was created with AutoAuthorize off")
		}
	})
}

func TestLedgerArithmetic(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	if _, err := sb.Authorize(Authorization{StoreID: testStore, OrderID: "O1", Amount: "100.00", Currency: "USD"}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		id, typ, amount, want, reason string
	}{
		{"d1", messages.SettlementDebit, "40.00", "S", ""},
		{"d2", messages.SettlementDebit, "50.10", "S", ""},
		{"d3", messages.SettlementDebit, "9.91", "R", ReasonInsufficientAuthorization},
		{"d4", messages.SettlementDebit, "9.90", "S", ""},
		{"r1", messages.SettlementCredit, "30.00", "S", ""},
		{"r2", messages.SettlementCredit, "70.01", "R", "Insufficient Capture balance for refund request amount"},
		{"r3", messages.SettlementCredit, "70.00", "S", ""},
	}
	for i, st := range steps {
		settle(t, srv, settlement(st.id, "O1", st.typ, st.amount))
		if e := entryByID(t, sb, st.id); e.State != StateAccepted || e.Amount != st.amount {
			t.Fatalf("%s right after the Ack: %+v", st.id, e)
		}
		// Decide one at a time so that the expected balance is exact.
		if _, err := sb.WaitStatuses(i+1, 2*time.Second); err != nil {
			t.Fatal(err)
		}
		e := entryByID(t, sb, st.id)
		if e.State != st.want || e.DeclineReason != st.reason {
			t.Fatalf("%s: state %s %q, want %s %q", st.id, e.State, e.DeclineReason, st.want, st.reason)
		}
	}
	a, _ := sb.AuthorizationState(testStore, "O1")
	if a.Captured != "100.00" || a.Refunded != "100.00" {
		t.Fatalf("captured %s refunded %s, want 100.00 and 100.00", a.Captured, a.Refunded)
	}
	recs := sb.Statuses()
	st, err := messages.DecodeSettlementStatus(recs[5].Body)
	if err != nil {
		t.Fatal(err)
	}
	if st.SettlementStatus != "R" || st.DeclineReason != ReasonInsufficientCapture || st.SettlementType != messages.SettlementCredit ||
		st.TenderType != "VC" || st.StoreID != testStore || st.ClientContext != "cc-r2" || st.Amount.Value != "70.01" {
		t.Fatalf("status of r2 = %+v", st)
	}
	if err := st.Validate(); err != nil {
		t.Fatalf("status does not validate: %v", err)
	}
}

func TestConcurrentDebitsNeverOvercapture(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	if _, err := sb.Authorize(Authorization{StoreID: testStore, OrderID: "O1", Amount: "100.00", Currency: "USD"}); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 10)
	for i := range 10 {
		body := encode(t, settlement("p"+string(rune('a'+i)), "O1", messages.SettlementDebit, "15.00"))
		go func() {
			status, _, _ := tryPost(srv, settlePath("VC"), body, nil)
			done <- status
		}()
	}
	for range 10 {
		if status := <-done; status != http.StatusOK {
			t.Fatalf("HTTP %d", status)
		}
	}
	if _, err := sb.WaitStatuses(10, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	settled := 0
	for _, e := range sb.Ledger() {
		if e.State == StateSettled {
			settled++
		}
	}
	a, _ := sb.AuthorizationState(testStore, "O1")
	if settled != 6 || a.Captured != "90.00" {
		t.Fatalf("%d settled, captured %s; want 6 and 90.00", settled, a.Captured)
	}
}

func TestSettleDedup(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	m := settlement("dup-1", "O2", messages.SettlementDebit, "10.00")
	settle(t, srv, m)
	settle(t, srv, m)
	if _, err := sb.WaitStatuses(1, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	settle(t, srv, m) // after the status too
	time.Sleep(100 * time.Millisecond)
	if n := len(sb.Ledger()); n != 1 {
		t.Fatalf("%d ledger entries, want 1", n)
	}
	if n := len(sb.Statuses()); n != 1 {
		t.Fatalf("%d statuses, want 1", n)
	}
	if e := entryByID(t, sb, "dup-1"); e.DuplicateHits != 2 || e.State != StateSettled {
		t.Fatalf("entry = %+v", e)
	}
	a, _ := sb.AuthorizationState(testStore, "O2")
	if a.Captured != "10.00" {
		t.Fatalf("captured %s, want 10.00", a.Captured)
	}
	other := settlement("dup-1", "O2", messages.SettlementDebit, "11.00")
	status, body := post(t, srv, settlePath("VC"), encode(t, other), nil)
	if status != http.StatusBadRequest {
		t.Fatalf("HTTP %d, want 400", status)
	}
	mustFault(t, body, FaultDuplicateRequestID)
	if c := sb.Calls().Settle; c.Processed != 1 || c.DedupHits != 2 || c.Conflicts != 1 {
		t.Fatalf("calls = %+v", c)
	}
}

func TestScriptedVerdictAndChargeback(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	if _, err := sb.Authorize(Authorization{StoreID: testStore, OrderID: "DECL", Amount: "50.00", Currency: "USD",
		SettleVerdict: "R", DeclineReason: "Card expired"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Authorize(Authorization{StoreID: testStore, OrderID: "CB", Amount: "50.00", Currency: "USD",
		LaterStatuses: []LaterStatus{{AfterMS: 50, Status: "R", DeclineReason: "Chargeback"}}}); err != nil {
		t.Fatal(err)
	}
	settle(t, srv, settlement("v1", "DECL", messages.SettlementDebit, "50.00"))
	settle(t, srv, settlement("v2", "CB", messages.SettlementDebit, "50.00"))
	recs, err := sb.WaitStatuses(3, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, r := range recs {
		got[r.RequestID] = append(got[r.RequestID], r.SettlementStatus+":"+r.DeclineReason)
	}
	if strings.Join(got["v1"], ",") != "R:Card expired" || strings.Join(got["v2"], ",") != "S:,R:Chargeback" {
		t.Fatalf("statuses = %v", got)
	}
	if e := entryByID(t, sb, "v2"); e.State != "R" || len(e.History) != 2 {
		t.Fatalf("v2 entry = %+v", e)
	}
	if a, _ := sb.AuthorizationState(testStore, "CB"); a.Captured != "0.00" {
		t.Fatalf("captured after the chargeback = %s, want 0.00", a.Captured)
	}
}

// TestRepeatStatus checks the repeat_status knob: the same status body
// again, each time under a new message_id, and no money moved twice.
func TestRepeatStatus(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	if _, err := sb.Authorize(Authorization{StoreID: testStore, OrderID: "REP", Amount: "50.00", Currency: "USD", RepeatStatus: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Authorize(Authorization{StoreID: testStore, OrderID: "BAD", Amount: "50.00", Currency: "USD", RepeatStatus: -1}); err == nil {
		t.Errorf("repeat_status -1 accepted")
	}
	settle(t, srv, settlement("rp1", "REP", messages.SettlementDebit, "20.00"))
	recs, err := sb.WaitStatuses(3, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, r := range recs {
		if r.RequestID != "rp1" || r.SettlementStatus != "S" || string(r.Body) != string(recs[0].Body) || ids[r.MessageID] {
			t.Errorf("status %+v: want rp1's S, body-identical, under a new message_id", r)
		}
		ids[r.MessageID] = true
	}
	if len(recs) != 3 {
		t.Errorf("%d statuses, want 3", len(recs))
	}
	if a, _ := sb.AuthorizationState(testStore, "REP"); a.Captured != "20.00" {
		t.Errorf("captured = %s, want 20.00", a.Captured)
	}
}

func TestHTTPErrors(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{MaxBodyBytes: 4096})
	valid := encode(t, settlement("h1", "O3", messages.SettlementDebit, "1.00"))
	invalid := settlement("h2", "O3", messages.SettlementDebit, "-1.00")
	invalid.InvoiceID = ""
	tests := []struct {
		name   string
		path   string
		body   []byte
		hdr    map[string]string
		status int
		code   string
		desc   string
	}{
		{"missing apikey", settlePath("VC"), valid, map[string]string{"apikey": ""}, 401, FaultInvalidAPIKey, "apikey"},
		{"wrong apikey", settlePath("VC"), valid, map[string]string{"apikey": "nope"}, 401, FaultInvalidAPIKey, "apikey"},
		{"tender type too long", settlePath("VISAX"), valid, nil, 400, FaultInvalidTenderType, "TenderType"},
		{"tender type too short", settlePath("V"), valid, nil, 400, FaultInvalidTenderType, "TenderType"},
		{"json format", "/radial/v1.0/stores/S/payments/settlement/create/VC.json", valid, nil, 400, FaultUnsupportedFormat, "json"},
		{"bad version", "/radial/1.0/stores/S/payments/settlement/create/VC.xml", valid, nil, 404, FaultMalformedRequest, "version"},
		{"wrong content type", settlePath("VC"), valid, map[string]string{"Content-Type": "application/json"}, 415, FaultUnsupportedMediaType, "Content-Type"},
		{"too large", settlePath("VC"), append(valid, make([]byte, 5000)...), nil, 413, FaultRequestTooLarge, "size"},
		{"malformed XML", settlePath("VC"), []byte("<PaymentSettlementRequest"), nil, 400, FaultMalformedRequest, "well-formed"},
		{"wrong root", settlePath("VC"), encode(t, confirmReq("h3", "O3", "1.00")), nil, 400, FaultMalformedRequest, "root element"},
		{"validation", settlePath("VC"), encode(t, invalid), nil, 400, FaultValidation, "InvoiceId"},
		{"confirm validation", confirmPath("VC"), encode(t, confirmReq("", "O3", "1.00")), nil, 400, FaultValidation, "requestId"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, srv, tc.path, tc.body, tc.hdr)
			if status != tc.status {
				t.Fatalf("HTTP %d, want %d: %s", status, tc.status, body)
			}
			f := mustFault(t, body, tc.code)
			if !strings.Contains(f.Description, tc.desc) {
				t.Fatalf("description %q does not mention %q", f.Description, tc.desc)
			}
		})
	}
	if n := len(sb.Ledger()); n != 0 {
		t.Fatalf("%d ledger entries after refused requests", n)
	}
	if c := sb.Calls().Settle; c.Unauthorized != 2 || c.Processed != 0 {
		t.Fatalf("calls = %+v", c)
	}
}

func TestFaultInjection(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{RandSeed: 7})
	body := func(id string) []byte { return encode(t, settlement(id, "O4", messages.SettlementDebit, "1.00")) }

	if err := sb.SetFaults(EndpointSettle, Faults{FailNext: 1, FailStatus: 502}); err != nil {
		t.Fatal(err)
	}
	if status, _ := post(t, srv, settlePath("VC"), body("f1"), nil); status != 502 {
		t.Fatalf("fail_next: HTTP %d", status)
	}
	if err := sb.SetFaults(EndpointAll, Faults{FaultNext: 1, FaultStatus: 200}); err != nil {
		t.Fatal(err)
	}
	status, rep := post(t, srv, settlePath("VC"), body("f1"), nil)
	if status != 200 {
		t.Fatalf("fault_next: HTTP %d", status)
	}
	mustFault(t, rep, FaultInjected)
	if err := sb.SetFaults(EndpointSettle, Faults{FailPerMille: 1000}); err != nil {
		t.Fatal(err)
	}
	if status, _ := post(t, srv, settlePath("VC"), body("f1"), nil); status != 503 {
		t.Fatalf("fail_per_mille: HTTP %d", status)
	}
	if len(sb.Ledger()) != 0 {
		t.Fatal("a failed call acted on the request")
	}

	// Process then drop: recorded, 502, and a retry is a dedup hit.
	if err := sb.SetFaults(EndpointSettle, Faults{DropNext: 1}); err != nil {
		t.Fatal(err)
	}
	if status, _ := post(t, srv, settlePath("VC"), body("f1"), nil); status != 502 {
		t.Fatalf("drop_next: HTTP %d", status)
	}
	if e := entryByID(t, sb, "f1"); !e.ReplyDropped {
		t.Fatalf("entry = %+v", e)
	}
	settle(t, srv, settlement("f1", "O4", messages.SettlementDebit, "1.00"))
	if _, err := sb.WaitStatuses(1, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	if len(sb.Ledger()) != 1 || len(sb.Statuses()) != 1 {
		t.Fatalf("ledger %d statuses %d, want 1 and 1", len(sb.Ledger()), len(sb.Statuses()))
	}

	// Hang until the client gives up; latency.
	if err := sb.SetFaults(EndpointSettle, Faults{HangNext: 1, LatencyMS: 30}); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 200 * time.Millisecond}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+settlePath("VC"), strings.NewReader(string(body("f2"))))
	req.Header.Set("Content-Type", "application/xml")
	req.Header.Set("apikey", testKey)
	start := time.Now()
	if resp, err := hc.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("hang: got HTTP %d", resp.StatusCode)
	}
	if d := time.Since(start); d < 190*time.Millisecond {
		t.Fatalf("hang returned after %s", d)
	}
	start = time.Now()
	settle(t, srv, settlement("f2", "O4", messages.SettlementDebit, "1.00"))
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("latency not applied (%s)", d)
	}
	c := sb.Calls().Settle
	want := EndpointCalls{Total: 7, Processed: 2, DedupHits: 1, Failed5xx: 2, Faulted: 1, Hung: 1, Dropped: 1}
	if c != want {
		t.Fatalf("calls = %+v, want %+v", c, want)
	}
	if f := sb.Faults().Settle; f.HangNext != 0 || f.LatencyMS != 30 {
		t.Fatalf("faults = %+v", f)
	}
	if err := sb.SetFaults("bogus", Faults{}); err == nil {
		t.Fatal("unknown endpoint accepted")
	}
	if err := sb.SetFaults(EndpointAll, Faults{FailPerMille: 1001}); err == nil {
		t.Fatal("fail_per_mille 1001 accepted")
	}
}

func TestHangReleasedByClose(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	if err := sb.SetFaults(EndpointConfirm, Faults{HangNext: 1}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	body := encode(t, confirmReq("h", "O", "1.00"))
	go func() {
		_, _, err := tryPost(srv, confirmPath("VC"), body, nil)
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a released hang answered; want the connection dropped")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not release the hanging call")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{StatusQueue: "q.other"},
		{StatusDelay: -time.Second},
		{StatusAMQPURL: "http://x"},
		{RetryMinBackoff: time.Second, RetryMaxBackoff: time.Millisecond},
	} {
		if _, err := NewSandbox(c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
	d := Config{Prefix: "radial/"}.WithDefaults()
	if d.Prefix != "/radial" || d.APIKey != DefaultAPIKey || !*d.AutoAuthorize || d.StatusDelay != DefaultStatusDelay || d.StatusQueue != DefaultStatusQueue {
		t.Fatalf("defaults = %+v", d)
	}
	if err := (Authorization{StoreID: "S", OrderID: "O", Amount: "1.00", Currency: "usd"}).Validate(); err == nil {
		t.Fatal("lower-case currency accepted")
	}
}
