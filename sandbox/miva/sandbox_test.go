package miva

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPaymentListIsTheSeedsExample(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	mustSeed(t, sb, seedExampleOrder)
	status, data, err := rawPost(srv, []byte(seedExampleRequest), nil)
	if err != nil || status != http.StatusOK {
		t.Fatalf("HTTP %d, %v", status, err)
	}
	sameJSON(t, data, []byte(seedExampleResponse))
	// Amounts are written as the seed writes them, never through a float.
	if !strings.Contains(string(data), `"amount":7.0,`) || !strings.Contains(string(data), `"available":1.0,`) {
		t.Fatalf("amounts not in Miva's form: %s", data)
	}

	status, r := call(t, srv, FunctionPaymentList, map[string]any{"Order_ID": 999})
	mustError(t, status, r, CodeOrderNotFound)
}

func TestCapture(t *testing.T) {
	tests := []struct {
		name      string
		seed      RecordSeed
		args      map[string]any
		code      string // "" for success
		newType   int
		amount    string
		available string // of the authorization afterwards
	}{
		{name: "partial", seed: RecordSeed{ID: 10, Type: TypeAuth, Amount: "100.00"}, args: map[string]any{"Amount": json.Number("40.25")},
			newType: TypeCapture, amount: "40.25", available: "59.75"},
		{name: "full", seed: RecordSeed{ID: 10, Type: TypeAuth, Amount: "100.00"}, args: map[string]any{"Amount": json.Number("100.00")},
			newType: TypeCapture, amount: "100.00", available: "0.00"},
		{name: "no amount captures what is available", seed: RecordSeed{ID: 10, Type: TypeAuth, Amount: "100.00", Available: "30.00"},
			newType: TypeCapture, amount: "30.00", available: "0.00"},
		{name: "legacy authorization makes a legacy capture", seed: RecordSeed{ID: 10, Type: TypeLegacyAuth, Amount: "7.00"},
			args: map[string]any{"Amount": json.Number("7.0")}, newType: TypeLegacyCapture, amount: "7.00", available: "0.00"},
		{name: "authorization + capture with something left", seed: RecordSeed{ID: 10, Type: TypeAuthCapture, Amount: "50.00", Available: "20.00"},
			args: map[string]any{"Amount": "20"}, newType: TypeCapture, amount: "20.00", available: "0.00"},
		{name: "beyond available", seed: RecordSeed{ID: 10, Type: TypeAuth, Amount: "100.00"}, args: map[string]any{"Amount": json.Number("100.01")},
			code: CodeAmountExceedsAvailable, available: "100.00"},
		{name: "declined by the gateway", seed: RecordSeed{ID: 10, Type: TypeAuth, Amount: "100.00", DeclineCapture: "This transaction has been declined"},
			args: map[string]any{"Amount": json.Number("1.00")}, code: CodePaymentDeclined, available: "100.00"},
		{name: "expired authorization", seed: RecordSeed{ID: 10, Type: TypeAuth, Amount: "100.00", Expires: 1000},
			args: map[string]any{"Amount": json.Number("1.00")}, code: CodeAuthorizationExpired, available: "100.00"},
		{name: "more decimals than USD", seed: RecordSeed{ID: 10, Type: TypeAuth, Amount: "100.00"}, args: map[string]any{"Amount": json.Number("1.005")},
			code: CodeInvalidParameter, available: "100.00"},
		{name: "negative amount", seed: RecordSeed{ID: 10, Type: TypeAuth, Amount: "100.00"}, args: map[string]any{"Amount": json.Number("-1")},
			code: CodeInvalidParameter, available: "100.00"},
		{name: "declined record cannot be captured", seed: RecordSeed{ID: 10, Type: TypeDeclined, Amount: "100.00"}, args: map[string]any{"Amount": json.Number("1")},
			code: CodeInvalidPaymentType, available: "0.00"},
		{name: "unknown record", seed: RecordSeed{ID: 10, Type: TypeAuth, Amount: "100.00"}, args: map[string]any{"OrderPayment_ID": 11, "Amount": json.Number("1")},
			code: CodePaymentNotFound, available: "100.00"},
		{name: "missing record id", seed: RecordSeed{ID: 10, Type: TypeAuth, Amount: "100.00"}, args: map[string]any{"OrderPayment_ID": nil},
			code: CodeMissingParameter, available: "100.00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sb, srv := newTestSandbox(t, Config{})
			mustSeed(t, sb, OrderSeed{OrderID: 500, Records: []RecordSeed{tc.seed}})
			args := map[string]any{"OrderPayment_ID": 10}
			for k, v := range tc.args {
				if v == nil {
					delete(args, k)
				} else {
					args[k] = v
				}
			}
			status, r := call(t, srv, FunctionCapture, args)
			st, _ := sb.Order(500)
			if got := st.Records[0].Available; got.StringFixed(2) != tc.available {
				t.Fatalf("available after: %s, want %s", got.StringFixed(2), tc.available)
			}
			if tc.code != "" {
				mustError(t, status, r, tc.code)
				if len(st.Records) != 1 || len(sb.Ledger()) != 0 {
					t.Fatalf("a refused capture moved money: %+v", st.Records)
				}
				return
			}
			mustOK(t, status, r)
			var tot OrderPaymentTotal
			if err := json.Unmarshal(r.Data, &tot); err != nil || tot.OrderID != 500 || tot.FormattedTotalCapt == "" {
				t.Fatalf("capture data: %s (%v)", r.Data, err)
			}
			if len(st.Records) != 2 {
				t.Fatalf("records: %+v", st.Records)
			}
			c := st.Records[1]
			if c.ID != 11 || c.Type != tc.newType || c.Amount.StringFixed(2) != tc.amount || c.ParentID != 10 || !c.Available.IsZero() {
				t.Fatalf("capture record: %+v", c)
			}
			es := sb.Ledger()
			if len(es) != 1 || es[0].Function != FunctionCapture || es[0].Amount != tc.amount || es[0].RecordID != 11 || es[0].PaymentID != 10 {
				t.Fatalf("ledger: %+v", es)
			}
		})
	}
}

