package paysafe_test

import (
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/paysafe"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/paysafe"
)

// batchedSettlement seeds an authorization of amount (decimal text) in
// currency on account (acct for USD, acctJP for JPY, as request picks the
// store), settles it whole with the client and batches it: a settlement a
// credit can refund. It returns the authorization and settlement ids.
func batchedSettlement(t *testing.T, e *env, account, currency, amount string) (authID, settlementID string) {
	t.Helper()
	d := debit("seed-"+currency, "", amount, currency)
	minor, err := d.Amount.MinorUnits()
	if err != nil {
		t.Fatal(err)
	}
	authID = e.authorize(t, sandbox.Authorization{AccountID: account, Currency: currency, Amount: minor})
	d.Headers[paysafe.HeaderAuthorizationID] = authID
	out := expect(t, providers.Pending)(e.client.Settle(ctx(t), d))
	e.sb.RunBatch()
	return authID, out.Ref
}

// TestCreditInAnotherCurrencyIsRefusedBeforeTheRefund: a refund (POST
// .../settlements/{id}/refunds) carries an amount in minor units of the
// account's currency and no currency of its own, and credits skip
// ConfirmFunds. Paysafe's settlement object has no currencyCode (seed 001,
// sandbox), so the credit cannot be compared with the settlement it
// refunds; it is compared with the account's currency when PAYSAFE_CURRENCIES
// names it (rows "configured", which passed before), else with the
// authorization the credit names (authorization_id header or
// AuthorizationResponseCode; an account settles in one currency), read
// with GET .../auths/{id} before the refund. Before the fix an account
// without PAYSAFE_CURRENCIES was never checked: a JPY 700 credit against a
// USD settlement refunded 700 minor units = 7.00 USD and reported success
// (rows "named authorization" failed).
func TestCreditInAnotherCurrencyIsRefusedBeforeTheRefund(t *testing.T) {
	tests := []struct {
		name     string
		account  string // acctJP is configured JPY, acct (STORE-US) not configured
		storeID  string
		currency string // of the authorization and settlement
		amount   string // of the credit
		credit   string // the credit's currency
		authBy   string // "header", "code" or "" (no authorization named)
		poll     bool   // refund first awaiting the batch, then re-sent by Poll
		reason   string
	}{
		{name: "configured: USD credit on the JPY account", account: acctJP, storeID: storeJP, currency: "JPY", amount: "7.00", credit: "USD",
			reason: "Paysafe account 1001 settles in JPY, the request is in USD"},
		{name: "configured: USD credit on the JPY account, authorization named", account: acctJP, storeID: storeJP, currency: "JPY", amount: "7.00", credit: "USD", authBy: "header",
			reason: "Paysafe account 1001 settles in JPY, the request is in USD"},
		{name: "named authorization (header): JPY 700 on a USD settlement", account: acct, storeID: store, currency: "USD", amount: "700", credit: "JPY", authBy: "header",
			reason: "is in USD, the credit in JPY"},
		{name: "named authorization (AuthorizationResponseCode): KWD 1.500 on a USD settlement", account: acct, storeID: store, currency: "USD", amount: "1.500", credit: "KWD", authBy: "code",
			reason: "is in USD, the credit in KWD"},
		{name: "named authorization: EUR 7.00 on a USD settlement, re-sent by Poll after the batch", account: acct, storeID: store, currency: "USD", amount: "7.00", credit: "EUR", authBy: "header", poll: true,
			reason: "is in USD, the credit in EUR"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{})
			authID, settlementID := batchedSettlement(t, e, tc.account, tc.currency, map[string]string{"USD": "1000.00", "JPY": "100000"}[tc.currency])
			req := credit("cur", settlementID, tc.amount, tc.credit)
			req.StoreID = tc.storeID
			switch tc.authBy {
			case "header":
				req.Headers[paysafe.HeaderAuthorizationID] = authID
			case "code":
				req.Message.AuthorizationResponseCode = authID
			}
			var err error
			if tc.poll {
				// The refund waited for a batch (as a refund of an unbatched
				// settlement does); Poll asks for it again (Resubmit) and the
				// pipeline sends it with Settle, refs as recorded.
				req.Refs = map[string]string{paysafe.RefKind: paysafe.KindRefund, paysafe.RefAccountID: tc.account, "paysafe_refund_awaiting_batch": "true"}
				expect(t, providers.Resubmit)(e.client.Poll(ctx(t), req))
				_, err = e.client.Settle(ctx(t), req)
			} else {
				_, err = e.client.Settle(ctx(t), req)
			}
			checkErr(t, err, providers.Permanent, "", tc.reason)
			if n := len(e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: sandbox.KindRefund})); n != 0 || e.sb.Calls().Refund.Total != 0 {
				t.Fatalf("%d refunds, refund calls %+v: want none", n, e.sb.Calls().Refund)
			}
		})
	}

	t.Run("a failed authorization read is transient and sends nothing", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{})
		authID, settlementID := batchedSettlement(t, e, acct, "USD", "50.00")
		if err := e.sb.SetFaults(sandbox.EndpointAuth, sandbox.Faults{FailNext: 1, FailStatus: 500}); err != nil {
			t.Fatal(err)
		}
		req := credit("cur", settlementID, "10.00", "USD")
		req.Headers[paysafe.HeaderAuthorizationID] = authID
		_, err := e.client.Settle(ctx(t), req)
		checkErr(t, err, providers.Transient, "", "before the refund")
		if !providers.WasNotSent(err) || e.sb.Calls().Refund.Total != 0 {
			t.Fatalf("err = %v (NotSent %v), refund calls %+v: want NotSent and no refund call", err, providers.WasNotSent(err), e.sb.Calls().Refund)
		}
		expect(t, providers.Pending)(e.client.Settle(ctx(t), req)) // the same currency: refunded
	})

	t.Run("pipeline: a JPY credit on a USD settlement ends R, nothing refunded", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{})
		authID, settlementID := batchedSettlement(t, e, acct, "USD", "50.00")
		p := newPipeline(t, e)
		msg := requestMessageIn(t, "cur-p", messages.SettlementCredit, "700", "JPY",
			map[string]string{"settlement_id": settlementID, "authorization_id": authID})
		next, st := p.deliver(t, msg)
		if next != nil || st == nil || st.SettlementStatus != messages.StatusRejected || !strings.Contains(st.DeclineReason, "is in USD, the credit in JPY") {
			t.Fatalf("next=%v status=%+v, want R naming USD and JPY", next, st)
		}
		if n := len(e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: sandbox.KindRefund})); n != 0 || e.sb.Calls().Refund.Total != 0 {
			t.Fatalf("%d refunds, refund calls %+v: want none", n, e.sb.Calls().Refund)
		}
	})
}
