package frisbii_test

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/internal/providertest"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/money"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/frisbii"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/frisbii"
)

const (
	apiKey  = "priv_contract_test_key_0123"
	pan     = "4400000000000008"
	timeout = 1500 * time.Millisecond
)

// clock is a settable time source for the sandbox.
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

// env is a sandbox on loopback and a client of it.
type env struct {
	sb     *sandbox.Sandbox
	srv    *httptest.Server
	clock  *clock
	client *frisbii.Client
}

func newEnv(t testing.TB) *env {
	t.Helper()
	clk := &clock{t: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)}
	sb, err := sandbox.NewSandbox(sandbox.Config{Prefix: "/frisbii", APIKey: apiKey, Now: clk.Now, RandSeed: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = sb.Close() }) // first: releases hanging calls
	return &env{sb: sb, srv: srv, clock: clk, client: newClient(t, srv.URL+"/frisbii", apiKey)}
}

func newClient(t testing.TB, base, key string) *frisbii.Client {
	t.Helper()
	c, err := frisbii.New(frisbii.Config{BaseURL: base, APIKey: key, Timeout: timeout, RefundRecheck: 5 * time.Second, SettleWindow: time.Nanosecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) seed(t testing.TB, s sandbox.ChargeSeed) {
	t.Helper()
	if s.Currency == "" {
		s.Currency = "USD"
	}
	if _, err := e.sb.SeedCharge(s); err != nil {
		t.Fatal(err)
	}
}

func (e *env) faults(t *testing.T, ep sandbox.Endpoint, f sandbox.Faults) {
	t.Helper()
	if err := e.sb.SetFaults(ep, f); err != nil {
		t.Fatal(err)
	}
}

// settled returns the charge's settled amount in the sandbox.
func (e *env) settled(t *testing.T, handle string) int64 {
	t.Helper()
	ci, ok := e.sb.ChargeInfo(handle)
	if !ok {
		t.Fatalf("no charge %s", handle)
	}
	return ci.SettledAmount
}

// request builds a settlement of amount (a decimal string in currency) for
// the order (= charge handle).
func request(id, order, typ, amount, currency string) *providers.Request {
	m := &messages.PaymentSettlementRequest{
		RequestID: id,
		PaymentContext: &messages.PaymentContext{
			OrderID:                order,
			PaymentAccountUniqueID: messages.AccountID{IsToken: "false", Value: pan},
		},
		InvoiceID:      "INV-" + order,
		Amount:         messages.Amount{CurrencyCode: currency, Value: amount},
		SettlementType: typ,
	}
	return &providers.Request{
		Provider:            frisbii.Name,
		RequestID:           id,
		StoreID:             "STORE1",
		TenderType:          "VC",
		OrderID:             order,
		Type:                typ,
		Amount:              money.MustParse(amount, currency),
		AuthorizationAmount: money.MustParse(amount, currency),
		Attempt:             1,
		Headers:             map[string]string{},
		Message:             m,
	}
}

func debit(id, order, amount string) *providers.Request {
	return request(id, order, messages.SettlementDebit, amount, "USD")
}

func credit(id, order, amount string) *providers.Request {
	return request(id, order, messages.SettlementCredit, amount, "USD")
}

// withLines adds InvoiceData line items (description, quantity, unit price).
func withLines(r *providers.Request, items ...[3]string) *providers.Request {
	li := make([]messages.LineItem, len(items))
	for i, it := range items {
		li[i] = messages.LineItem{ItemID: "SKU" + it[0], ItemShortDescription: it[0], Quantity: it[1],
			VATInclusiveUnitPrice: &messages.Amount{CurrencyCode: r.Amount.Currency, Value: it[2]}}
	}
	r.Message.InvoiceData = &messages.InvoiceData{LineItems: &messages.LineItems{LineItem: li}}
	return r
}

// checkErr verifies an error's class, code and reason, and that no secret
// leaks into it.
func checkErr(t *testing.T, err error, class providers.Class, code, reason string) {
	t.Helper()
	providertest.ErrorIs(t, err, class, code, reason)
	noSecrets(t, err.Error())
}

func noSecrets(t *testing.T, s string) {
	t.Helper()
	for _, secret := range []string{pan, apiKey, "priv_wrong_secret"} {
		if strings.Contains(s, secret) {
			t.Fatalf("leaks a secret: %s", s)
		}
	}
}
