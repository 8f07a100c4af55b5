package paysafe_test

import (
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/paysafe"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/paysafe"
)

func TestConfirmFundsContract(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	full := e.authorize(t, sandbox.Authorization{ID: "auth-full", Amount: 5000})
	cancelled := e.authorize(t, sandbox.Authorization{ID: "auth-cancelled", Amount: 5000, Status: sandbox.StatusCancelled})
	partly := e.authorize(t, sandbox.Authorization{ID: "auth-partly", Amount: 5000})
	eur := e.authorize(t, sandbox.Authorization{ID: "auth-eur", Amount: 5000, Currency: "EUR"})
	// 40.00 already settled: only 10.00 remain.
	if _, err := e.client.Settle(ctx(t), debit("pre-1", partly, "40.00", "USD")); err != nil {
		t.Fatal(err)
	}
	fallback := debit("cf-6", "", "50.00", "USD")
	fallback.Message.AuthorizationResponseCode = full

	tests := []struct {
		name      string
		req       *providers.Request
		available bool
		reason    string
		errClass  *providers.Class
		errReason string
	}{
		{"available", debit("cf-1", full, "50.00", "USD"), true, "", nil, ""},
		{"cancelled", debit("cf-2", cancelled, "10.00", "USD"), false, "authorization is CANCELLED", nil, ""},
		{"insufficient", debit("cf-3", partly, "50.00", "USD"), false, "only 10.00 USD of 50.00 USD still available to settle", nil, ""},
		{"not found", debit("cf-4", "no-such-auth", "10.00", "USD"), false, paysafe.ReasonAuthNotFound, nil, ""},
		{"other currency", debit("cf-5", eur, "10.00", "USD"), false, "authorization is in EUR, the settlement in USD", nil, ""},
		{"authorization id from AuthorizationResponseCode", fallback, true, "", nil, ""},
		{"no authorization id", debit("cf-7", "", "10.00", "USD"), false, "", ptr(providers.Permanent), "no Paysafe authorization id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.client.ConfirmFunds(ctx(t), tc.req)
			if tc.errClass != nil {
				checkErr(t, err, *tc.errClass, "", tc.errReason)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Available != tc.available || res.Reason != tc.reason {
				t.Fatalf("result %+v, want available=%v reason %q", res, tc.available, tc.reason)
			}
			if res.Refs[paysafe.RefAccountID] != acct || res.Refs[paysafe.RefAuthorizationID] == "" {
				t.Fatalf("refs = %v", res.Refs)
			}
		})
	}

	t.Run("store without an account", func(t *testing.T) {
		req := debit("cf-8", full, "10.00", "USD")
		req.StoreID = "UNKNOWN-STORE"
		_, err := e.client.ConfirmFunds(ctx(t), req)
		checkErr(t, err, providers.Unresolved, "", `no Paysafe account is configured for store "UNKNOWN-STORE"`)
	})
}

func TestSettlePollUntilBatched(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	authID := e.authorize(t, sandbox.Authorization{Amount: 10098})
	req := debit("settle-1", authID, "100.98", "USD")

	out := expect(t, providers.Pending)(e.client.Settle(ctx(t), req))
	if out.RecheckAfter != recheck || out.Ref == "" || out.Refs[paysafe.RefSettlementID] != out.Ref ||
		out.Refs[paysafe.RefKind] != paysafe.KindSettlement || out.Refs[paysafe.RefAccountID] != acct ||
		out.Refs[paysafe.RefAuthorizationID] != authID || out.Refs[paysafe.RefStatus] != paysafe.StatusPending {
		t.Fatalf("pending outcome = %+v", out)
	}
	es := e.sb.Ledger()
	if len(es) != 1 || es[0].Amount != 10098 || es[0].MerchantRefNum != "settle-1" || es[0].ID != out.Ref {
		t.Fatalf("ledger = %+v", es)
	}
	polled := withRefs(req, out)
	expect(t, providers.Pending)(e.client.Poll(ctx(t), polled))
	e.sb.RunBatch()
	done := expect(t, providers.Settled)(e.client.Poll(ctx(t), polled))
	if done.Ref != out.Ref || done.Refs[paysafe.RefStatus] != paysafe.StatusCompleted {
		t.Fatalf("settled outcome = %+v", done)
	}
	if c := e.sb.Calls(); c.Settle.Processed != 1 || c.Get.Processed != 2 {
		t.Fatalf("calls = %+v", c)
	}
}

