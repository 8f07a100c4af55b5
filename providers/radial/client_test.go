package radial_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/money"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/radial"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/radial"
)

const (
	apiKey  = "contract-test-api-key"
	store   = "ABCXYZ"
	pan     = "4400000000000008"
	timeout = 1500 * time.Millisecond
)

// env is a sandbox on loopback and a client of it.
type env struct {
	sb     *sandbox.Sandbox
	srv    *httptest.Server
	client *radial.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	sb, err := sandbox.NewSandbox(sandbox.Config{Prefix: "/radial", APIKey: apiKey, StatusDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = sb.Close() }) // first: releases hanging calls
	return &env{sb: sb, srv: srv, client: newClient(t, srv.URL+"/radial", apiKey)}
}

func newClient(t *testing.T, base, key string) *radial.Client {
	t.Helper()
	c, err := radial.New(radial.Config{BaseURL: base, APIKey: key, Timeout: timeout}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// request builds a debit of amount against an authorization of authAmount.
func request(id, order, typ, amount, authAmount string) *providers.Request {
	m := &messages.PaymentSettlementRequest{
		RequestID: id,
		PaymentContext: &messages.PaymentContext{
			OrderID:                order,
			PaymentAccountUniqueID: messages.AccountID{IsToken: "false", Value: pan},
		},
		InvoiceID:      "INV-1",
		Amount:         messages.Amount{CurrencyCode: "USD", Value: amount},
		TaxAmount:      &messages.Amount{CurrencyCode: "USD", Value: "0.00"},
		SettlementType: typ,
		ClientContext:  "cc-" + id,
	}
	return &providers.Request{
		Provider:            "radial",
		RequestID:           id,
		StoreID:             store,
		TenderType:          "VC",
		OrderID:             order,
		Type:                typ,
		Amount:              money.MustParse(amount, "USD"),
		AuthorizationAmount: money.MustParse(authAmount, "USD"),
		Attempt:             1,
		Message:             m,
	}
}

// checkErr verifies the classification and that no secret leaks.
func checkErr(t *testing.T, err error, wantErr bool, code, reason string) {
	t.Helper()
	if !wantErr {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatal("want an error")
	}
	if providers.ClassOf(err) != providers.Transient {
		t.Fatalf("class %v, want transient: %v", providers.ClassOf(err), err)
	}
	var pe *providers.Error
	if !errors.As(err, &pe) {
		t.Fatalf("not a *providers.Error: %v", err)
	}
	if code != "" && pe.Code != code {
		t.Fatalf("code %q, want %q: %v", pe.Code, code, err)
	}
	if !strings.Contains(providers.ReasonOf(err), reason) {
		t.Fatalf("reason %q does not contain %q", providers.ReasonOf(err), reason)
	}
	for _, secret := range []string{pan, apiKey, "wrong-secret-key"} {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error leaks a secret: %v", err)
		}
	}
}

func TestConfirmFundsContract(t *testing.T) {
	e := newEnv(t)
	for _, a := range []sandbox.Authorization{
		{StoreID: store, OrderID: "AUTH100", Amount: "100.00", Currency: "USD"},
		{StoreID: store, OrderID: "AUTH50", Amount: "50.00", Currency: "USD"},
		{StoreID: store, OrderID: "DECLINED", Amount: "100.00", Currency: "USD", FundsOutcome: messages.FundsFail},
		{StoreID: store, OrderID: "SLOW", Amount: "100.00", Currency: "USD", FundsOutcome: messages.FundsTimeout},
	} {
		if _, err := e.sb.Authorize(a); err != nil {
			t.Fatal(err)
		}
	}
	base := request("base-1", "PAYPAL1", messages.SettlementDebit, "10.00", "10.00")
	base.TenderType = "PY"
	base.Message.PaymentContext, base.Message.PaymentContextBase = nil, &messages.PaymentContextBase{OrderID: "PAYPAL1"}

	tests := []struct {
		name      string
		req       *providers.Request
		available bool
		reason    string
		wantErr   bool
		code      string
	}{
		{"success with the original authorization amount", request("cf-1", "AUTH100", "Debit", "40.00", "100.00"), true, "", false, ""},
		{"fail: authorization amount beyond the authorization", request("cf-2", "AUTH50", "Debit", "40.00", "60.00"), false, radial.ReasonFundsNotAvailable, false, ""},
		{"fail: scripted", request("cf-3", "DECLINED", "Debit", "40.00", "100.00"), false, radial.ReasonFundsNotAvailable, false, ""},
		{"timeout is transient", request("cf-4", "SLOW", "Debit", "40.00", "100.00"), false, "Timeout", true, messages.FundsTimeout},
		{"payment context base", base, true, "", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.client.ConfirmFunds(context.Background(), tc.req)
			checkErr(t, err, tc.wantErr, tc.code, tc.reason)
			if tc.wantErr {
				return
			}
			if res.Available != tc.available || !strings.HasPrefix(res.Reason, tc.reason) {
				t.Fatalf("result %+v, want available=%v reason %q", res, tc.available, tc.reason)
			}
			if res.Refs[radial.RefConfirmRequestID] != radial.ConfirmRequestID(tc.req.RequestID, tc.req.Attempt) {
				t.Fatalf("refs = %v", res.Refs)
			}
		})
	}

	t.Run("redelivery of an attempt reuses its requestId, a new attempt does not", func(t *testing.T) {
		before := e.sb.Calls().Confirm
		req := request("cf-1", "AUTH100", "Debit", "40.00", "100.00")
		for _, attempt := range []int{1, 2} {
			req.Attempt = attempt
			if _, err := e.client.ConfirmFunds(context.Background(), req); err != nil {
				t.Fatal(err)
			}
		}
		after := e.sb.Calls().Confirm
		if after.DedupHits-before.DedupHits != 1 || after.Processed-before.Processed != 1 {
			t.Fatalf("calls before %+v after %+v", before, after)
		}
	})
}

