package frisbii_test

import (
	"context"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/frisbii"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/frisbii"
)

// confirmed adds the refs ConfirmFunds records, as the pipeline does.
func confirmed(t *testing.T, e *env, r *providers.Request) *providers.Request {
	t.Helper()
	res, err := e.client.ConfirmFunds(context.Background(), r)
	if err != nil || !res.Available {
		t.Fatalf("ConfirmFunds = %+v, %v", res, err)
	}
	r.Refs = res.Refs
	return r
}

func TestSettleContract(t *testing.T) {
	tests := []struct {
		name   string
		seed   sandbox.ChargeSeed
		req    func(e *env) *providers.Request
		faults *sandbox.Faults
		// want is the outcome kind; empty means an error of class.
		want    providers.Kind
		reason  string
		class   providers.Class
		code    string
		settled int64 // the charge's settled amount afterwards
		calls   int   // settle calls that reached the sandbox
	}{
		{name: "full settle", seed: sandbox.ChargeSeed{Handle: "O1", Amount: 10000},
			req: func(e *env) *providers.Request { return debit("s1", "O1", "100.00") }, want: providers.Settled, settled: 10000, calls: 1},
		{name: "hard decline is refused with the reason",
			seed: sandbox.ChargeSeed{Handle: "O1", Amount: 10000, Decline: &sandbox.Decline{ErrorState: sandbox.ErrorStateHardDeclined, Error: "credit_card_expired"}},
			req:  func(e *env) *providers.Request { return debit("s1", "O1", "100.00") }, want: providers.Refused,
			reason: "hard_declined: credit_card_expired", calls: 1},
		{name: "soft decline is refused too",
			seed: sandbox.ChargeSeed{Handle: "O1", Amount: 10000, Decline: &sandbox.Decline{ErrorState: sandbox.ErrorStateSoftDeclined}},
			req:  func(e *env) *providers.Request { return debit("s1", "O1", "100.00") }, want: providers.Refused,
			reason: "soft_declined: insufficient_funds", calls: 1},
		{name: "processing error is transient",
			seed: sandbox.ChargeSeed{Handle: "O1", Amount: 10000, Decline: &sandbox.Decline{ErrorState: sandbox.ErrorStateProcessingError}},
			req:  func(e *env) *providers.Request { return debit("s1", "O1", "100.00") }, class: providers.Transient,
			code: "processing_error", reason: "acquirer_communication_error", calls: 1},
		{name: "503 is transient", seed: sandbox.ChargeSeed{Handle: "O1", Amount: 10000}, faults: &sandbox.Faults{FailNext: 1},
			req:   func(e *env) *providers.Request { return debit("s1", "O1", "100.00") },
			class: providers.Transient, code: "2", reason: "HTTP 503", calls: 1},
		{name: "timeout is transient", seed: sandbox.ChargeSeed{Handle: "O1", Amount: 10000}, faults: &sandbox.Faults{HangNext: 1},
			req:   func(e *env) *providers.Request { return debit("s1", "O1", "100.00") },
			class: providers.Transient, reason: "no answer within 1.5s", calls: 1},
		{name: "dropped reply is transient (and settled)", seed: sandbox.ChargeSeed{Handle: "O1", Amount: 10000}, faults: &sandbox.Faults{DropNext: 1},
			req:   func(e *env) *providers.Request { return debit("s1", "O1", "100.00") },
			class: providers.Transient, code: "502", reason: "HTTP 502", settled: 10000, calls: 1},
		{name: "error 79 on a first attempt is permanent",
			seed: sandbox.ChargeSeed{Handle: "O1", Amount: 10000},
			req: func(e *env) *providers.Request {
				r := confirmed(t, e, debit("s1", "O1", "100.00"))
				if _, err := e.sb.SeedCharge(sandbox.ChargeSeed{Handle: "O1", Amount: 10000, Currency: "USD", State: sandbox.StateSettled}); err != nil {
					t.Fatal(err)
				}
				return r
			},
			class: providers.Permanent, code: "79", reason: "Invoice already settled", settled: 10000, calls: 1},
		{name: "error 79 on a retry is unresolved, never settled (hole 4)", seed: sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled},
			req:   func(e *env) *providers.Request { r := debit("s1", "O1", "100.00"); r.Attempt = 2; return r },
			class: providers.Unresolved, code: "79", reason: "was not settled", settled: 10000, calls: 1},
		{name: "fully settled on a first attempt is refused before the call", seed: sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled},
			req:   func(e *env) *providers.Request { return debit("s1", "O1", "100.00") },
			class: providers.Permanent, reason: frisbii.ReasonFullySettled, settled: 10000},
		{name: "beyond the confirmed authorization is refused before the call",
			seed: sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled, SettledAmount: 9000},
			req: func(e *env) *providers.Request {
				r := confirmed(t, e, debit("s1", "O1", "10.00"))
				r.Amount = debit("", "", "10.01").Amount
				return r
			},
			class: providers.Permanent, reason: "only 10.00 USD of 100.00 USD left to settle; 10.01 USD requested", settled: 9000},
		{name: "Frisbii enforces the authorization too (error 102)",
			seed: sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled, SettledAmount: 9000},
			req: func(e *env) *providers.Request {
				// Confirmed when 80.00 was settled; another settle took 10.00 since.
				r := debit("s1", "O1", "10.01")
				r.Refs = map[string]string{frisbii.RefChargeHandle: "O1", frisbii.RefAuthorizedAmount: "10000", frisbii.RefSettledAmount: "8000"}
				return r
			},
			class: providers.Permanent, code: "102", reason: "Amount higher than authorized amount", settled: 9000, calls: 1},
		{name: "unknown charge", seed: sandbox.ChargeSeed{Handle: "O1", Amount: 10000},
			req:   func(e *env) *providers.Request { r := debit("s1", "NOPE", "1.00"); r.Attempt = 2; return r },
			class: providers.Permanent, code: "31", reason: "Invoice not found", calls: 1},
		{name: "acquirer reference too long", seed: sandbox.ChargeSeed{Handle: "O1", Amount: 10000},
			req: func(e *env) *providers.Request {
				r := debit("s1", "O1", "1.00")
				r.Headers[frisbii.HeaderAcquirerReference] = strings.Repeat("x", 129)
				return r
			},
			class: providers.Permanent, reason: "Frisbii allows at most 128"},
		{name: "acquirer reference not ASCII", seed: sandbox.ChargeSeed{Handle: "O1", Amount: 10000},
			req: func(e *env) *providers.Request {
				r := debit("s1", "O1", "1.00")
				r.Headers[frisbii.HeaderAcquirerReference] = "Bestellung Müller"
				return r
			},
			class: providers.Permanent, reason: `every character in [\x20-\x7F]`},
		{name: "fraction of a cent", seed: sandbox.ChargeSeed{Handle: "O1", Amount: 10000},
			req:   func(e *env) *providers.Request { return debit("s1", "O1", "10.005") },
			class: providers.Permanent, reason: "fraction of a minor unit"},
		{name: "beyond int32", seed: sandbox.ChargeSeed{Handle: "O1", Amount: 10000},
			req:   func(e *env) *providers.Request { return debit("s1", "O1", "21474836.48") },
			class: providers.Permanent, reason: "beyond Frisbii's maximum of 2147483647"},
		{name: "JPY has no decimals", seed: sandbox.ChargeSeed{Handle: "Y1", Amount: 1500, Currency: "JPY"},
			req:  func(e *env) *providers.Request { return request("s1", "Y1", "Debit", "1500", "JPY") },
			want: providers.Settled, settled: 1500, calls: 1},
		{name: "KWD has three", seed: sandbox.ChargeSeed{Handle: "K1", Amount: 1500, Currency: "KWD"},
			req:  func(e *env) *providers.Request { return request("s1", "K1", "Debit", "1.500", "KWD") },
			want: providers.Settled, settled: 1500, calls: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.seed(t, tc.seed)
			req := tc.req(e)
			if tc.faults != nil {
				e.faults(t, sandbox.EndpointSettle, *tc.faults)
			}
			out, err := e.client.Settle(context.Background(), req)
			if tc.want == "" {
				checkErr(t, err, tc.class, tc.code, tc.reason)
			} else {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if out.Kind != tc.want || !strings.Contains(out.Reason, tc.reason) || out.Ref == "" ||
					out.Refs[frisbii.RefIdempotencyKey] != "s1" || out.Refs[frisbii.RefChargeHandle] != req.OrderID {
					t.Fatalf("outcome %+v, want %s %q", out, tc.want, tc.reason)
				}
				noSecrets(t, out.Reason)
			}
			handle := req.OrderID
			if ci, ok := e.sb.ChargeInfo(handle); ok && ci.SettledAmount != tc.settled {
				t.Fatalf("settled %d, want %d", ci.SettledAmount, tc.settled)
			}
			if c := e.sb.Calls().Settle; c.Total != tc.calls {
				t.Fatalf("settle calls %d, want %d", c.Total, tc.calls)
			}
		})
	}
}

