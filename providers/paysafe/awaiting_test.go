package paysafe_test

import (
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/paysafe"
)

// TestRefundAwaitingTheBatchAskedAgainAfterATimeoutNeverRefundsTwice: a
// credit whose settlement is not batched yet is refused 3404 and polled;
// once the settlement is batched, the poll asks for the refund again
// (Poll → Settle). That call timed out while Paysafe went on to commit it
// late (2.2s, the client's timeout 1.5s); the retry's poll, a second
// later, looked the merchantRefNum up (nothing yet) and asked for the
// refund again at once, with no settle window: with Paysafe checking the
// merchantRefNum when a call arrives (sandbox.Config.DupCheckAtArrival),
// both refunds committed, two refunds of 20.00 in the sandbox's ledger.
// The poll cannot record a call before it makes it, so an uncertain
// answer to the refund it asked for is parked for a person (Unresolved),
// naming the merchantRefNum to look up; a call proven not sent is retried.
func TestRefundAwaitingTheBatchAskedAgainAfterATimeoutNeverRefundsTwice(t *testing.T) {
	e := newEnv(t, sandbox.Config{DupCheckAtArrival: true})
	authID := e.authorize(t, sandbox.Authorization{Amount: 5000})
	seed := expect(t, providers.Pending)(e.client.Settle(ctx(t), debit("await-seed", authID, "50.00", "USD")))
	p := newPipeline(t, e)
	const id = "await-credit"

	next, st := p.deliver(t, requestMessage(t, id, messages.SettlementCredit, "20.00", map[string]string{"settlement_id": seed.Ref}))
	if st != nil || next == nil || next.Metadata.Get(handlers.HeaderPoll) != "true" {
		t.Fatalf("credit before the batch: next=%v status=%+v, want a poll copy (3404: awaiting the batch)", next, st)
	}
	e.sb.RunBatch()
	if err := e.sb.SetFaults(sandbox.EndpointRefund, sandbox.Faults{LateNext: 1, LateMS: int(timeout/time.Millisecond) + 700}); err != nil {
		t.Fatal(err)
	}
	parked := ""
	for deadline := time.Now().Add(20 * time.Second); next != nil && st == nil && parked == ""; {
		if time.Now().After(deadline) {
			t.Fatal("no status nor park within 20s")
		}
		if err := p.h.Handle(next); err != nil {
			t.Fatalf("Handle: %v", err)
		}
		next = nil
		for _, m := range p.pub.take() {
			switch {
			case m.exchange == broker.StatusExchange:
				s, err := messages.DecodeSettlementStatus(m.msg.Payload)
				if err != nil {
					t.Fatal(err)
				}
				st = s
			case strings.Contains(m.key, ".retry."):
				next = m.msg
			default:
				parked = m.msg.Metadata.Get(handlers.HeaderParkedReason)
			}
		}
		if next != nil && next.Metadata.Get(handlers.HeaderPoll) == "true" {
			e.sb.RunBatch()
		}
	}
	// The late commit lands.
	for deadline := time.Now().Add(10 * time.Second); e.sb.Calls().Refund.Late > 0 && len(e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: sandbox.KindRefund, MerchantRefNum: id})) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the late refund never committed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(timeout) // and any call still on its way
	refunds := e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: sandbox.KindRefund, MerchantRefNum: id})
	if len(refunds) != 1 || refunds[0].Amount != 2000 {
		t.Fatalf("the sandbox holds %d refunds with merchantRefNum %s (status %+v, parked %q): %+v; want exactly one of 20.00", len(refunds), id, st, parked, refunds)
	}
	if st != nil || !strings.Contains(parked, "merchantRefNum "+id) {
		t.Fatalf("status %+v, parked %q: want it parked, naming merchantRefNum %s", st, parked, id)
	}
	noSecrets(t, parked)
}
