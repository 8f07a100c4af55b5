package paysafe_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/internal/providertest"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/money"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/paysafe"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/paysafe"
)

const (
	user    = "contract-user"
	pass    = "contract-secret-password"
	store   = "STORE-US"
	storeJP = "STORE-JP"
	storeKW = "STORE-KW"
	acct    = "89987201"
	acctJP  = "1001"
	acctKW  = "1002"
	pan     = "4400000000000008"
	timeout = 1500 * time.Millisecond
	recheck = 7 * time.Second
)

// env is a sandbox on loopback (manual batching) and a client of it.
type env struct {
	sb     *sandbox.Sandbox
	srv    *httptest.Server
	client *paysafe.Client
}

func newEnv(t testing.TB, cfg sandbox.Config) *env {
	t.Helper()
	cfg.Prefix, cfg.Username, cfg.Password = "/paysafe", user, pass
	if cfg.BatchInterval == 0 {
		cfg.BatchInterval = -1
	}
	sb, err := sandbox.NewSandbox(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = sb.Close() }) // first: releases hanging calls
	return &env{sb: sb, srv: srv, client: newClient(t, srv.URL+"/paysafe", user, pass)}
}

func clientConfig(base, u, p string) paysafe.Config {
	return paysafe.Config{
		BaseURL:      base,
		Username:     u,
		Password:     p,
		Accounts:     map[string]string{store: acct, storeJP: acctJP, storeKW: acctKW},
		Currencies:   map[string]string{acctJP: "JPY"},
		Timeout:      timeout,
		SettleWindow: time.Nanosecond,
		RecheckAfter: recheck,
	}
}

func newClient(t testing.TB, base, u, p string) *paysafe.Client {
	t.Helper()
	c, err := paysafe.New(clientConfig(base, u, p), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// authorize seeds an authorization of amount minor units.
func (e *env) authorize(t testing.TB, a sandbox.Authorization) string {
	t.Helper()
	if a.AccountID == "" {
		a.AccountID = acct
	}
	if a.Currency == "" {
		a.Currency = "USD"
	}
	st, err := e.sb.Authorize(a)
	if err != nil {
		t.Fatal(err)
	}
	return st.ID
}

// settleWithoutDupCheck creates, as someone else would, a settlement of
// amount minor units on authID with merchantRefNum ref and dupCheck off,
// so that Paysafe holds several transactions with one merchantRefNum.
func (e *env) settleWithoutDupCheck(t *testing.T, authID, ref string, amount int) {
	t.Helper()
	body := `{"merchantRefNum":"` + ref + `","amount":` + strconv.Itoa(amount) + `,"dupCheck":false}`
	hr, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/paysafe/cardpayments/v1/accounts/"+acct+"/auths/"+authID+"/settlements", strings.NewReader(body))
	hr.SetBasicAuth(user, pass)
	resp, err := e.srv.Client().Do(hr)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("settlement %s without dupCheck: %v %v", ref, resp, err)
	}
	resp.Body.Close()
}

// debit builds a debit of amount (decimal text) against authID.
func debit(id, authID, amount, currency string) *providers.Request {
	r := request(id, messages.SettlementDebit, amount, currency)
	r.Headers[paysafe.HeaderAuthorizationID] = authID
	return r
}

// credit builds a credit refunding settlementID.
func credit(id, settlementID, amount, currency string) *providers.Request {
	r := request(id, messages.SettlementCredit, amount, currency)
	r.Headers[paysafe.HeaderSettlementID] = settlementID
	return r
}

func request(id, typ, amount, currency string) *providers.Request {
	st := store
	switch currency {
	case "JPY":
		st = storeJP
	case "KWD":
		st = storeKW
	}
	m := &messages.PaymentSettlementRequest{
		RequestID: id,
		PaymentContext: &messages.PaymentContext{
			OrderID:                "O-" + id,
			PaymentAccountUniqueID: messages.AccountID{IsToken: "false", Value: pan},
		},
		InvoiceID:      "INV-" + id,
		Amount:         messages.Amount{CurrencyCode: currency, Value: amount},
		SettlementType: typ,
	}
	amt := money.MustParse(amount, currency)
	return &providers.Request{
		Provider:            "paysafe",
		RequestID:           id,
		StoreID:             st,
		TenderType:          "VC",
		OrderID:             "O-" + id,
		Type:                typ,
		Amount:              amt,
		AuthorizationAmount: amt,
		Attempt:             1,
		Headers:             map[string]string{},
		Message:             m,
		Refs:                map[string]string{},
	}
}

// withRefs records refs the way the pipeline does before the next step.
func withRefs(req *providers.Request, out providers.Outcome) *providers.Request {
	cp := *req
	cp.Refs = map[string]string{}
	for k, v := range req.Refs {
		cp.Refs[k] = v
	}
	for k, v := range out.Refs {
		cp.Refs[k] = v
	}
	return &cp
}

// checkErr verifies the classification, the code, the reason and that no
// secret leaks.
func checkErr(t *testing.T, err error, class providers.Class, code, reason string) {
	t.Helper()
	providertest.ErrorIs(t, err, class, code, reason)
	noSecrets(t, err.Error())
}

func noSecrets(t *testing.T, s string) {
	t.Helper()
	for _, secret := range []string{pan, pass, user, "wrong-secret-password"} {
		if strings.Contains(s, secret) {
			t.Fatalf("%q leaks a secret", s)
		}
	}
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// mustOutcome requires an outcome of kind without error.
func mustOutcome(t *testing.T, out providers.Outcome, err error, kind providers.Kind) providers.Outcome {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if out.Kind != kind {
		t.Fatalf("outcome %+v, want %s", out, kind)
	}
	noSecrets(t, out.Reason)
	return out
}

// expect returns a checker for a Settle or Poll result of kind.
func expect(t *testing.T, kind providers.Kind) func(providers.Outcome, error) providers.Outcome {
	t.Helper()
	return func(out providers.Outcome, err error) providers.Outcome {
		t.Helper()
		return mustOutcome(t, out, err, kind)
	}
}