func TestSettleKeyAndRecovery(t *testing.T) {
	ctx := context.Background()
	t.Run("same key twice settles once", func(t *testing.T) {
		e := newEnv(t)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000})
		req := debit("once", "O1", "40.00")
		first, err := e.client.Settle(ctx, req)
		if err != nil || first.Kind != providers.Settled {
			t.Fatalf("first = %+v, %v", first, err)
		}
		req.Attempt = 2
		again, err := e.client.Settle(ctx, req)
		if err != nil || again.Kind != providers.Settled || again.Ref != first.Ref {
			t.Fatalf("again = %+v, %v (first %+v)", again, err, first)
		}
		es := e.sb.LedgerFiltered(sandbox.LedgerFilter{Handle: "O1"})
		if len(es) != 1 || es[0].Key != "once" || es[0].Amount != 4000 || es[0].Replays != 1 || e.settled(t, "O1") != 4000 {
			t.Fatalf("ledger = %+v", es)
		}
	})
	t.Run("reply lost after settling, retry with the same key", func(t *testing.T) {
		e := newEnv(t)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000})
		req := confirmed(t, e, debit("drop", "O1", "60.00"))
		e.faults(t, sandbox.EndpointSettle, sandbox.Faults{DropNext: 1})
		_, err := e.client.Settle(ctx, req)
		checkErr(t, err, providers.Transient, "502", "HTTP 502")
		// The pipeline retries through Reconcile (an uncertain attempt).
		req.Attempt = 2
		out, found, err := e.client.Reconcile(ctx, req)
		if err != nil || !found || out.Kind != providers.Settled {
			t.Fatalf("Reconcile = %+v, %v, %v", out, found, err)
		}
		es := e.sb.LedgerFiltered(sandbox.LedgerFilter{Handle: "O1"})
		if len(es) != 1 || !es[0].ReplyDropped || es[0].Replays != 1 || e.settled(t, "O1") != 6000 || out.Ref != es[0].Transaction {
			t.Fatalf("ledger = %+v, outcome %+v", es, out)
		}
	})
	t.Run("processing error, then the retry settles with the same key", func(t *testing.T) {
		e := newEnv(t)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, Decline: &sandbox.Decline{ErrorState: sandbox.ErrorStateProcessingError, Count: 1}})
		req := debit("proc", "O1", "100.00")
		_, err := e.client.Settle(ctx, req)
		checkErr(t, err, providers.Transient, "processing_error", "retried with the same idempotency key")
		req.Attempt = 2
		out, found, err := e.client.Reconcile(ctx, req)
		if err != nil || !found || out.Kind != providers.Settled || e.settled(t, "O1") != 10000 {
			t.Fatalf("Reconcile = %+v, %v, %v", out, found, err)
		}
	})
	t.Run("reconcile parks error 79 as unresolved", func(t *testing.T) {
		e := newEnv(t)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled})
		out, found, err := e.client.Reconcile(ctx, debit("late", "O1", "100.00"))
		if providers.ClassOf(err) != providers.Unresolved || out.Kind == providers.Settled || !strings.Contains(err.Error(), "Frisbii admin") {
			t.Fatalf("Reconcile = %+v, %v, %v", out, found, err)
		}
	})
	t.Run("a transient failure of reconcile is not found", func(t *testing.T) {
		e := newEnv(t)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000})
		e.faults(t, sandbox.EndpointSettle, sandbox.Faults{FailNext: 1})
		_, found, err := e.client.Reconcile(ctx, debit("r", "O1", "1.00"))
		if found || providers.ClassOf(err) != providers.Transient {
			t.Fatalf("found %v, err %v", found, err)
		}
	})
}