func TestSettleContract(t *testing.T) {
	tests := []struct {
		name    string
		faults  *sandbox.Faults
		key     string
		mutate  func(*providers.Request)
		wantErr bool
		code    string
		reason  string
		entries int
	}{
		{name: "ack", entries: 1},
		{name: "fault reply with HTTP 200", faults: &sandbox.Faults{FaultNext: 1, FaultStatus: 200}, wantErr: true, code: sandbox.FaultInjected, reason: "fault reply (HTTP 200)"},
		{name: "fault reply with HTTP 500", faults: &sandbox.Faults{FaultNext: 1}, wantErr: true, code: sandbox.FaultInjected, reason: "fault reply (HTTP 500)"},
		{name: "503", faults: &sandbox.Faults{FailNext: 1}, wantErr: true, code: "503", reason: "HTTP 503"},
		{name: "hang until the client timeout", faults: &sandbox.Faults{HangNext: 1}, wantErr: true, reason: "no answer within 1.5s"},
		{name: "processed then dropped (502)", faults: &sandbox.Faults{DropNext: 1}, wantErr: true, code: "502", reason: "HTTP 502", entries: 1},
		{name: "wrong API key", key: "wrong-secret-key", wantErr: true, code: "401", reason: "check the configured Radial API key"},
		{name: "malformed request", mutate: func(r *providers.Request) { r.Message.InvoiceID = ""; r.Message.Amount.Value = "-5" },
			wantErr: true, code: sandbox.FaultValidation, reason: "InvoiceId"},
		{name: "tender type too long", mutate: func(r *providers.Request) { r.TenderType = "VISAX" },
			wantErr: true, code: sandbox.FaultInvalidTenderType, reason: "TenderType"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.faults != nil {
				if err := e.sb.SetFaults(sandbox.EndpointSettle, *tc.faults); err != nil {
					t.Fatal(err)
				}
			}
			client := e.client
			if tc.key != "" {
				client = newClient(t, e.srv.URL+"/radial", tc.key)
			}
			req := request("st-1", "O1", messages.SettlementDebit, "25.00", "25.00")
			if tc.mutate != nil {
				tc.mutate(req)
			}
			start := time.Now()
			out, err := client.Settle(context.Background(), req)
			checkErr(t, err, tc.wantErr, tc.code, tc.reason)
			if tc.faults != nil && tc.faults.HangNext > 0 {
				if d := time.Since(start); d < timeout || d > timeout+2*time.Second {
					t.Fatalf("hang answered after %s", d)
				}
			}
			if !tc.wantErr && out.Kind != providers.Accepted {
				t.Fatalf("outcome %+v", out)
			}
			if n := len(e.sb.Ledger()); n != tc.entries {
				t.Fatalf("%d ledger entries, want %d", n, tc.entries)
			}
			if !tc.wantErr || tc.code == "401" {
				return
			}
			if tc.mutate != nil {
				return // a malformed request stays malformed
			}
			// Radial allows the same requestId after a fault or a timeout:
			// the retry is accepted and never moves money twice.
			out, err = e.client.Settle(context.Background(), req)
			if err != nil || out.Kind != providers.Accepted {
				t.Fatalf("retry: %+v, %v", out, err)
			}
			if n := len(e.sb.Ledger()); n != 1 {
				t.Fatalf("%d ledger entries after the retry, want 1", n)
			}
		})
	}
}