func TestPartialSettlementThenRemainder(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	authID := e.authorize(t, sandbox.Authorization{Amount: 5000})
	for _, step := range []struct {
		id, amount string
		available  bool
	}{{"part-1", "20.00", true}, {"part-2", "30.00", true}, {"part-3", "0.01", false}} {
		req := debit(step.id, authID, step.amount, "USD")
		res, err := e.client.ConfirmFunds(ctx(t), req)
		if err != nil || res.Available != step.available {
			t.Fatalf("%s: confirm %+v, %v", step.id, res, err)
		}
		if !step.available {
			if res.Reason != "only 0.00 USD of 0.01 USD still available to settle" {
				t.Fatalf("reason %q", res.Reason)
			}
			_, err := e.client.Settle(ctx(t), req)
			checkErr(t, err, providers.Permanent, paysafe.CodeAlreadySettled, "already fully settled")
			continue
		}
		expect(t, providers.Pending)(e.client.Settle(ctx(t), req))
	}
	e.sb.RunBatch()
	if st, _ := e.sb.AuthorizationState(acct, authID); st.AvailableToSettle != 0 || st.Settlements != 2 {
		t.Fatalf("authorization = %+v", st)
	}
}

func TestSettleErrors(t *testing.T) {
	tests := []struct {
		name    string
		auth    sandbox.Authorization
		amount  string
		faults  *sandbox.Faults
		creds   [2]string
		class   providers.Class
		code    string
		reason  string
		entries int
	}{
		{name: "3204 amount beyond the authorization", auth: sandbox.Authorization{Amount: 1000}, amount: "10.01",
			class: providers.Permanent, code: paysafe.CodeAmountExceeds, reason: "exceeds what remains on the authorization"},
		{name: "3205 expired authorization", auth: sandbox.Authorization{Amount: 1000, Expired: true}, amount: "1.00",
			class: providers.Permanent, code: paysafe.CodeAuthExpired, reason: "has expired"},
		{name: "3203 cancelled authorization", auth: sandbox.Authorization{Amount: 1000, Status: sandbox.StatusCancelled}, amount: "1.00",
			class: providers.Permanent, code: paysafe.CodeAlreadySettled, reason: "fully settled or cancelled"},
		{name: "3417 another request in progress", auth: sandbox.Authorization{Amount: 1000}, amount: "1.00",
			faults: &sandbox.Faults{FailNext: 1, FailCode: "3417"}, class: providers.Transient, code: paysafe.CodeInProgress, reason: "in progress"},
		{name: "503", auth: sandbox.Authorization{Amount: 1000}, amount: "1.00",
			faults: &sandbox.Faults{FailNext: 1}, class: providers.Transient, code: "503", reason: "HTTP 503"},
		{name: "hang until the client timeout", auth: sandbox.Authorization{Amount: 1000}, amount: "1.00",
			faults: &sandbox.Faults{HangNext: 1}, class: providers.Transient, reason: "no answer within 1.5s"},
		{name: "basic auth refused", auth: sandbox.Authorization{Amount: 1000}, amount: "1.00",
			creds: [2]string{user, "wrong-secret-password"}, class: providers.Transient, code: paysafe.CodeInvalidCredentials,
			reason: "refused the API credentials; check PAYSAFE_USERNAME and PAYSAFE_PASSWORD"},
		{name: "unknown authorization", auth: sandbox.Authorization{ID: "other", Amount: 1000}, amount: "1.00",
			class: providers.Permanent, code: paysafe.CodeUnknownID, reason: "does not know"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{})
			authID := e.authorize(t, tc.auth)
			if tc.auth.ID == "other" {
				authID = "missing-auth"
			}
			if tc.faults != nil {
				if err := e.sb.SetFaults(sandbox.EndpointSettle, *tc.faults); err != nil {
					t.Fatal(err)
				}
			}
			client := e.client
			if tc.creds[0] != "" {
				client = newClient(t, e.srv.URL+"/paysafe", tc.creds[0], tc.creds[1])
			}
			start := time.Now()
			_, err := client.Settle(ctx(t), debit("err-1", authID, tc.amount, "USD"))
			checkErr(t, err, tc.class, tc.code, tc.reason)
			if tc.faults != nil && tc.faults.HangNext > 0 {
				if d := time.Since(start); d < timeout || d > timeout+2*time.Second {
					t.Fatalf("hang answered after %s", d)
				}
			}
			if n := len(e.sb.Ledger()); n != tc.entries {
				t.Fatalf("%d ledger entries, want %d", n, tc.entries)
			}
			if tc.class != providers.Transient || tc.creds[0] != "" {
				return
			}
			// The pipeline's next attempt: Reconcile finds nothing, Settle
			// runs again with the same merchantRefNum and succeeds once.
			req := debit("err-1", authID, tc.amount, "USD")
			if _, found, err := e.client.Reconcile(ctx(t), req); err != nil || found {
				t.Fatalf("reconcile: found=%v %v", found, err)
			}
			expect(t, providers.Pending)(e.client.Settle(ctx(t), req))
			if n := len(e.sb.Ledger()); n != 1 {
				t.Fatalf("%d ledger entries after the retry, want 1", n)
			}
		})
	}
}