func TestCaptureIsNotIdempotent(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	mustSeed(t, sb, OrderSeed{OrderID: 7, Records: []RecordSeed{{ID: 1, Type: TypeAuth, Amount: "10.00"}}})
	for range 2 {
		status, r := call(t, srv, FunctionCapture, map[string]any{"OrderPayment_ID": 1, "Amount": json.Number("4.00")})
		mustOK(t, status, r)
	}
	st, _ := sb.Order(7)
	if len(sb.Ledger()) != 2 || len(st.Records) != 3 || st.Records[0].Available.StringFixed(2) != "2.00" {
		t.Fatalf("two identical captures must both capture: %+v", st)
	}
	if st.Totals.TotalCapt.StringFixed(2) != "8.00" || st.Totals.FormattedNetCapt != "$8.00" {
		t.Fatalf("totals: %+v", st.Totals)
	}
}

func TestRefundAndVoid(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	mustSeed(t, sb, OrderSeed{OrderID: 9, Records: []RecordSeed{
		{ID: 1, Type: TypeAuth, Amount: "50.00", Refnum: "ref-1"},
		{ID: 2, Type: TypeAuthCapture, Amount: "30.00"},
		{ID: 3, Type: TypeAuth, Amount: "5.00", DeclineCapture: "x"},
	}})
	steps := []struct {
		function string
		id       int64
		amount   string
		code     string
	}{
		{FunctionCapture, 1, "20.00", ""},                         // record 4
		{FunctionRefund, 4, "15.00", ""},                          // record 5
		{FunctionRefund, 4, "5.01", CodeAmountExceedsRefundable},  // 5.00 left
		{FunctionRefund, 1, "1.00", CodeInvalidPaymentType},       // an authorization
		{FunctionRefund, 5, "1.00", CodeInvalidPaymentType},       // a refund
		{FunctionRefund, 2, "30.00", ""},                          // the sale: record 6
		{FunctionRefund, 2, "0.01", CodeAmountExceedsRefundable},  // nothing left
		{FunctionVoid, 1, "30.01", CodeAmountExceedsAvailable},    // 30.00 available
		{FunctionVoid, 1, "10.00", ""},                            // record 7
		{FunctionVoid, 4, "1.00", CodeInvalidPaymentType},         // a capture
		{FunctionCapture, 1, "20.01", CodeAmountExceedsAvailable}, // 20.00 left
		{FunctionVoid, 1, "", ""},                                 // the rest: record 8
	}
	for i, st := range steps {
		args := map[string]any{"OrderPayment_ID": st.id}
		if st.amount != "" {
			args["Amount"] = json.Number(st.amount)
		}
		status, r := call(t, srv, st.function, args)
		if st.code != "" {
			mustError(t, status, r, st.code)
			continue
		}
		if status != http.StatusOK || r.Success != 1 {
			t.Fatalf("step %d: HTTP %d %s", i, status, r.body)
		}
	}
	o, _ := sb.Order(9)
	types := []int{}
	for _, r := range o.Records {
		types = append(types, r.Type)
	}
	if len(types) != 8 || types[3] != TypeCapture || types[4] != TypeRefund || types[5] != TypeRefund || types[6] != TypeVoid || types[7] != TypeVoid {
		t.Fatalf("types: %v", types)
	}
	if o.Records[7].Amount.StringFixed(2) != "20.00" || !o.Records[0].Available.IsZero() {
		t.Fatalf("void of the rest: %+v", o.Records)
	}
	tot := o.Totals
	if tot.TotalAuth.StringFixed(2) != "85.00" || tot.TotalCapt.StringFixed(2) != "50.00" || tot.TotalRfnd.StringFixed(2) != "45.00" || tot.NetCapt.StringFixed(2) != "5.00" {
		t.Fatalf("totals: %+v", tot)
	}
	if n := len(sb.LedgerFiltered(LedgerFilter{Function: FunctionRefund})); n != 2 {
		t.Fatalf("%d refunds in the ledger", n)
	}
	if c := sb.Calls(); c.Refund.Declined != 2 || c.Refund.BadRequest != 2 || c.Refund.Processed != 2 || c.Void.Processed != 2 {
		t.Fatalf("calls: %+v", c)
	}
}

