package miva_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/miva"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// confirmed runs ConfirmFunds and copies its refs into the request, as
// the pipeline does before Settle.
func confirmed(t *testing.T, e *env, req *providers.Request) *providers.Request {
	t.Helper()
	res, err := e.clientFor(t, req).ConfirmFunds(context.Background(), req)
	if err != nil || !res.Available {
		t.Fatalf("ConfirmFunds = %+v, %v", res, err)
	}
	req.Refs = res.Refs
	return req
}

func TestSettleDebitContract(t *testing.T) {
	orders := []sandbox.OrderSeed{
		seedExample,
		{OrderID: 600, Records: []sandbox.RecordSeed{{ID: 60, Type: sandbox.TypeAuth, Amount: "10.00", DeclineCapture: "This transaction has been declined."}}},
		{OrderID: 700, Currency: "JPY", Records: []sandbox.RecordSeed{{ID: 70, Type: sandbox.TypeAuth, Amount: "1500"}}},
		{OrderID: 800, Currency: "KWD", Records: []sandbox.RecordSeed{{ID: 80, Type: sandbox.TypeAuth, Amount: "2.500"}}},
	}
	jpy := request("jp-1", "700", messages.SettlementDebit, "700", "JPY")
	kwd := request("kw-1", "800", messages.SettlementDebit, "1.250", "KWD")
	tests := []struct {
		name      string
		faults    *sandbox.Faults
		token     string
		req       *providers.Request
		stale     bool // capture 1.50 of the legacy authorization after the confirmation
		kind      providers.Kind
		reason    string
		errClass  *providers.Class
		errCode   string
		captures  int
		newType   int
		amount    string // captured, as the ledger writes it
		bodyAmt   string // the Amount literal sent
		available string // of the authorization afterwards
	}{
		{name: "full capture of the type 3 authorization", req: debit("200102", "1.00"), kind: providers.Settled,
			captures: 1, newType: sandbox.TypeCapture, amount: "1.00", bodyAmt: `"Amount":1.00`, available: "0.00"},
		{name: "partial capture of the legacy authorization", req: debit("200102", "3.50"), kind: providers.Settled,
			captures: 1, newType: sandbox.TypeLegacyCapture, amount: "3.50", bodyAmt: `"Amount":3.50`, available: "3.50"},
		{name: "JPY has no decimals", req: jpy, kind: providers.Settled, captures: 1, newType: sandbox.TypeCapture, amount: "700", bodyAmt: `"Amount":700,`, available: "800"},
		{name: "KWD has three", req: kwd, kind: providers.Settled, captures: 1, newType: sandbox.TypeCapture, amount: "1.250", bodyAmt: `"Amount":1.250,`, available: "1.250"},
		{name: "gateway decline → Refused with Miva's message", req: debit("600", "4.00"), kind: providers.Refused, reason: "This transaction has been declined."},
		{name: "beyond what is left, no other authorization covers it → Refused", req: debit("200102", "7.00"), stale: true, kind: providers.Refused, reason: "exceeds the amount available for capture"},
		{name: "wrong token → transient", token: "wrong-token-xyz", req: debit("200102", "1.00"), errClass: ptr(providers.Transient), errCode: "access_denied", reason: "MIVA_API_TOKEN"},
		{name: "503 → transient", faults: &sandbox.Faults{FailNext: 1}, req: debit("200102", "1.00"), errClass: ptr(providers.Transient), errCode: "503", reason: "HTTP 503"},
		{name: "gateway unreachable → transient", faults: &sandbox.Faults{ErrorNext: 1}, req: debit("200102", "1.00"), errClass: ptr(providers.Transient), errCode: "processor_unavailable", reason: "processor_unavailable"},
		{name: "hang → transient timeout", faults: &sandbox.Faults{HangNext: 1}, req: debit("200102", "1.00"), errClass: ptr(providers.Transient), reason: "no answer within 1.5s"},
		{name: "lost reply → transient, money moved", faults: &sandbox.Faults{DropNext: 1}, req: debit("200102", "1.00"), errClass: ptr(providers.Transient), errCode: "502", reason: "HTTP 502",
			captures: 1, newType: sandbox.TypeCapture, amount: "1.00", available: "0.00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{}, orders...)
			req := confirmed(t, e, tc.req)
			if tc.stale {
				if _, err := e.client.Settle(context.Background(), confirmed(t, e, debit("200102", "1.50"))); err != nil {
					t.Fatal(err)
				}
			}
			before := len(captures(e))
			if tc.faults != nil {
				if err := e.sb.SetFaults(sandbox.EndpointCapture, *tc.faults); err != nil {
					t.Fatal(err)
				}
			}
			client := e.clientFor(t, req)
			if tc.token != "" {
				client = newClient(t, e.url, tc.token, "")
			}
			start := time.Now()
			out, err := client.Settle(context.Background(), req)
			if tc.errClass != nil {
				checkErr(t, err, *tc.errClass, tc.errCode, tc.reason)
				if tc.faults != nil && tc.faults.HangNext > 0 && time.Since(start) > timeout+2*time.Second {
					t.Fatalf("hang answered after %s", time.Since(start))
				}
			} else {
				if err != nil {
					t.Fatalf("Settle: %v", err)
				}
				if out.Kind != tc.kind || !strings.Contains(out.Reason, tc.reason) {
					t.Fatalf("outcome %+v, want %s %q", out, tc.kind, tc.reason)
				}
				noSecrets(t, out.Reason)
			}
			cs := captures(e)[before:]
			if len(cs) != tc.captures {
				t.Fatalf("%d captures, want %d", len(cs), tc.captures)
			}
			if tc.captures == 0 {
				return
			}
			c := cs[0]
			if c.Amount != tc.amount || c.Type != tc.newType || c.PaymentID != mustID(req.Refs[miva.RefPaymentID]) {
				t.Fatalf("ledger %+v", c)
			}
			if tc.errClass == nil {
				if out.Ref == "" || out.Ref != out.Refs[miva.RefCaptureID] || mustID(out.Ref) != c.RecordID {
					t.Fatalf("outcome %+v does not name capture record %d", out, c.RecordID)
				}
			}
			if tc.bodyAmt != "" && !strings.Contains(e.lastBody(miva.FunctionCapture), tc.bodyAmt) {
				t.Fatalf("capture body %s lacks %s", e.lastBody(miva.FunctionCapture), tc.bodyAmt)
			}
			o, _ := e.sb.Order(c.OrderID)
			for _, r := range o.Records {
				if r.ID == c.PaymentID && !r.Available.Equal(decimal.RequireFromString(tc.available)) {
					t.Fatalf("available after: %s, want %s", r.Available, tc.available)
				}
			}
		})
	}

	t.Run("permanent errors", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{}, seedExample)
		_, err := e.client.Settle(context.Background(), debit("ORDER-1", "1.00"))
		checkErr(t, err, providers.Permanent, "", "Miva Order_ID must be numeric")
		bad := debit("200102", "1.00")
		bad.Type = "Refund"
		_, err = e.client.Settle(context.Background(), bad)
		checkErr(t, err, providers.Permanent, "", "not Debit or Credit")
		if len(e.sb.Ledger()) != 0 {
			t.Fatal("money moved")
		}
	})

	t.Run("without a confirmation the client confirms first", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{}, seedExample)
		out, err := e.client.Settle(context.Background(), debit("200102", "7.00"))
		if err != nil || out.Kind != providers.Settled || out.Refs[miva.RefPaymentID] != "2" {
			t.Fatalf("%+v, %v", out, err)
		}
		out, err = e.client.Settle(context.Background(), debit("200102", "2.00"))
		if err != nil || out.Kind != providers.Refused || !strings.Contains(out.Reason, "funds not available") {
			t.Fatalf("%+v, %v", out, err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

func mustID(s string) int64 {
	var n int64
	for _, c := range s {
		n = n*10 + int64(c-'0')
	}
	return n
}
