package paysafe_test

import (
	"testing"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers/paysafe"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/paysafe"
)

// A store's Paysafe account changes (PAYSAFE_ACCOUNTS edited, replicas
// restarted) while a credit's refund is uncertain: Paysafe refunded in the
// old account and the answer was lost. The retry looked the refund up, and
// sent it again, in the account configured now, since a credit recorded
// no account before its first call: the lookup missed the refund, and the
// new call met no settlement there (an R over a refund that happened) or,
// had the new account held one, refunded a second time. A call's account
// is recorded before the call, and every later call, lookup and poll of
// the settlement uses it. Judged from the sandbox's ledger.
func TestAccountChangedWhileARefundIsUncertain(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	authID := e.authorize(t, sandbox.Authorization{Amount: 5000})
	p := newPipeline(t, e)
	next, _ := p.deliver(t, requestMessage(t, "acc-debit", messages.SettlementDebit, "50.00", map[string]string{"authorization_id": authID}))
	e.sb.RunBatch()
	if _, st := p.deliver(t, next); st == nil || st.SettlementStatus != messages.StatusSettled {
		t.Fatalf("debit status %+v", st)
	}
	settlementID := e.sb.Ledger()[0].ID

	if err := e.sb.SetFaults(sandbox.EndpointRefund, sandbox.Faults{DropNext: 1}); err != nil {
		t.Fatal(err)
	}
	next, st := p.deliver(t, requestMessage(t, "acc-refund", messages.SettlementCredit, "12.50", map[string]string{"settlement_id": settlementID}))
	if st != nil || next == nil {
		t.Fatalf("dropped refund answer: next=%v status=%+v", next, st)
	}

	// The store now maps to another account, one Paysafe knows.
	e.authorize(t, sandbox.Authorization{AccountID: "55550001", Amount: 100})
	cfg := clientConfig(e.srv.URL+"/paysafe", user, pass)
	cfg.Accounts = map[string]string{store: "55550001"}
	moved, err := paysafe.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.h.Provider = moved
	for i := 0; i < 4 && next != nil; i++ {
		e.sb.RunBatch()
		next, st = p.deliver(t, next)
		if st != nil {
			break
		}
	}
	refunds := e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: sandbox.KindRefund})
	if len(refunds) != 1 {
		t.Fatalf("%d refunds in the sandbox's ledger, want 1: %+v", len(refunds), refunds)
	}
	if st == nil || st.SettlementStatus != messages.StatusSettled {
		t.Fatalf("status %+v (next %v): the refund happened", st, next != nil)
	}
}