func TestDroppedReplyThenReconcile(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	authID := e.authorize(t, sandbox.Authorization{Amount: 2500})
	if err := e.sb.SetFaults(sandbox.EndpointSettle, sandbox.Faults{DropNext: 1}); err != nil {
		t.Fatal(err)
	}
	req := debit("drop-1", authID, "25.00", "USD")
	_, err := e.client.Settle(ctx(t), req)
	checkErr(t, err, providers.Transient, "502", "HTTP 502")
	if es := e.sb.Ledger(); len(es) != 1 || !es[0].ReplyDropped {
		t.Fatalf("ledger = %+v", es)
	}

	out, found, err := e.client.Reconcile(ctx(t), req)
	mustOutcome(t, out, err, providers.Pending)
	if !found || out.Refs[paysafe.RefSettlementID] != e.sb.Ledger()[0].ID {
		t.Fatalf("reconcile: found=%v %+v", found, out)
	}
	e.sb.RunBatch()
	out, found, err = e.client.Reconcile(ctx(t), req)
	mustOutcome(t, out, err, providers.Settled)
	if !found {
		t.Fatal("not found after the batch")
	}
	if _, found, err := e.client.Reconcile(ctx(t), debit("never-sent", authID, "1.00", "USD")); err != nil || found {
		t.Fatalf("unknown merchantRefNum: found=%v %v", found, err)
	}
	if n := len(e.sb.Ledger()); n != 1 {
		t.Fatalf("%d ledger entries, want 1", n)
	}
}

func TestDuplicateMerchantRefNumIsReconciled(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	authID := e.authorize(t, sandbox.Authorization{Amount: 5000})
	req := debit("dup-1", authID, "20.00", "USD")
	first := expect(t, providers.Pending)(e.client.Settle(ctx(t), req))
	// A second Settle (a crash lost the first answer): Paysafe refuses the
	// merchantRefNum (5031) and the client returns the first settlement.
	again := expect(t, providers.Pending)(e.client.Settle(ctx(t), req))
	if again.Ref != first.Ref {
		t.Fatalf("reconciled %s, want %s", again.Ref, first.Ref)
	}
	e.sb.RunBatch()
	expect(t, providers.Settled)(e.client.Settle(ctx(t), req))
	if n := len(e.sb.Ledger()); n != 1 {
		t.Fatalf("%d ledger entries, want 1", n)
	}
	if c := e.sb.Calls().Settle; c.Refused != 2 {
		t.Fatalf("settle calls = %+v", c)
	}

	t.Run("same merchantRefNum, other amount", func(t *testing.T) {
		_, err := e.client.Settle(ctx(t), debit("dup-1", authID, "10.00", "USD"))
		checkErr(t, err, providers.Unresolved, "", "is for 20.00 USD but this request is for 10.00 USD")
	})
}