func TestCurrencies(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	mustSeed(t, sb, OrderSeed{OrderID: 1, Currency: "JPY", Records: []RecordSeed{{ID: 1, Type: TypeAuth, Amount: "1500"}}})
	mustSeed(t, sb, OrderSeed{OrderID: 2, Currency: "KWD", Records: []RecordSeed{{ID: 2, Type: TypeAuth, Amount: "1.250"}}})
	status, r := call(t, srv, FunctionCapture, map[string]any{"OrderPayment_ID": 1, "Amount": json.Number("700")})
	mustOK(t, status, r)
	status, r = call(t, srv, FunctionCapture, map[string]any{"OrderPayment_ID": 1, "Amount": json.Number("0.5")})
	mustError(t, status, r, CodeInvalidParameter)
	status, r = call(t, srv, FunctionCapture, map[string]any{"OrderPayment_ID": 2, "Amount": json.Number("0.125")})
	mustOK(t, status, r)

	_, r = call(t, srv, FunctionPaymentList, map[string]any{"Order_ID": 1})
	jp := listOf(t, r)
	if string(r.Data) == "" || jp[0].FormattedAvailable != "¥800" || jp[1].FormattedAmount != "¥700" || mivaNumber(jp[1].Amount.Decimal) != "700.0" {
		t.Fatalf("JPY list: %s", r.Data)
	}
	_, r = call(t, srv, FunctionPaymentList, map[string]any{"Order_ID": 2})
	kw := listOf(t, r)
	if kw[0].FormattedAvailable != "KWD 1.125" || kw[1].Amount.String() != "0.125" || !strings.Contains(string(r.Data), `"amount":0.125,`) {
		t.Fatalf("KWD list: %s", r.Data)
	}
	es := sb.Ledger()
	if es[0].Amount != "700" || es[0].Currency != "JPY" || es[1].Amount != "0.125" {
		t.Fatalf("ledger: %+v", es)
	}
}

