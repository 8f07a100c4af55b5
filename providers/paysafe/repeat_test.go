package paysafe_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/paysafe"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/paysafe"
)

// TestRepeatRefusedAfterItsFirstAttemptMovedMoneyIsNeverR: a settlement
// or refund call is repeated (the pipeline's next attempt, a poll of a
// refund awaiting the batch) after an earlier attempt of the same request
// was created at Paysafe with its answer lost. The sandbox answers such a
// repeat 5031 (it checks the merchantRefNum first); Paysafe, whose order of
// checks is not documented, may answer the state the first attempt left:
// 3203 (the authorization is now fully settled), 3204 (the rest no longer
// covers the amount), 3202 (its last settlement), 3406 (the settlement no
// longer has the amount to refund), or a code the client does not know.
// The repeat's refusal is injected (fail_next with the code; the sandbox
// does not act on it), and judged from the sandbox's ledger: the first
// attempt's transaction is there, so the request must get its outcome,
// never an R. Without an earlier attempt the same refusal stays an R.
func TestRepeatRefusedAfterItsFirstAttemptMovedMoneyIsNeverR(t *testing.T) {
	tests := []struct {
		name     string
		credit   bool
		currency string
		amount   string
		code     string
		reason   string // of the R without an earlier attempt
	}{
		{name: "debit 3203 already settled", currency: "USD", amount: "25.00", code: paysafe.CodeAlreadySettled, reason: "fully settled or cancelled"},
		{name: "debit 3204 amount exceeds", currency: "JPY", amount: "2500", code: paysafe.CodeAmountExceeds, reason: "exceeds what remains"},
		{name: "debit 3202 max settlements", currency: "USD", amount: "25.00", code: paysafe.CodeMaxSettlements, reason: "maximum number of settlements"},
		{name: "debit unknown code", currency: "KWD", amount: "2.500", code: "3999", reason: "refused the request"},
		{name: "credit 3406 refund exceeds", credit: true, currency: "USD", amount: "25.00", code: paysafe.CodeRefundExceeds, reason: "exceeds what remains refundable"},
		{name: "credit unknown code", credit: true, currency: "JPY", amount: "2500", code: "3999", reason: "refused the request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{})
			account := map[string]string{"USD": acct, "JPY": acctJP, "KWD": acctKW}[tc.currency]
			ep, kind := sandbox.EndpointSettle, sandbox.KindSettlement
			var req, fresh *providers.Request
			if tc.credit {
				_, settlementID := batchedSettlement(t, e, account, tc.currency, tc.amount)
				req = credit("rep-1", settlementID, tc.amount, tc.currency)
				fresh = credit("rep-fresh", settlementID, tc.amount, tc.currency)
				ep, kind = sandbox.EndpointRefund, sandbox.KindRefund
			} else {
				d := debit("x", "", tc.amount, tc.currency)
				minor, err := d.Amount.MinorUnits()
				if err != nil {
					t.Fatal(err)
				}
				authID := e.authorize(t, sandbox.Authorization{AccountID: account, Currency: tc.currency, Amount: minor})
				req = debit("rep-1", authID, tc.amount, tc.currency)
				fresh = debit("rep-fresh", authID, tc.amount, tc.currency)
			}

			// Attempt 1 is created at Paysafe, its answer lost (502).
			if err := e.sb.SetFaults(ep, sandbox.Faults{DropNext: 1}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.client.Settle(ctx(t), req); providers.ClassOf(err) != providers.Transient {
				t.Fatalf("attempt 1: %v", err)
			}
			first := e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: kind, MerchantRefNum: req.RequestID})
			if len(first) != 1 || !first[0].ReplyDropped {
				t.Fatalf("ledger after attempt 1 = %+v", first)
			}

			// The repeat is refused with the state attempt 1 left.
			if err := e.sb.SetFaults(ep, sandbox.Faults{FailNext: 1, FailStatus: 400, FailCode: tc.code}); err != nil {
				t.Fatal(err)
			}
			again := *req
			again.Attempt = 2
			out, err := e.client.Settle(ctx(t), &again)
			if err != nil || out.Kind == providers.Refused {
				t.Fatalf("the repeat of a %s that Paysafe holds (%s %d %s) answered %+v %v: an R over money that moved",
					kind, first[0].ID, first[0].Amount, first[0].Currency, out, err)
			}
			mustOutcome(t, out, err, providers.Pending)
			if out.Ref != first[0].ID {
				t.Fatalf("outcome of %s, want the first attempt's %s", out.Ref, first[0].ID)
			}
			e.sb.RunBatch()
			polled := withRefs(&again, out)
			expect(t, providers.Settled)(e.client.Poll(ctx(t), polled))
			if es := e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: kind, MerchantRefNum: req.RequestID}); len(es) != 1 {
				t.Fatalf("%d %ss for the request, want 1", len(es), kind)
			}

			// The same refusal of a request Paysafe holds nothing of is R.
			if err := e.sb.SetFaults(ep, sandbox.Faults{FailNext: 1, FailStatus: 400, FailCode: tc.code}); err != nil {
				t.Fatal(err)
			}
			_, err = e.client.Settle(ctx(t), fresh)
			checkErr(t, err, providers.Permanent, tc.code, tc.reason)
		})
	}
}