func TestRefundFlow(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	authID := e.authorize(t, sandbox.Authorization{Amount: 5000})
	settled := expect(t, providers.Pending)(e.client.Settle(ctx(t), debit("rf-debit", authID, "50.00", "USD")))
	settlementID := settled.Ref

	// Before the batch, a refund is pending (3404), not an error; polled
	// before the batch, it is still pending (the settlement is read, the
	// refund not asked again); after it, the poll answers Resubmit (the
	// pipeline records the call, then calls Settle) and Settle creates it.
	// The poll itself never asks for the refund.
	early := credit("rf-early", settlementID, "10.00", "USD")
	waiting := expect(t, providers.Pending)(e.client.Settle(ctx(t), early))
	if waiting.Ref != "" || waiting.Refs[paysafe.RefKind] != paysafe.KindRefund {
		t.Fatalf("a refund before the batch: %+v", waiting)
	}
	expect(t, providers.Pending)(e.client.Poll(ctx(t), withRefs(early, waiting)))
	e.sb.RunBatch()
	expect(t, providers.Resubmit)(e.client.Poll(ctx(t), withRefs(early, waiting)))
	if c := e.sb.Calls().Refund.Total; c != 1 {
		t.Fatalf("%d refund calls, want 1 (the first Settle): a poll asked for the refund itself", c)
	}
	created := expect(t, providers.Pending)(e.client.Settle(ctx(t), withRefs(early, waiting)))
	if created.Ref == "" || created.Refs[paysafe.RefRefundID] != created.Ref {
		t.Fatalf("the refund after the batch: %+v", created)
	}

	req := credit("rf-1", settlementID, "30.00", "USD")
	out := expect(t, providers.Pending)(e.client.Settle(ctx(t), req))
	if out.Refs[paysafe.RefKind] != paysafe.KindRefund || out.Refs[paysafe.RefRefundID] != out.Ref ||
		out.Refs[paysafe.RefRefundedSettlementID] != settlementID || out.Refs[paysafe.RefSettlementID] != "" {
		t.Fatalf("refund refs = %v", out.Refs)
	}
	polled := withRefs(req, out)
	expect(t, providers.Pending)(e.client.Poll(ctx(t), polled))
	// A duplicate refund request is reconciled, not refunded twice.
	if dup := expect(t, providers.Pending)(e.client.Settle(ctx(t), req)); dup.Ref != out.Ref {
		t.Fatalf("duplicate refund reconciled to %s, want %s", dup.Ref, out.Ref)
	}
	_, err := e.client.Settle(ctx(t), credit("rf-2", settlementID, "20.01", "USD"))
	checkErr(t, err, providers.Permanent, paysafe.CodeRefundExceeds, "exceeds what remains refundable")
	e.sb.RunBatch()
	expect(t, providers.Settled)(e.client.Poll(ctx(t), polled))
	if out, found, err := e.client.Reconcile(ctx(t), req); err != nil || !found || out.Kind != providers.Settled {
		t.Fatalf("reconcile refund: %+v %v %v", out, found, err)
	}

	t.Run("settlement id from ReferenceTransactionId", func(t *testing.T) {
		r := credit("rf-3", "", "1.00", "USD")
		r.Message.ReferenceTransactionID = settlementID
		expect(t, providers.Pending)(e.client.Settle(ctx(t), r))
	})
	t.Run("no settlement id", func(t *testing.T) {
		_, err := e.client.Settle(ctx(t), credit("rf-4", "", "1.00", "USD"))
		checkErr(t, err, providers.Permanent, "", "no Paysafe settlement id to refund")
	})
	if n := len(e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: sandbox.KindRefund})); n != 3 { // rf-early, rf-1, rf-3
		t.Fatalf("%d refunds, want 3", n)
	}
}

func TestMinorUnits(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	tests := []struct {
		name, amount, currency string
		account                string
		minor                  int64
		reason                 string
	}{
		{"USD exponent 2", "12.34", "USD", acct, 1234, ""},
		{"JPY exponent 0", "1000", "JPY", acctJP, 1000, ""},
		{"KWD exponent 3", "1.500", "KWD", acctKW, 1500, ""},
		{"KWD three decimals", "0.125", "KWD", acctKW, 125, ""},
		{"USD fraction of a cent", "12.345", "USD", acct, 0, "has a fraction of a minor unit"},
		{"JPY fraction of a yen", "1.5", "JPY", acctJP, 0, "has a fraction of a minor unit"},
		{"USD on the JPY account", "10.00", "USD", acctJP, 0, "settles in JPY, the request is in USD"},
		{"zero", "0.00", "USD", acct, 0, "must be positive"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			authID := e.authorize(t, sandbox.Authorization{AccountID: tc.account, Amount: 100000, Currency: tc.currency})
			req := debit("mu-"+string(rune('a'+i)), authID, tc.amount, tc.currency)
			if tc.account == acctJP {
				req.StoreID = storeJP
			}
			before := e.sb.Calls().Settle.Total
			out, err := e.client.Settle(ctx(t), req)
			if tc.reason != "" {
				checkErr(t, err, providers.Permanent, "", tc.reason)
				if e.sb.Calls().Settle.Total != before {
					t.Fatal("a refused amount reached Paysafe")
				}
				return
			}
			mustOutcome(t, out, err, providers.Pending)
			es := e.sb.LedgerFiltered(sandbox.LedgerFilter{MerchantRefNum: req.RequestID})
			if len(es) != 1 || es[0].Amount != tc.minor || es[0].Currency != tc.currency {
				t.Fatalf("ledger = %+v, want %d %s", es, tc.minor, tc.currency)
			}
		})
	}
}

