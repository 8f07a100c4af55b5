package miva_test

import (
	"context"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/miva"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

func TestConfirmFundsContract(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, seedExample,
		sandbox.OrderSeed{OrderID: 300, Records: []sandbox.RecordSeed{
			{ID: 30, Type: sandbox.TypeAuth, Amount: "20.00"},
			{ID: 31, Type: sandbox.TypeAuthCapture, Amount: "50.00", Available: "10.00"},
			{ID: 32, Type: sandbox.TypeDeclined, Amount: "99.00"},
		}},
		sandbox.OrderSeed{OrderID: 301, Records: []sandbox.RecordSeed{
			{ID: 41, Type: sandbox.TypeAuth, Amount: "5.00"},
			{ID: 40, Type: sandbox.TypeAuth, Amount: "5.00"},
		}},
		sandbox.OrderSeed{OrderID: 302, Records: []sandbox.RecordSeed{
			{ID: 50, Type: sandbox.TypeAuth, Amount: "5.00", Available: "0"},
			{ID: 51, Type: sandbox.TypeCapture, Amount: "5.00", ParentID: 50},
		}},
	)
	base := debit("200102", "1.00")
	base.OrderID = "" // from PaymentContextBase
	base.Message.PaymentContext, base.Message.PaymentContextBase = nil, &messages.PaymentContextBase{OrderID: "200102"}
	override := debit("200102", "1.00")
	override.Headers[miva.HeaderPaymentID] = "2"
	overrideCapture := debit("302", "1.00")
	overrideCapture.Headers[miva.HeaderPaymentID] = "51"

	tests := []struct {
		name      string
		req       *providers.Request
		available bool
		payment   string
		before    string
		reason    []string
	}{
		{"legacy authorization (type 1)", debit("200102", "5.00"), true, "2", "2,4", nil},
		{"authorization (type 3): the smallest sufficient", debit("200102", "1.00"), true, "4", "2,4", nil},
		{"authorization + capture (type 5)", debit("300", "8.00"), true, "31", "30,31,32", nil},
		{"type 3 when type 5 has too little", debit("300", "10.01"), true, "30", "30,31,32", nil},
		{"tie: the lowest id", debit("301", "5.00"), true, "40", "40,41", nil},
		{"PaymentContextBase", base, true, "4", "2,4", nil},
		{"header override", override, true, "2", "2,4", nil},
		{"none sufficient", debit("200102", "7.01"), false, "", "2,4",
			[]string{"order 200102", "7.01 USD", "record 2 (legacy authorization) 7.00 USD available", "record 4 (authorization) 1.00 USD available"}},
		{"only captures", debit("302", "1.00"), false, "", "50,51", []string{"record 50 (authorization) 0.00 USD available"}},
		{"header names a capture", overrideCapture, false, "", "50,51", []string{"record 51", "(capture, header miva_payment_id) is not an authorization"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.client.ConfirmFunds(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if res.Available != tc.available || res.Refs[miva.RefPaymentID] != tc.payment || res.Refs[miva.RefRecordsBefore] != tc.before {
				t.Fatalf("result %+v", res)
			}
			for _, r := range tc.reason {
				if !strings.Contains(res.Reason, r) {
					t.Fatalf("reason %q lacks %q", res.Reason, r)
				}
			}
			if tc.available && res.Refs[miva.RefAvailableBefore] == "" {
				t.Fatalf("no available before: %+v", res.Refs)
			}
		})
	}
	if len(e.sb.Ledger()) != 0 {
		t.Fatal("ConfirmFunds moved money")
	}
	if body := e.lastBody(miva.FunctionPaymentList); !strings.Contains(body, `"Store_code":"beta"`) || !strings.Contains(body, `"Order_ID":302`) {
		t.Fatalf("list body: %s", body)
	}

	t.Run("errors", func(t *testing.T) {
		_, err := e.client.ConfirmFunds(context.Background(), debit("A-200102", "1.00"))
		checkErr(t, err, providers.Permanent, "", "Miva Order_ID must be numeric")
		_, err = e.client.ConfirmFunds(context.Background(), debit("999", "1.00"))
		checkErr(t, err, providers.Permanent, "order_not_found", "Order 999 not found")
		bad := debit("200102", "1.00")
		bad.Headers[miva.HeaderPaymentID] = "two"
		_, err = e.client.ConfirmFunds(context.Background(), bad)
		checkErr(t, err, providers.Permanent, "", "header miva_payment_id")
	})
}

// TestOtherCurrencyThanTheStoresIsRefusedBeforeAnyCall: Miva's API carries
// no currency, so a JPY 700 debit on a USD store once captured 700.00 USD
// and reported S. A settlement in another currency than the store's
// (Config.Currency) is refused before anything moves, debit or credit.
func TestOtherCurrencyThanTheStoresIsRefusedBeforeAnyCall(t *testing.T) {
	order := sandbox.OrderSeed{OrderID: 910, Records: []sandbox.RecordSeed{
		{ID: 91, Type: sandbox.TypeAuth, Amount: "1000.00"},
		{ID: 92, Type: sandbox.TypeCapture, Amount: "100.00", ParentID: 91},
	}}
	ctx := context.Background()
	tests := []struct {
		name string
		req  *providers.Request
		call func(*miva.Client, *providers.Request) error
	}{
		{"debit, ConfirmFunds", request("cur-1", "910", "Debit", "700", "JPY"), func(c *miva.Client, r *providers.Request) error {
			_, err := c.ConfirmFunds(ctx, r)
			return err
		}},
		{"debit, Settle", request("cur-2", "910", "Debit", "7.00", "EUR"), func(c *miva.Client, r *providers.Request) error {
			_, err := c.Settle(ctx, r)
			return err
		}},
		{"credit, Prepare", request("cur-3", "910", "Credit", "5.000", "KWD"), func(c *miva.Client, r *providers.Request) error {
			_, err := c.Prepare(ctx, r)
			return err
		}},
		{"credit, Settle", request("cur-4", "910", "Credit", "5.00", "GBP"), func(c *miva.Client, r *providers.Request) error {
			_, err := c.Settle(ctx, r)
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{}, order)
			calls := e.sb.Calls()
			checkErr(t, tc.call(e.client, tc.req), providers.Permanent, "", "store's currency is USD (MIVA_CURRENCY)")
			if e.sb.Calls() != calls || len(captures(e)) != 0 || len(refunds(e)) != 0 {
				t.Fatalf("Miva was called (%+v, before %+v) or money moved (captures %v, refunds %v)", e.sb.Calls(), calls, captures(e), refunds(e))
			}
		})
	}
	t.Run("pipeline: a JPY debit on a USD store ends R, nothing captured", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{}, order)
		p := newPipeline(t, e, "")
		p.deliver(t, settlementMessageIn(t, "cur-5", "910", messages.SettlementDebit, "700", "JPY"))
		st := statusOf(t, p.pub.take())
		if st == nil || st.SettlementStatus != messages.StatusRejected || !strings.Contains(st.DeclineReason, "MIVA_CURRENCY") {
			t.Fatalf("status %+v, want R naming MIVA_CURRENCY", st)
		}
		if n := len(captures(e)); n != 0 {
			t.Fatalf("captures %d, want none", n)
		}
	})
}