func TestSettleDuplicateRequestID(t *testing.T) {
	e := newEnv(t)
	req := request("dup-1", "O2", messages.SettlementCredit, "5.00", "5.00")
	req.Message.ClientContext = "pipeline-ctx-1"
	for range 3 {
		out, err := e.client.Settle(context.Background(), req)
		if err != nil || out.Kind != providers.Accepted {
			t.Fatalf("Settle = %+v, %v", out, err)
		}
	}
	es := e.sb.Ledger()
	if len(es) != 1 || es[0].DuplicateHits != 2 || es[0].ClientContext != "pipeline-ctx-1" || es[0].Type != "Credit" {
		t.Fatalf("ledger = %+v", es)
	}
	if _, err := e.sb.WaitStatuses(1, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	if n := len(e.sb.Statuses()); n != 1 {
		t.Fatalf("%d statuses, want 1", n)
	}
	if c := e.sb.Calls().Settle; c.Processed != 1 || c.DedupHits != 2 {
		t.Fatalf("calls = %+v", c)
	}
}

func TestConfirmFundsFailures(t *testing.T) {
	e := newEnv(t)
	req := request("cff-1", "O3", "Debit", "10.00", "10.00")
	for _, tc := range []struct {
		name   string
		faults sandbox.Faults
		code   string
		reason string
	}{
		{"503", sandbox.Faults{FailNext: 1}, "503", "HTTP 503"},
		{"fault", sandbox.Faults{FaultNext: 1, FaultStatus: 200}, sandbox.FaultInjected, "fault reply"},
		{"hang", sandbox.Faults{HangNext: 1}, "", "no answer within"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := e.sb.SetFaults(sandbox.EndpointConfirm, tc.faults); err != nil {
				t.Fatal(err)
			}
			_, err := e.client.ConfirmFunds(context.Background(), req)
			checkErr(t, err, true, tc.code, tc.reason)
		})
	}
	_, err := newClient(t, e.srv.URL+"/radial", "wrong-secret-key").ConfirmFunds(context.Background(), req)
	checkErr(t, err, true, "401", "API key")
}

func TestUnparseableAndUnreachable(t *testing.T) {
	junk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html>maintenance</html>"))
	}))
	defer junk.Close()
	c := newClient(t, junk.URL, apiKey)
	req := request("u-1", "O4", "Debit", "10.00", "10.00")
	_, err := c.Settle(context.Background(), req)
	checkErr(t, err, true, "", "unparseable reply")
	_, err = c.ConfirmFunds(context.Background(), req)
	checkErr(t, err, true, "", "unparseable reply")

	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close()
	_, err = newClient(t, url, apiKey).Settle(context.Background(), req)
	checkErr(t, err, true, "", "request failed")

	// A reply in a newer schema with unknown elements is tolerated.
	ext := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`<ConfirmFundsReply xmlns="` + messages.Namespace + `"><FundsAvailable>Success</FundsAvailable><NewThing>1</NewThing></ConfirmFundsReply>`))
	}))
	defer ext.Close()
	res, err := newClient(t, ext.URL, apiKey).ConfirmFunds(context.Background(), req)
	if err != nil || !res.Available {
		t.Fatalf("extended reply: %+v, %v", res, err)
	}
}

func TestConfirmRequestID(t *testing.T) {
	a := radial.ConfirmRequestID("req-1", 1)
	if a != radial.ConfirmRequestID("req-1", 1) || a == radial.ConfirmRequestID("req-1", 2) || a == radial.ConfirmRequestID("req-2", 1) {
		t.Fatal("ConfirmRequestID is not a deterministic function of (requestId, attempt)")
	}
	u, err := uuid.Parse(a)
	if err != nil || u.Version() != 5 || len(a) > 40 {
		t.Fatalf("%q: version %v, %v", a, u.Version(), err)
	}
}

func TestConfig(t *testing.T) {
	for _, c := range []radial.Config{
		{APIKey: "k"},
		{BaseURL: "ftp://x", APIKey: "k"},
		{BaseURL: "http://x"},
		{BaseURL: "http://x", APIKey: "k", Version: "1.0"},
		{BaseURL: "http://x?y=1", APIKey: "k"},
		{BaseURL: "http://x", APIKey: "k", Timeout: -time.Second},
	} {
		if _, err := radial.New(c, nil); err == nil {
			t.Errorf("%+v accepted", c)
		} else if c.APIKey != "" && strings.Contains(err.Error(), c.APIKey+"\"") {
			t.Errorf("error leaks the key: %v", err)
		}
	}
	d := radial.Config{BaseURL: "http://x/radial/", APIKey: "k"}.WithDefaults()
	if d.Version != "v1.0" || d.Timeout != 10*time.Second || d.BaseURL != "http://x/radial" {
		t.Fatalf("defaults = %+v", d)
	}
	c, err := radial.New(radial.Config{BaseURL: "http://127.0.0.1:1", APIKey: "k"}, nil)
	if err != nil || c.Name() != "radial" {
		t.Fatalf("New = %v, %v", c, err)
	}
	var _ providers.Provider = c
}