func TestScriptedFailureAndCancel(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	failing := e.authorize(t, sandbox.Authorization{Amount: 1000, BatchOutcome: sandbox.StatusFailed, FailureMessage: "Issuer unavailable"})
	fine := e.authorize(t, sandbox.Authorization{Amount: 1000})
	reqF := debit("fail-1", failing, "10.00", "USD")
	reqC := debit("cancel-1", fine, "10.00", "USD")
	outF := expect(t, providers.Pending)(e.client.Settle(ctx(t), reqF))
	outC := expect(t, providers.Pending)(e.client.Settle(ctx(t), reqC))
	if _, err := e.sb.CancelSettlement(acct, outC.Ref); err != nil {
		t.Fatal(err)
	}
	e.sb.RunBatch()
	refused := expect(t, providers.Refused)(e.client.Poll(ctx(t), withRefs(reqF, outF)))
	if !strings.Contains(refused.Reason, "FAILED: Issuer unavailable (error 3009)") {
		t.Fatalf("reason %q", refused.Reason)
	}
	cancelled := expect(t, providers.Refused)(e.client.Poll(ctx(t), withRefs(reqC, outC)))
	if !strings.Contains(cancelled.Reason, "CANCELLED before it was batched; the customer was not charged") {
		t.Fatalf("reason %q", cancelled.Reason)
	}
	// The failed attempt is what Reconcile reports too: a new settlement
	// with the same merchantRefNum would be refused as a duplicate.
	if out, found, err := e.client.Reconcile(ctx(t), reqF); err != nil || !found || out.Kind != providers.Refused {
		t.Fatalf("reconcile failed settlement: %+v %v %v", out, found, err)
	}
}

func TestLookupAndPollFailuresAreTransient(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	authID := e.authorize(t, sandbox.Authorization{Amount: 2000})
	req := debit("lp-1", authID, "10.00", "USD")
	out := expect(t, providers.Pending)(e.client.Settle(ctx(t), req))

	if err := e.sb.SetFaults(sandbox.EndpointAll, sandbox.Faults{FailNext: 1, FailStatus: 400, FailCode: "5068"}); err != nil {
		t.Fatal(err)
	}
	_, _, err := e.client.Reconcile(ctx(t), req)
	checkErr(t, err, providers.Transient, "5068", "rejected a field")
	_, err = e.client.Poll(ctx(t), withRefs(req, out))
	checkErr(t, err, providers.Transient, "5068", "rejected a field")
	if err := e.sb.SetFaults(sandbox.EndpointAll, sandbox.Faults{}); err != nil {
		t.Fatal(err)
	}

	polled := withRefs(req, out)
	polled.Refs[paysafe.RefSettlementID] = "gone"
	_, err = e.client.Poll(ctx(t), polled)
	checkErr(t, err, providers.Transient, paysafe.CodeUnknownID, "does not know settlement gone")

	// Without a recorded id, Poll finds the settlement by merchantRefNum.
	delete(polled.Refs, paysafe.RefSettlementID)
	expect(t, providers.Pending)(e.client.Poll(ctx(t), polled))

	// Two live settlements with one merchantRefNum (created without
	// dupCheck by someone else) are an operator's problem, never a guess.
	e.settleWithoutDupCheck(t, authID, "lp-1", 1)
	_, _, err = e.client.Reconcile(ctx(t), req)
	checkErr(t, err, providers.Unresolved, "", "2 settlements carry merchantRefNum lp-1")
}

func ptr[T any](v T) *T { return &v }
