package miva

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

const (
	testToken = "test-token-0f90f77b58ca"
	testStore = "beta"
	apiPath   = "/miva/mm5/json.mvc"
)

// seedExampleRequest and seedExampleResponse are the seed document's
// OrderPaymentList_Load example, verbatim.
const seedExampleRequest = `{
    "Store_code": "beta",
    "Function": "OrderPaymentList_Load",
    "Order_ID": 200102
}`

const seedExampleResponse = `{
    "success": 1,
    "data": [
        {
            "id": 2,
            "order_id": 200102,
            "type": 1,
            "refnum": "200102",
            "amount": 7.0,
            "formatted_amount": "$7.00",
            "available": 7.0,
            "formatted_available": "$7.00",
            "dtstamp": "1536097658",
            "expires": "",
            "pay_id": 115,
            "pay_secid": 0
        },
        {
            "id": 4,
            "order_id": 200102,
            "type": 3,
            "refnum": "cj35mhgm",
            "amount": 1.0,
            "formatted_amount": "$1.00",
            "available": 1.0,
            "formatted_available": "$1.00",
            "dtstamp": "1537307983",
            "expires": "",
            "pay_id": 113,
            "pay_secid": 0
        }
    ]
}`

// seedExampleOrder seeds the records of the seed's example.
var seedExampleOrder = OrderSeed{OrderID: 200102, Records: []RecordSeed{
	{ID: 2, Type: TypeLegacyAuth, Refnum: "200102", Amount: "7.00", DTStamp: 1536097658, PayID: 115},
	{ID: 4, Type: TypeAuth, Refnum: "cj35mhgm", Amount: "1.00", DTStamp: 1537307983, PayID: 113},
}}

// newTestSandbox starts a sandbox under /miva behind an httptest server;
// both are closed at cleanup (the sandbox first, which releases hangs).
func newTestSandbox(t *testing.T, cfg Config) (*Sandbox, *httptest.Server) {
	t.Helper()
	if cfg.APIToken == "" {
		cfg.APIToken = testToken
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/miva"
	}
	sb, err := NewSandbox(cfg)
	if err != nil {
		t.Fatalf("NewSandbox: %v", err)
	}
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = sb.Close() })
	return sb, srv
}

func mustSeed(t *testing.T, sb *Sandbox, o OrderSeed) OrderState {
	t.Helper()
	st, err := sb.SeedOrder(o)
	if err != nil {
		t.Fatalf("SeedOrder: %v", err)
	}
	return st
}

// rawPost posts body with headers (an empty value deletes the header).
func rawPost(srv *httptest.Server, body []byte, hdr map[string]string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, srv.URL+apiPath, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(AuthorizationHeader, AuthTypeToken+" "+testToken)
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// call runs a function with the test token and returns the HTTP status
// and the decoded envelope (Data left raw).
func call(t *testing.T, srv *httptest.Server, function string, args map[string]any) (int, reply) {
	t.Helper()
	body := map[string]any{"Store_code": testStore, "Function": function}
	for k, v := range args {
		body[k] = v
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	status, data, err := rawPost(srv, b, nil)
	if err != nil {
		t.Fatalf("POST %s: %v", function, err)
	}
	var r reply
	if status == http.StatusOK {
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatalf("%s: reply is not JSON: %v: %s", function, err, data)
		}
	}
	r.body = data
	return status, r
}

type reply struct {
	Success      int             `json:"success"`
	Data         json.RawMessage `json:"data"`
	ErrorCode    string          `json:"error_code"`
	ErrorMessage string          `json:"error_message"`
	body         []byte
}

// mustOK requires a success answer.
func mustOK(t *testing.T, status int, r reply) {
	t.Helper()
	if status != http.StatusOK || r.Success != 1 {
		t.Fatalf("want success, got HTTP %d: %s", status, r.body)
	}
}

// mustError requires a {"success":0} answer with code.
func mustError(t *testing.T, status int, r reply, code string) {
	t.Helper()
	if status != http.StatusOK || r.Success != 0 || r.ErrorCode != code || r.ErrorMessage == "" {
		t.Fatalf("want error %s, got HTTP %d: %s", code, status, r.body)
	}
}

// sameJSON compares two JSON documents with numbers as written.
func sameJSON(t *testing.T, got, want []byte) {
	t.Helper()
	norm := func(b []byte) any {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("not JSON: %v: %s", err, b)
		}
		return v
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("JSON differs:\n got: %s\nwant: %s", got, want)
	}
}

func listOf(t *testing.T, r reply) []PaymentRecord {
	t.Helper()
	var ps []PaymentRecord
	if err := json.Unmarshal(r.Data, &ps); err != nil {
		t.Fatalf("list data: %v: %s", err, r.Data)
	}
	return ps
}
