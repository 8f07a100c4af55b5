package miva_test

import (
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers/miva"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// TestPipelineReconcileAfterCurrencyChangedIsNeverR: a USD capture moved
// money with its reply lost, and MIVA_CURRENCY was changed (to EUR) before
// the retry. Reconcile, which follows a call that may have moved money,
// must not refuse the request for its currency: an R over a capture in
// Miva's ledger. It parks it for a person.
func TestPipelineReconcileAfterCurrencyChangedIsNeverR(t *testing.T) {
	for _, typ := range []string{messages.SettlementDebit, messages.SettlementCredit} {
		t.Run(typ, func(t *testing.T) {
			order := sandbox.OrderSeed{OrderID: 760, Records: []sandbox.RecordSeed{
				{ID: 60, Type: sandbox.TypeAuth, Amount: "100.00", Available: "50.00"},
				{ID: 61, Type: sandbox.TypeCapture, Amount: "50.00", ParentID: 60},
			}}
			e := newEnv(t, sandbox.Config{}, order)
			p := newPipeline(t, e, "")
			ep := sandbox.EndpointCapture
			if typ == messages.SettlementCredit {
				ep = sandbox.EndpointRefund
			}
			if err := e.sb.SetFaults(ep, sandbox.Faults{DropNext: 1}); err != nil {
				t.Fatal(err)
			}
			p.deliver(t, settlementMessage(t, "cur-"+typ, "760", typ, "10.00"))
			next := retryOf(t, p.pub.take())
			moved := len(e.sb.LedgerFiltered(sandbox.LedgerFilter{}))
			if moved != 1 {
				t.Fatalf("ledger %d entries, want 1", moved)
			}
			eur, err := miva.New(miva.Config{BaseURL: e.url, StoreCode: storeCode, APIToken: token, Currency: "EUR",
				Timeout: timeout, SettleWindow: time.Nanosecond}, nil)
			if err != nil {
				t.Fatal(err)
			}
			p.h.Provider = eur
			p.deliver(t, next)
			ps := p.pub.take()
			if st := statusOf(t, ps); st != nil {
				t.Fatalf("status %s (%q) with the money moved (ledger %+v)", st.SettlementStatus, st.DeclineReason, e.sb.Ledger())
			}
			if parkedReason(ps) == "" {
				t.Fatalf("not parked: %+v", ps)
			}
			if n := len(e.sb.Ledger()); n != 1 {
				t.Fatalf("ledger %d entries", n)
			}
		})
	}
}