// TestRefusalWhoseLookupFailsIsNeverR: the lookup by merchantRefNum that
// must precede an R fails (HTTP 500): the refusal may be over the money of
// an earlier attempt, so it is transient (retried, then parked), never R.
func TestRefusalWhoseLookupFailsIsNeverR(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	authID := e.authorize(t, sandbox.Authorization{Amount: 2500})
	req := debit("rep-lookup", authID, "25.00", "USD")
	if err := e.sb.SetFaults(sandbox.EndpointSettle, sandbox.Faults{DropNext: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Settle(ctx(t), req); providers.ClassOf(err) != providers.Transient {
		t.Fatalf("attempt 1: %v", err)
	}
	if err := e.sb.SetFaults(sandbox.EndpointSettle, sandbox.Faults{FailNext: 1, FailStatus: 400, FailCode: paysafe.CodeAlreadySettled}); err != nil {
		t.Fatal(err)
	}
	if err := e.sb.SetFaults(sandbox.EndpointLookup, sandbox.Faults{FailNext: 1, FailStatus: 500}); err != nil {
		t.Fatal(err)
	}
	_, err := e.client.Settle(ctx(t), req)
	checkErr(t, err, providers.Transient, paysafe.CodeAlreadySettled, "it is not refused until a lookup of merchantRefNum rep-lookup shows no earlier attempt")
	if n := len(e.sb.Ledger()); n != 1 {
		t.Fatalf("%d ledger entries, want 1", n)
	}
}

// TestLookupReplyWithoutItsListIsNotNothing: a lookup by merchantRefNum is
// what stands between a refusal and an R, and between a lost answer and a
// second submission; a 200 whose body lacks the list of its kind
// ("settlements", "refunds": another shape, another API version, a proxy's
// page) says nothing about what Paysafe holds. Before the fix it read as
// "no transaction": a repeat answered 3203 became an R although the first
// attempt's settlement, which the reply listed under another key, was there.
// So was a listed settlement without a merchantRefNum (the lookup is by
// merchantRefNum: it may be this request's), dropped as another's.
func TestLookupReplyWithoutItsListIsNotNothing(t *testing.T) {
	const settlement = `{"id":"s-1","merchantRefNum":"shape-1","status":"COMPLETED","amount":2500}`
	tests := []struct {
		name, lookup string
		credit       bool
	}{
		{name: "settlements under another key", lookup: `{"settlement":[` + settlement + `]}`},
		{name: "empty object", lookup: `{}`},
		{name: "settlements null", lookup: `{"settlements":null}`},
		{name: "refunds under the settlements key", lookup: `{"settlements":[` + settlement + `]}`, credit: true},
		{name: "a settlement without merchantRefNum", lookup: `{"settlements":[{"id":"s-1","status":"COMPLETED","amount":2500}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if r.Method == http.MethodGet && r.URL.Query().Has("merchantRefNum") {
					_, _ = w.Write([]byte(tc.lookup))
					return
				}
				code := paysafe.CodeAlreadySettled
				if tc.credit {
					code = paysafe.CodeRefundExceeds
				}
				w.Header().Set("X-Application-Status-Code", code)
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"error":{"code":"` + code + `","message":"refused"}}`))
			}))
			t.Cleanup(srv.Close)
			c := newClient(t, srv.URL, user, pass)
			req := debit("shape-1", "a1", "25.00", "USD")
			if tc.credit {
				req = credit("shape-1", "s-0", "25.00", "USD")
			}
			req.Attempt = 2
			_, err := c.Settle(ctx(t), req)
			checkErr(t, err, providers.Transient, "", "what Paysafe holds under merchantRefNum shape-1 is unknown")
			_, found, err := c.Reconcile(ctx(t), req)
			if found {
				t.Fatal("Reconcile found a transaction in a reply without its list")
			}
			checkErr(t, err, providers.Transient, "", "list")
		})
	}
}

