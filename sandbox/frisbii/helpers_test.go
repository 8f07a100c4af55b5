package frisbii

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

const testKey = "priv_test_0123456789"

// clock is a settable time source for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTestSandbox starts a sandbox under /frisbii behind an httptest server;
// both are closed at cleanup (the sandbox first, releasing hanging calls).
func newTestSandbox(t *testing.T, cfg Config) (*Sandbox, *httptest.Server) {
	t.Helper()
	if cfg.APIKey == "" {
		cfg.APIKey = testKey
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/frisbii"
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

func seed(t *testing.T, sb *Sandbox, s ChargeSeed) {
	t.Helper()
	if s.Currency == "" {
		s.Currency = "USD"
	}
	if _, err := sb.SeedCharge(s); err != nil {
		t.Fatalf("SeedCharge: %v", err)
	}
}

// reply is an HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// call sends a request with the test key (key "" sends no auth) and an
// optional JSON body (a string is sent verbatim).
func call(t *testing.T, srv *httptest.Server, method, path, key string, body any) reply {
	t.Helper()
	r, err := tryCall(srv, method, path, key, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// tryCall is call for goroutines other than the test's.
func tryCall(srv *httptest.Server, method, path, key string, body any) (reply, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		return reply{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.SetBasicAuth(key, "")
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: data}, err
}

func settle(t *testing.T, srv *httptest.Server, handle string, body any) reply {
	t.Helper()
	return call(t, srv, http.MethodPost, "/frisbii/v1/charge/"+handle+"/settle", testKey, body)
}

// mustCharge decodes a 200 charge answer.
func mustCharge(t *testing.T, r reply) Charge {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("HTTP %d: %s", r.status, r.body)
	}
	var c Charge
	if err := json.Unmarshal(r.body, &c); err != nil {
		t.Fatalf("not a charge: %v: %s", err, r.body)
	}
	return c
}

// mustRefund decodes a 200 refund answer.
func mustRefund(t *testing.T, r reply) Refund {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("HTTP %d: %s", r.status, r.body)
	}
	var rf Refund
	if err := json.Unmarshal(r.body, &rf); err != nil {
		t.Fatalf("not a refund: %v: %s", err, r.body)
	}
	return rf
}

// mustError decodes Frisbii's error body and checks status and code.
func mustError(t *testing.T, r reply, status, code int) ErrorBody {
	t.Helper()
	if r.status != status {
		t.Fatalf("HTTP %d, want %d: %s", r.status, status, r.body)
	}
	var e ErrorBody
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("not an error body: %v: %s", err, r.body)
	}
	if e.Code != code || e.HTTPStatus != status || e.Error != errorTexts[code] || e.RequestID == "" ||
		e.RequestID != r.header.Get("Request-Id") || e.Timestamp == "" || e.Path == "" {
		t.Fatalf("error body %+v, want code %d (%s)", e, code, errorTexts[code])
	}
	if bytes.Contains(r.body, []byte(testKey)) {
		t.Fatalf("error body leaks the API key: %s", r.body)
	}
	return e
}

func amount(n int64) map[string]any { return map[string]any{"amount": n} }

func keyed(key string, n int64) map[string]any {
	return map[string]any{"key": key, "amount": n, "ordertext": "shipment"}
}
