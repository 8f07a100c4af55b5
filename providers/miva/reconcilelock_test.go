package miva_test

import (
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// Two replicas on one PostgreSQL database. Debit X's capture timed out
// (Miva never acted): its retry, on replica A, lists the order's other
// settlements (none yet) and reads the payment list, slowly — and while
// that read is on its way, A's order lock is lost (its session ended: a
// failover, or A paused past the lease). Replica B, holding the lock now,
// settles debit Y, a new settlement of the same order and amount: its
// capture is the order's only one. A's read then shows Y's capture record,
// new since X's baseline and, by the list A read before, claimed by no
// one: A took it for X's own and published S for X. Two S, one capture in
// Miva's ledger: S with no money for X. A reconciliation that lost its
// order lock while it ran must conclude nothing.
func TestReconcileThatLostItsOrderLockConcludesNothing(t *testing.T) {
	rig := newReplicaRig(t, sandbox.OrderSeed{OrderID: 4400, Records: []sandbox.RecordSeed{
		{ID: 44, Type: sandbox.TypeAuth, Amount: "100.00"},
	}}, time.Second)
	g := rig.g
	a, aPub := rig.replica(t, 2*time.Second)
	b, bPub := rig.replica(t, 2*time.Second)

	// X's capture hangs until the client gives up: Miva never acts.
	if err := g.sb.SetFaults(sandbox.EndpointCapture, sandbox.Faults{HangNext: 1}); err != nil {
		t.Fatal(err)
	}
	if err := a.Handle(settlementMessage(t, "req-x", "4400", messages.SettlementDebit, "10.00")); err != nil {
		t.Fatalf("X, first delivery: %v", err)
	}
	xRetry := retryOf(t, aPub.take())
	if n := len(captures(&env{sb: g.sb})); n != 0 {
		t.Fatalf("%d captures after a hung call", n)
	}

	list, aDone := rig.lockLostWhileReading(t, a, xRetry, false, "replica A's reconciling payment list read")

	// B settles Y, same order and amount, under the lock A lost.
	if err := b.Handle(settlementMessage(t, "req-y", "4400", messages.SettlementDebit, "10.00")); err != nil {
		t.Fatalf("Y: %v", err)
	}
	if st := statusOf(t, bPub.take()); st == nil || st.SettlementStatus != messages.StatusSettled {
		t.Fatalf("Y: status %+v, want S", st)
	}

	close(list.release)
	select {
	case err := <-aDone:
		t.Logf("replica A: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("replica A never finished")
	}
	ps := aPub.take()
	if st := statusOf(t, ps); st != nil {
		t.Fatalf("X: status %s (%s) with Miva's only capture Y's: %+v", st.SettlementStatus, st.DeclineReason, captures(&env{sb: g.sb}))
	}
	// The retry, under a lock held throughout, sees Y's capture claimed.
	if err := b.Handle(retryOf(t, ps)); err != nil {
		t.Fatalf("X, retry: %v", err)
	}
	ps = bPub.take()
	if st := statusOf(t, ps); st != nil {
		t.Fatalf("X's retry: status %s (%s), want parked", st.SettlementStatus, st.DeclineReason)
	}
	if r := parkedReason(ps); r == "" {
		t.Fatalf("X's retry neither ended nor parked: %+v", ps)
	} else {
		t.Logf("X parked: %s", r)
	}
	if cs := captures(&env{sb: g.sb}); len(cs) != 1 {
		t.Fatalf("Miva's ledger shows %d captures, want Y's: %+v", len(cs), cs)
	}
}
