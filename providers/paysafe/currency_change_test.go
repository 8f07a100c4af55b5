package paysafe_test

import (
	"testing"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/paysafe"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/paysafe"
)

// TestReconcileAfterCurrenciesChangedIsNeverR: a CAD credit on a store
// whose account PAYSAFE_CURRENCIES did not name was refunded (1000 minor
// units of the account's currency) and its answer lost; the account's
// currency (USD) is configured before the retry. Reconcile, which follows a
// call that moved money, refused the request Permanent on the currency it
// no longer accepts (an R over a refund in the sandbox's ledger); it must
// park it for a person (Unresolved), as Miva's Reconcile does with an order
// id refused now.
func TestReconcileAfterCurrenciesChangedIsNeverR(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	authID := e.authorize(t, sandbox.Authorization{Amount: 5000})
	out, err := e.client.Settle(ctx(t), debit("cc-debit", authID, "50.00", "USD"))
	if err != nil {
		t.Fatal(err)
	}
	e.sb.RunBatch()
	if err := e.sb.SetFaults(sandbox.EndpointRefund, sandbox.Faults{DropNext: 1}); err != nil {
		t.Fatal(err)
	}
	req := credit("cc-refund", out.Ref, "10.00", "CAD")
	if _, err := e.client.Settle(ctx(t), req); providers.ClassOf(err) != providers.Transient {
		t.Fatalf("dropped refund answer: %v", err)
	}
	refunds := e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: sandbox.KindRefund})
	if len(refunds) != 1 || refunds[0].Amount != 1000 {
		t.Fatalf("ledger refunds = %+v", refunds)
	}

	cfg := clientConfig(e.srv.URL+"/paysafe", user, pass)
	cfg.Currencies = map[string]string{acct: "USD"}
	now, err := paysafe.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Attempt = 2
	o, found, err := now.Reconcile(ctx(t), req)
	if providers.ClassOf(err) == providers.Permanent || found && o.Kind == providers.Refused {
		t.Fatalf("Reconcile = %+v, %v, %v: an R over the refund of 1000 minor units in Paysafe's ledger", o, found, err)
	}
	if err == nil {
		t.Fatalf("Reconcile = %+v, %v: want Unresolved", o, found)
	}
}