func TestPartialSettlesUpToTheAuthorization(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000})
	steps := []struct {
		id, amount string
		available  bool
		settled    int64
	}{
		{"p1", "40.00", true, 4000},
		{"p2", "50.00", true, 9000},
		{"p3", "10.01", false, 9000},
		{"p4", "10.00", true, 10000},
		{"p5", "0.01", false, 10000},
	}
	for _, st := range steps {
		req := debit(st.id, "O1", st.amount)
		res, err := e.client.ConfirmFunds(ctx, req)
		if err != nil || res.Available != st.available {
			t.Fatalf("%s: ConfirmFunds = %+v, %v", st.id, res, err)
		}
		req.Refs = res.Refs
		out, err := e.client.Settle(ctx, req)
		switch {
		case st.available && (err != nil || out.Kind != providers.Settled):
			t.Fatalf("%s: Settle = %+v, %v", st.id, out, err)
		case !st.available:
			// Even when called anyway, the client refuses before Frisbii.
			checkErr(t, err, providers.Permanent, "", "")
		}
		if got := e.settled(t, "O1"); got != st.settled {
			t.Fatalf("%s: settled %d, want %d", st.id, got, st.settled)
		}
	}
	if c := e.sb.Calls().Settle; c.Total != 3 || c.Processed != 3 {
		t.Fatalf("settle calls = %+v", c)
	}
}