func TestAuthentication(t *testing.T) {
	key := "c2lnbmluZy1rZXktZm9yLXRlc3Rz" // base64("signing-key-for-tests")
	body := []byte(`{"Store_code":"beta","Function":"OrderPaymentList_Load","Order_ID":200102}`)
	sig256, _ := Sign(AuthTypeHMACSHA256, key, body)
	sig1, _ := Sign(AuthTypeHMACSHA1, key, body)
	now := time.Unix(1_700_000_000, 0)
	withTS := func(ts int64) []byte {
		b, _ := json.Marshal(map[string]any{"Store_code": "beta", "Function": "OrderPaymentList_Load", "Order_ID": 200102, "Miva_Request_Timestamp": ts})
		return b
	}
	tests := []struct {
		name   string
		cfg    Config
		header string
		body   []byte
		code   string
	}{
		{"token", Config{}, "MIVA " + testToken, body, ""},
		{"missing header", Config{}, "", body, CodeAccessDenied},
		{"wrong token", Config{}, "MIVA not-the-token", body, CodeAccessDenied},
		{"signature without a signing key", Config{}, "MIVA-HMAC-SHA256 " + testToken + ":" + sig256, body, CodeInvalidSignature},
		{"HMAC-SHA256", Config{SigningKey: key}, "MIVA-HMAC-SHA256 " + testToken + ":" + sig256, body, ""},
		{"HMAC-SHA1", Config{SigningKey: key}, "MIVA-HMAC-SHA1 " + testToken + ":" + sig1, body, ""},
		{"unsigned when a signature is required", Config{SigningKey: key}, "MIVA " + testToken, body, CodeInvalidSignature},
		{"signature of another body", Config{SigningKey: key}, "MIVA-HMAC-SHA256 " + testToken + ":" + sig256, append([]byte(" "), body...), CodeInvalidSignature},
		{"SHA1 signature sent as SHA256", Config{SigningKey: key}, "MIVA-HMAC-SHA256 " + testToken + ":" + sig1, body, CodeInvalidSignature},
		{"timestamp required and missing", Config{RequireTimestamp: true}, "MIVA " + testToken, body, CodeInvalidTimestamp},
		{"timestamp too old", Config{RequireTimestamp: true}, "MIVA " + testToken, withTS(now.Unix() - 61), CodeInvalidTimestamp},
		{"timestamp within the window", Config{RequireTimestamp: true}, "MIVA " + testToken, withTS(now.Unix() - 59), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Now = func() time.Time { return now }
			sb, srv := newTestSandbox(t, cfg)
			mustSeed(t, sb, seedExampleOrder)
			status, data, err := rawPost(srv, tc.body, map[string]string{AuthorizationHeader: tc.header})
			if err != nil {
				t.Fatal(err)
			}
			var r reply
			_ = json.Unmarshal(data, &r)
			r.body = data
			if tc.code == "" {
				mustOK(t, status, r)
				return
			}
			mustError(t, status, r, tc.code)
			if strings.Contains(string(data), testToken) || strings.Contains(string(data), key) {
				t.Fatalf("error echoes a secret: %s", data)
			}
			if c := sb.Calls(); c.List.Unauthorized != 1 || c.List.Processed != 0 {
				t.Fatalf("calls: %+v", c.List)
			}
		})
	}
}

