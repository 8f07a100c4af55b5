package miva_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/internal/providertest"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/money"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/miva"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

const (
	token      = "contract-test-token-3d50f526"
	signingKey = "c2VjcmV0LXNpZ25pbmcta2V5LWZvci1jb250cmFjdA==" // base64
	storeCode  = "beta"
	pan        = "4400000000000008"
	timeout    = 1500 * time.Millisecond
)

// seedExampleResponse is the seed document's OrderPaymentList_Load
// example answer, verbatim.
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

// seedExample seeds the records of the seed's example.
var seedExample = sandbox.OrderSeed{OrderID: 200102, Records: []sandbox.RecordSeed{
	{ID: 2, Type: sandbox.TypeLegacyAuth, Refnum: "200102", Amount: "7.00", DTStamp: 1536097658, PayID: 115},
	{ID: 4, Type: sandbox.TypeAuth, Refnum: "cj35mhgm", Amount: "1.00", DTStamp: 1537307983, PayID: 113},
}}

// env is a sandbox on loopback, a client of it and the request bodies the
// sandbox received.
type env struct {
	sb     *sandbox.Sandbox
	srv    *httptest.Server
	client *miva.Client
	url    string

	mu     sync.Mutex
	bodies []string
}

func newEnv(t testing.TB, cfg sandbox.Config, seeds ...sandbox.OrderSeed) *env {
	t.Helper()
	cfg.Prefix, cfg.APIToken = "/miva", token
	sb, err := sandbox.NewSandbox(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{sb: sb}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.bodies = append(e.bodies, string(b))
		e.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		sb.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	t.Cleanup(func() { _ = sb.Close() }) // first: releases hanging calls
	e.url = sb.URL(e.srv.URL)
	key := ""
	if cfg.SigningKey != "" {
		key = cfg.SigningKey
	}
	e.client = newClient(t, e.url, token, key)
	for _, s := range seeds {
		if _, err := sb.SeedOrder(s); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func newClient(t testing.TB, url, tok, key string) *miva.Client {
	t.Helper()
	c, err := miva.New(miva.Config{BaseURL: url, StoreCode: storeCode, APIToken: tok, SigningKey: key, Timeout: timeout, SettleWindow: time.Nanosecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// clientFor is e's client (a store in miva.DefaultCurrency), or a client of
// the same sandbox for a store in req's currency.
func (e *env) clientFor(t *testing.T, req *providers.Request) *miva.Client {
	t.Helper()
	if req.Amount.Currency == "" || req.Amount.Currency == miva.DefaultCurrency {
		return e.client
	}
	c, err := miva.New(miva.Config{BaseURL: e.url, StoreCode: storeCode, APIToken: token, Currency: req.Amount.Currency,
		Timeout: timeout, SettleWindow: time.Nanosecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// lastBody returns the last request body whose Function is function.
func (e *env) lastBody(function string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.bodies) - 1; i >= 0; i-- {
		if strings.Contains(e.bodies[i], `"Function":"`+function+`"`) {
			return e.bodies[i]
		}
	}
	return ""
}

// request builds a settlement of amount for order.
func request(id, order, typ, amount, currency string) *providers.Request {
	m := &messages.PaymentSettlementRequest{
		RequestID: id,
		PaymentContext: &messages.PaymentContext{
			OrderID:                order,
			PaymentAccountUniqueID: messages.AccountID{IsToken: "false", Value: pan},
		},
		InvoiceID:      "INV-1",
		Amount:         messages.Amount{CurrencyCode: currency, Value: amount},
		SettlementType: typ,
	}
	return &providers.Request{
		Provider:  miva.Name,
		RequestID: id,
		StoreID:   storeCode,
		OrderID:   order,
		Type:      typ,
		Amount:    money.MustParse(amount, currency),
		Attempt:   1,
		Headers:   map[string]string{},
		Message:   m,
		Refs:      map[string]string{},
	}
}

func debit(order, amount string) *providers.Request {
	return request("d-"+order+"-"+amount, order, messages.SettlementDebit, amount, "USD")
}

func credit(order, amount string) *providers.Request {
	return request("c-"+order+"-"+amount, order, messages.SettlementCredit, amount, "USD")
}

// checkErr verifies an error's class and reason and that no secret leaks.
func checkErr(t *testing.T, err error, class providers.Class, code, reason string) {
	t.Helper()
	providertest.ErrorIs(t, err, class, code, reason)
	noSecrets(t, err.Error())
}

func noSecrets(t *testing.T, s string) {
	t.Helper()
	for _, secret := range []string{token, signingKey, pan, "wrong-token-xyz"} {
		if strings.Contains(s, secret) {
			t.Fatalf("leaks a secret: %s", s)
		}
	}
}

// captures returns the sandbox's capture ledger entries.
func captures(e *env) []sandbox.Entry {
	return e.sb.LedgerFiltered(sandbox.LedgerFilter{Function: sandbox.FunctionCapture})
}

// checkCaptureAnswer checks Settle's answer (out, err) to a capture whose
// confirmed authorization can no longer take it: with kind "", an error of
// class naming reason (never R, nor NotSent when transient) and no capture;
// else an outcome of kind naming reason and, unless target is 0 (then no
// capture), one capture on authorization target, which S names.
func checkCaptureAnswer(t *testing.T, e *env, out providers.Outcome, err error, kind providers.Kind, class providers.Class, reason string, target int64) {
	t.Helper()
	if kind == "" {
		if err == nil && out.Kind == providers.Refused {
			t.Fatalf("R (%q), want %v", out.Reason, class)
		}
		checkErr(t, err, class, "", reason)
		if class == providers.Transient && providers.WasNotSent(err) {
			t.Errorf("NotSent (%v): the retry must reconcile first", err)
		}
		if cs := captures(e); len(cs) != 0 {
			t.Fatalf("captures %+v, want none", cs)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if out.Kind != kind || !strings.Contains(out.Reason, reason) {
		t.Fatalf("outcome %+v, want %s %q", out, kind, reason)
	}
	cs := captures(e)
	if target == 0 {
		if len(cs) != 0 {
			t.Fatalf("captures %+v, want none", cs)
		}
		return
	}
	if len(cs) != 1 || cs[0].PaymentID != target || mustID(out.Ref) != cs[0].RecordID ||
		out.Refs[miva.RefPaymentID] != strconv.FormatInt(target, 10) {
		t.Fatalf("captures %+v, outcome %+v; want one capture on %d named by S", cs, out, target)
	}
}

func refunds(e *env) []sandbox.Entry {
	return e.sb.LedgerFiltered(sandbox.LedgerFilter{Function: sandbox.FunctionRefund})
}
