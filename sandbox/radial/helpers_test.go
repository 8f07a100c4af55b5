package radial

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
)

const (
	testKey   = "test-key"
	testStore = "ABCXYZ"
	testPAN   = "4400000000000008"
)

// newTestSandbox starts a sandbox behind an httptest server; both are closed
// at cleanup (the sandbox first, which releases hanging calls).
func newTestSandbox(t *testing.T, cfg Config) (*Sandbox, *httptest.Server) {
	t.Helper()
	if cfg.APIKey == "" {
		cfg.APIKey = testKey
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/radial"
	}
	if cfg.StatusDelay == 0 {
		cfg.StatusDelay = 20 * time.Millisecond
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

// settlement builds a valid PaymentSettlementRequest with a PaymentContext.
func settlement(id, order, typ, amount string) *messages.PaymentSettlementRequest {
	return &messages.PaymentSettlementRequest{
		RequestID: id,
		PaymentContext: &messages.PaymentContext{
			OrderID:                order,
			PaymentAccountUniqueID: messages.AccountID{IsToken: "false", Value: testPAN},
		},
		InvoiceID:      "INV-" + order,
		Amount:         messages.Amount{CurrencyCode: "USD", Value: amount},
		TaxAmount:      &messages.Amount{CurrencyCode: "USD", Value: "0.00"},
		SettlementType: typ,
		ClientContext:  "cc-" + id,
	}
}

func confirmReq(id, order, amount string) *messages.ConfirmFundsRequest {
	return &messages.ConfirmFundsRequest{
		RequestID: id,
		PaymentContext: &messages.PaymentContext{
			OrderID:                order,
			PaymentAccountUniqueID: messages.AccountID{IsToken: "false", Value: testPAN},
		},
		Amount:                 messages.Amount{CurrencyCode: "USD", Value: amount},
		PerformReauthorization: true,
	}
}

func encode(t *testing.T, v any) []byte {
	t.Helper()
	b, err := messages.Encode(v)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return b
}

// post sends body to path (below the server URL) with the test key.
func post(t *testing.T, srv *httptest.Server, path string, body []byte, hdr map[string]string) (int, []byte) {
	t.Helper()
	status, data, err := tryPost(srv, path, body, hdr)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return status, data
}

// tryPost is post for goroutines other than the test's: it never calls t.Fatal.
func tryPost(srv *httptest.Server, path string, body []byte, hdr map[string]string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/xml")
	req.Header.Set("apikey", testKey)
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

func settlePath(tender string) string {
	return "/radial/v1.0/stores/" + testStore + "/payments/settlement/create/" + tender + ".xml"
}

func confirmPath(tender string) string {
	return "/radial/v1.0/stores/" + testStore + "/payments/funds/confirm/" + tender + ".xml"
}

// settle posts a settlement and requires an AckReply.
func settle(t *testing.T, srv *httptest.Server, m *messages.PaymentSettlementRequest) {
	t.Helper()
	status, body := post(t, srv, settlePath("VC"), encode(t, m), nil)
	if status != http.StatusOK {
		t.Fatalf("settle %s: HTTP %d: %s", m.RequestID, status, body)
	}
	if _, err := messages.DecodeAckReply(body); err != nil {
		t.Fatalf("settle %s: not an AckReply: %v: %s", m.RequestID, err, body)
	}
}

// mustFault decodes a Fault reply and checks its code.
func mustFault(t *testing.T, body []byte, code string) *messages.Fault {
	t.Helper()
	f, err := messages.DecodeFault(body)
	if err != nil {
		t.Fatalf("not a Fault: %v: %s", err, body)
	}
	if f.Code != code {
		t.Fatalf("fault code %q, want %q (%s)", f.Code, code, f.Description)
	}
	if strings.Contains(f.Description, testPAN) {
		t.Fatalf("fault description leaks the account number: %s", f.Description)
	}
	return f
}

// entryByID returns the ledger entry of a request id.
func entryByID(t *testing.T, sb *Sandbox, id string) Entry {
	t.Helper()
	es := sb.LedgerFiltered(LedgerFilter{RequestID: id})
	if len(es) != 1 {
		t.Fatalf("ledger entries for %s: %d, want 1", id, len(es))
	}
	return es[0]
}