func TestRequestErrors(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{MaxBodyBytes: 200})
	mustSeed(t, sb, seedExampleOrder)
	tests := []struct {
		name   string
		body   string
		hdr    map[string]string
		status int
		code   string
	}{
		{"not JSON", `{"Function":`, nil, http.StatusOK, CodeInvalidRequest},
		{"not an object", `[1]`, nil, http.StatusOK, CodeInvalidRequest},
		{"wrong content type", seedExampleRequest, map[string]string{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType, CodeInvalidRequest},
		{"too large", `{"x":"` + strings.Repeat("a", 300) + `"}`, nil, http.StatusRequestEntityTooLarge, CodeInvalidRequest},
		{"unknown function", `{"Store_code":"beta","Function":"Order_Delete","Order_ID":1}`, nil, http.StatusOK, CodeInvalidFunction},
		{"other store", `{"Store_code":"alpha","Function":"OrderPaymentList_Load","Order_ID":200102}`, nil, http.StatusOK, CodeInvalidStore},
		{"order id not an integer", `{"Store_code":"beta","Function":"OrderPaymentList_Load","Order_ID":"A-1"}`, nil, http.StatusOK, CodeInvalidParameter},
		{"parameter names are case-insensitive", `{"Store_Code":"beta","function":"OrderPaymentList_Load","order_id":"200102"}`, nil, http.StatusOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, data, err := rawPost(srv, []byte(tc.body), tc.hdr)
			if err != nil {
				t.Fatal(err)
			}
			var r reply
			if err := json.Unmarshal(data, &r); err != nil {
				t.Fatalf("error reply is not JSON: %s", data)
			}
			r.body = data
			if status != tc.status {
				t.Fatalf("HTTP %d, want %d: %s", status, tc.status, data)
			}
			if tc.code == "" {
				mustOK(t, status, r)
				return
			}
			if r.Success != 0 || r.ErrorCode != tc.code {
				t.Fatalf("reply %s, want %s", data, tc.code)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	order := OrderSeed{OrderID: 3, Records: []RecordSeed{{ID: 1, Type: TypeAuth, Amount: "10.00"}}}
	capture := map[string]any{"OrderPayment_ID": 1, "Amount": json.Number("1.00")}
	tests := []struct {
		name     string
		faults   Faults
		status   int
		code     string
		captured int
		check    func(t *testing.T, c EndpointCalls)
	}{
		{"fail_next does not act", Faults{FailNext: 1, FailStatus: 500}, http.StatusInternalServerError, "", 0,
			func(t *testing.T, c EndpointCalls) {
				if c.Failed5xx != 1 || c.Processed != 0 {
					t.Fatalf("%+v", c)
				}
			}},
		{"error_next answers a Miva error without acting", Faults{ErrorNext: 1}, http.StatusOK, CodeProcessorUnavailable, 0,
			func(t *testing.T, c EndpointCalls) {
				if c.Errored != 1 || c.Processed != 0 {
					t.Fatalf("%+v", c)
				}
			}},
		{"error_next with a chosen code", Faults{ErrorNext: 1, ErrorCode: CodeAccessDenied, ErrorMessage: "nope"}, http.StatusOK, CodeAccessDenied, 0, nil},
		{"fail_per_mille 1000", Faults{FailPerMille: 1000}, http.StatusServiceUnavailable, "", 0, nil},
		{"drop_next acts then answers 502", Faults{DropNext: 1}, http.StatusBadGateway, "", 1,
			func(t *testing.T, c EndpointCalls) {
				if c.Dropped != 1 || c.Processed != 1 {
					t.Fatalf("%+v", c)
				}
			}},
		{"latency", Faults{LatencyMS: 50}, http.StatusOK, "", 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sb, srv := newTestSandbox(t, Config{RandSeed: 1})
			mustSeed(t, sb, order)
			if err := sb.SetFaults(EndpointCapture, tc.faults); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			status, r := call(t, srv, FunctionCapture, capture)
			if status != tc.status {
				t.Fatalf("HTTP %d, want %d: %s", status, tc.status, r.body)
			}
			if tc.code != "" {
				mustError(t, status, r, tc.code)
			}
			if tc.faults.LatencyMS > 0 && time.Since(start) < 50*time.Millisecond {
				t.Fatal("latency not applied")
			}
			es := sb.Ledger()
			if len(es) != tc.captured {
				t.Fatalf("%d captures, want %d", len(es), tc.captured)
			}
			if tc.faults.DropNext > 0 && !es[0].ReplyDropped {
				t.Fatalf("entry not marked dropped: %+v", es[0])
			}
			if tc.check != nil {
				tc.check(t, sb.Calls().Capture)
			}
			// Other functions are unaffected, counters are consumed.
			status, r = call(t, srv, FunctionPaymentList, map[string]any{"Order_ID": 3})
			mustOK(t, status, r)
			if tc.faults.FailPerMille == 0 {
				status, r = call(t, srv, FunctionCapture, capture)
				mustOK(t, status, r)
			}
		})
	}

	t.Run("hang until the client gives up", func(t *testing.T) {
		sb, srv := newTestSandbox(t, Config{})
		mustSeed(t, sb, order)
		if err := sb.SetFaults(EndpointAll, Faults{HangNext: 1}); err != nil {
			t.Fatal(err)
		}
		hc := srv.Client()
		hc.Timeout = 100 * time.Millisecond
		req, _ := http.NewRequest(http.MethodPost, srv.URL+apiPath, strings.NewReader(seedExampleRequest))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(AuthorizationHeader, "MIVA "+testToken)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("hang answered HTTP %d", resp.StatusCode)
		}
		if f := sb.Faults(); f.List.HangNext != 0 || f.Capture.HangNext != 1 {
			t.Fatalf("faults: %+v", f)
		}
	})

	t.Run("late commit acts after the client gave up", func(t *testing.T) {
		sb, srv := newTestSandbox(t, Config{})
		mustSeed(t, sb, order)
		if err := sb.SetFaults(EndpointCapture, Faults{LateNext: 1, LateMS: 300}); err != nil {
			t.Fatal(err)
		}
		hc := srv.Client()
		hc.Timeout = 50 * time.Millisecond
		req, _ := http.NewRequest(http.MethodPost, srv.URL+apiPath,
			strings.NewReader(`{"Store_code":"beta","Function":"OrderPayment_Capture","OrderPayment_ID":1,"Amount":1.00}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(AuthorizationHeader, "MIVA "+testToken)
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
		if es := sb.Ledger(); len(es) != 1 || !es[0].LateCommit {
			t.Fatalf("ledger %+v", es)
		}
		if c := sb.Calls().Capture; c.Late != 1 || c.Processed != 1 {
			t.Fatalf("counters %+v", c)
		}
		if f := sb.Faults(); f.Capture.LateNext != 0 {
			t.Fatalf("late_next not consumed: %+v", f.Capture)
		}
	})

	t.Run("per-mille late, hang and drop knobs", func(t *testing.T) {
		for _, tc := range []struct {
			f      Faults
			status int
			check  func(c EndpointCalls) bool
		}{
			{Faults{DropPerMille: 1000}, http.StatusBadGateway, func(c EndpointCalls) bool { return c.Dropped == 1 && c.Processed == 1 }},
			{Faults{LatePerMille: 1000, LateMS: 10}, http.StatusOK, func(c EndpointCalls) bool { return c.Late == 1 && c.Processed == 1 }},
		} {
			sb, srv := newTestSandbox(t, Config{})
			mustSeed(t, sb, order)
			if err := sb.SetFaults(EndpointCapture, tc.f); err != nil {
				t.Fatal(err)
			}
			if status, r := call(t, srv, FunctionCapture, capture); status != tc.status {
				t.Fatalf("%+v: HTTP %d %s", tc.f, status, r.body)
			}
			if c := sb.Calls().Capture; !tc.check(c) {
				t.Fatalf("%+v: counters %+v", tc.f, c)
			}
		}
	})

	t.Run("validation", func(t *testing.T) {
		sb, _ := newTestSandbox(t, Config{})
		for _, f := range []Faults{{FailNext: -1}, {FailStatus: 404}, {FailPerMille: 1001}, {LateNext: -1}, {LateMS: -1},
			{LatePerMille: 600, HangPerMille: 600}, {DropPerMille: -1}} {
			if err := sb.SetFaults(EndpointCapture, f); err == nil {
				t.Fatalf("accepted %+v", f)
			}
		}
		if err := sb.SetFaults("nowhere", Faults{}); err == nil {
			t.Fatal("unknown endpoint accepted")
		}
	})
}

func TestConcurrentCapturesNeverOvercapture(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{})
	mustSeed(t, sb, OrderSeed{OrderID: 1, Records: []RecordSeed{{ID: 1, Type: TypeAuth, Amount: "100.00"}}})
	body := []byte(`{"Store_code":"beta","Function":"OrderPayment_Capture","OrderPayment_ID":1,"Amount":15.00}`)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, data, err := rawPost(srv, body, nil)
			var r reply
			if err != nil || json.Unmarshal(data, &r) != nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if r.Success == 1 {
				ok++
			} else if r.ErrorCode == CodeAmountExceedsAvailable {
				refused++
			}
		}()
	}
	wg.Wait()
	st, _ := sb.Order(1)
	if ok != 6 || refused != 4 || st.Records[0].Available.StringFixed(2) != "10.00" || len(sb.Ledger()) != 6 {
		t.Fatalf("ok %d refused %d available %s", ok, refused, st.Records[0].Available)
	}
}

func TestSeedValidation(t *testing.T) {
	sb, _ := newTestSandbox(t, Config{})
	mustSeed(t, sb, OrderSeed{OrderID: 1, Records: []RecordSeed{{ID: 5, Type: TypeAuth, Amount: "10.00"}}})
	bad := []OrderSeed{
		{OrderID: 0},
		{OrderID: 2, Currency: "XXX"},
		{OrderID: 2, Records: []RecordSeed{{Type: 9, Amount: "1"}}},
		{OrderID: 2, Records: []RecordSeed{{Type: TypeAuth, Amount: "1.001"}}},
		{OrderID: 2, Records: []RecordSeed{{Type: TypeAuth, Amount: "-1"}}},
		{OrderID: 2, Records: []RecordSeed{{Type: TypeAuth, Amount: "1", Available: "2"}}},
		{OrderID: 2, Records: []RecordSeed{{Type: TypeCapture, Amount: "1"}}},
		{OrderID: 2, Records: []RecordSeed{{ID: 1, Type: TypeAuth, Amount: "1"}, {Type: TypeRefund, Amount: "1", ParentID: 1}}},
		{OrderID: 2, Records: []RecordSeed{{ID: 1, Type: TypeAuth, Amount: "5"}, {ID: 2, Type: TypeCapture, Amount: "5", ParentID: 1}, {Type: TypeRefund, Amount: "5.01", ParentID: 2}}},
		{OrderID: 2, Records: []RecordSeed{{ID: 5, Type: TypeAuth, Amount: "1"}}}, // id of order 1
		{OrderID: 2, Records: []RecordSeed{{ID: 6, Type: TypeAuth, Amount: "1"}, {ID: 6, Type: TypeAuth, Amount: "1"}}},
	}
	for i, o := range bad {
		if _, err := sb.SeedOrder(o); err == nil {
			t.Fatalf("seed %d accepted: %+v", i, o)
		}
	}
	st := mustSeed(t, sb, OrderSeed{OrderID: 2, Records: []RecordSeed{
		{ID: 20, Type: TypeAuth, Amount: "5"}, {Type: TypeAuth, Amount: "1"},
		{ID: 21, Type: TypeCapture, Amount: "5", ParentID: 20, Available: "0"}, {Type: TypeRefund, Amount: "2", ParentID: 21},
	}})
	if ids := []int64{st.Records[0].ID, st.Records[1].ID, st.Records[2].ID, st.Records[3].ID}; ids[0] != 20 || ids[1] != 21 || ids[2] != 22 || ids[3] != 23 {
		t.Fatalf("ids: %v", ids)
	}
	if st.Records[1].Refundable != "3.00" {
		t.Fatalf("refundable: %+v", st.Records[1])
	}
	// Replacing order 1 frees its ids.
	mustSeed(t, sb, OrderSeed{OrderID: 1, Records: []RecordSeed{{ID: 5, Type: TypeAuth, Amount: "3.00"}}})
	if len(sb.Orders()) != 2 {
		t.Fatal("orders")
	}
}
