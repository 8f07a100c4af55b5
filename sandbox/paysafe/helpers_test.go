package paysafe

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

const (
	testUser = "test-user"
	testPass = "test-password-secret"
	testAcct = "89987201"
)

// newTestSandbox starts a sandbox (manual batching unless cfg says
// otherwise) behind an httptest server; both are closed at cleanup, the
// sandbox first, which releases hanging calls.
func newTestSandbox(t *testing.T, cfg Config) (*Sandbox, *httptest.Server) {
	t.Helper()
	if cfg.Username == "" {
		cfg.Username, cfg.Password = testUser, testPass
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/paysafe"
	}
	if cfg.BatchInterval == 0 {
		cfg.BatchInterval = -1
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

// authorize seeds an authorization and returns its id.
func authorize(t *testing.T, sb *Sandbox, a Authorization) string {
	t.Helper()
	if a.AccountID == "" {
		a.AccountID = testAcct
	}
	if a.Currency == "" {
		a.Currency = "USD"
	}
	st, err := sb.Authorize(a)
	if err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	return st.ID
}

// result is an HTTP answer.
type result struct {
	status int
	code   string // X-Application-Status-Code
	body   []byte
}

// call sends a request with the test credentials.
func call(t *testing.T, srv *httptest.Server, method, path string, body any) result {
	t.Helper()
	return callAs(t, srv, method, path, body, testUser, testPass)
}

// callAs sends a request with the given credentials (user "" sends none).
func callAs(t *testing.T, srv *httptest.Server, method, path string, body any, user, pass string) result {
	t.Helper()
	r, err := tryCallAs(srv, method, path, body, user, pass)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// tryCall is call for goroutines other than the test's.
func tryCall(srv *httptest.Server, method, path string, body any) (result, error) {
	return tryCallAs(srv, method, path, body, testUser, testPass)
}

func tryCallAs(srv *httptest.Server, method, path string, body any, user, pass string) (result, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return result{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		return result{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, code: resp.Header.Get(HeaderStatusCode), body: data}, err
}

func acctPath(rest string) string { return "/paysafe" + APIPath + "/accounts/" + testAcct + rest }

func amt(n int64) *int64 { return &n }

// settle posts a settlement and requires a 200 answer.
func settle(t *testing.T, srv *httptest.Server, authID, ref string, amount *int64) Settlement {
	t.Helper()
	r := call(t, srv, http.MethodPost, acctPath("/auths/"+authID+"/settlements"), SettlementRequest{MerchantRefNum: ref, Amount: amount})
	if r.status != http.StatusOK {
		t.Fatalf("settle %s: HTTP %d: %s", ref, r.status, r.body)
	}
	var s Settlement
	mustJSON(t, r.body, &s)
	return s
}

// refund posts a refund and requires a 200 answer.
func refund(t *testing.T, srv *httptest.Server, settlementID, ref string, amount *int64) Refund {
	t.Helper()
	r := call(t, srv, http.MethodPost, acctPath("/settlements/"+settlementID+"/refunds"), SettlementRequest{MerchantRefNum: ref, Amount: amount})
	if r.status != http.StatusOK {
		t.Fatalf("refund %s: HTTP %d: %s", ref, r.status, r.body)
	}
	var f Refund
	mustJSON(t, r.body, &f)
	return f
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
}

// mustError decodes an error reply and checks its code in body and header.
func mustError(t *testing.T, r result, status int, code string) ErrorReply {
	t.Helper()
	if r.status != status {
		t.Fatalf("HTTP %d, want %d: %s", r.status, status, r.body)
	}
	var e ErrorReply
	mustJSON(t, r.body, &e)
	if e.Error.Code != code || r.code != code {
		t.Fatalf("error code %q (header %q), want %q: %s", e.Error.Code, r.code, code, r.body)
	}
	if len(e.Error.Links) != 1 || e.Error.Links[0].Rel != "errorinfo" || e.Error.Links[0].Href != ErrorInfoBase+code {
		t.Fatalf("errorinfo link = %+v", e.Error.Links)
	}
	if bytes.Contains(r.body, []byte(testPass)) {
		t.Fatal("error reply leaks the password")
	}
	return e
}