func TestOrderLinesMapping(t *testing.T) {
	tests := []struct {
		name   string
		req    *providers.Request
		mode   string
		lines  int
		texts  []string
		amount int64
	}{
		{"lines that add up are sent as order lines",
			withLines(debit("l1", "O1", "59.97"), [3]string{"Shirt", "2", "19.99"}, [3]string{"Socks", "1", "19.99"}),
			"order_lines", 2, []string{"Shirt", "Socks"}, 5997},
		{"lines that do not add up: amount and ordertext",
			withLines(debit("l2", "O1", "20.00"), [3]string{"Shirt", "2", "19.99"}),
			"amount", 0, []string{"Shirt"}, 2000},
		{"fractional quantity: amount and ordertext",
			withLines(debit("l3", "O1", "15.00"), [3]string{"Cable (m)", "1.5", "10.00"}),
			"amount", 0, []string{"Cable (m)"}, 1500},
		{"no line items: amount with the invoice as ordertext", debit("l4", "O1", "12.00"), "amount", 0, []string{"Invoice INV-O1"}, 1200},
		{"JPY lines", withLines(request("l5", "O1", "Debit", "3000", "JPY"), [3]string{"Tea", "3", "1000"}), "order_lines", 1, []string{"Tea"}, 3000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, Currency: tc.req.Amount.Currency})
			out, err := e.client.Settle(context.Background(), tc.req)
			if err != nil || out.Kind != providers.Settled || out.Refs[frisbii.RefSettleMode] != tc.mode {
				t.Fatalf("Settle = %+v, %v", out, err)
			}
			ci, _ := e.sb.ChargeInfo("O1")
			es := ci.Transactions
			if len(es) != 1 || es[0].OrderLines != tc.lines || es[0].Amount != tc.amount || ci.SettledAmount != tc.amount {
				t.Fatalf("ledger = %+v", es)
			}
			var texts []string
			for _, ol := range ci.OrderLines {
				texts = append(texts, ol.OrderText)
			}
			if got, want := strings.Join(texts, "|"), strings.Join(tc.texts, "|"); !strings.Contains(got, want) {
				t.Fatalf("order lines %q, want %q", got, want)
			}
		})
	}
}

func TestAcquirerReferenceIsSent(t *testing.T) {
	e := newEnv(t)
	e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000})
	req := debit("a1", "O1", "1.00")
	ref := strings.Repeat("R", 128)
	req.Headers[frisbii.HeaderAcquirerReference] = ref
	if out, err := e.client.Settle(context.Background(), req); err != nil || out.Kind != providers.Settled {
		t.Fatalf("Settle = %+v, %v", out, err)
	}
	if es := e.sb.Ledger(); len(es) != 1 || es[0].AcquirerReference != ref {
		t.Fatalf("ledger = %+v", es)
	}
}