// TestRepeatAnsweredWithTheStateItLeft runs the repeat against a sandbox
// that checks the authorization's (the settlement's) state before the
// merchantRefNum (Config.StateBeforeDupCheck), so that the refusal of the
// repeat is the sandbox's own ledger speaking, not an injected fault: a
// whole settlement (3203), a partial one that took more than the rest
// leaves (3204) and a whole refund (3406), each created with its answer
// lost. The repeat answers the first attempt's transaction; the ledger
// holds exactly one, of the request's amount.
func TestRepeatAnsweredWithTheStateItLeft(t *testing.T) {
	tests := []struct {
		name, currency, auth, amount string
		credit                       bool
		want                         int64
	}{
		{name: "whole settlement, 3203", currency: "USD", auth: "25.00", amount: "25.00", want: 2500},
		{name: "partial settlement, 3204", currency: "KWD", auth: "2.500", amount: "1.500", want: 1500},
		{name: "whole refund, 3406", currency: "JPY", auth: "2500", amount: "2500", credit: true, want: 2500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{StateBeforeDupCheck: true})
			account := map[string]string{"USD": acct, "JPY": acctJP, "KWD": acctKW}[tc.currency]
			ep, kind := sandbox.EndpointSettle, sandbox.KindSettlement
			var req *providers.Request
			if tc.credit {
				_, settlementID := batchedSettlement(t, e, account, tc.currency, tc.auth)
				req = credit("state-1", settlementID, tc.amount, tc.currency)
				ep, kind = sandbox.EndpointRefund, sandbox.KindRefund
			} else {
				minor, err := debit("x", "", tc.auth, tc.currency).Amount.MinorUnits()
				if err != nil {
					t.Fatal(err)
				}
				authID := e.authorize(t, sandbox.Authorization{AccountID: account, Currency: tc.currency, Amount: minor})
				req = debit("state-1", authID, tc.amount, tc.currency)
			}
			if err := e.sb.SetFaults(ep, sandbox.Faults{DropNext: 1}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.client.Settle(ctx(t), req); providers.ClassOf(err) != providers.Transient {
				t.Fatalf("attempt 1: %v", err)
			}
			again := *req
			again.Attempt = 2
			out, err := e.client.Settle(ctx(t), &again)
			if err != nil || out.Kind == providers.Refused {
				t.Fatalf("the repeat answered %+v %v: an R over the first attempt's %s", out, err, kind)
			}
			mustOutcome(t, out, err, providers.Pending)
			es := e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: kind, MerchantRefNum: req.RequestID})
			if len(es) != 1 || es[0].ID != out.Ref || es[0].Amount != tc.want || es[0].Currency != tc.currency {
				t.Fatalf("ledger %+v, outcome %s", es, out.Ref)
			}
			if c := e.sb.Calls(); c.Settle.Refused+c.Refund.Refused == 0 {
				t.Fatalf("the sandbox did not refuse the repeat: %+v", c)
			}
		})
	}
}
