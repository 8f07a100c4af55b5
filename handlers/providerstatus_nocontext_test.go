package handlers

import (
	"context"
	"testing"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// The worker sends every settlement with its correlation id as
// ClientContext, and Radial echoes "the same value" in the settlement's
// status (seed 003, Response Elements). A status without ClientContext is
// therefore not the status of such a settlement: it is that of another
// settlement of the order (made in Radial's console, by another system)
// or Radial left the id out. It was matched on the fields alone and
// applied to our acknowledged look-alike of equal amount: req-A was
// published S while its own call was declined (Radial captured the other
// settlement), and req-A's own R then followed as a "chargeback" — an S
// without money for req-A. It is now parked naming the look-alike.
func TestStatusWithoutClientContextIsNotAppliedToOneWeSentOurs(t *testing.T) {
	e := newPSEnv(t)
	e.seed(seedSpec{id: "req-A", cc: "cc-A", state: store.StateAcknowledged})
	key := store.Key{Provider: "radial", RequestID: "req-A"}

	// The other settlement's S: same store, order, tender, type and amount,
	// no ClientContext.
	other := statusSpec{msgID: "m-other"}.message(t)
	if err := e.h.Handle(other); err != nil {
		t.Fatal(err)
	}
	e.parked("the other settlement's S", other, []string{"req-A", "ClientContext", "not applied"}, nil)
	if s, _ := e.st.Get(context.Background(), key); s.State != store.StateAcknowledged {
		t.Fatalf("req-A is %s after a status without ClientContext, want acknowledged (its own status has not come)", s.State)
	}

	// req-A's own status: declined. The order system gets that R, only.
	if err := e.h.Handle(statusSpec{cc: e.corr["req-A"], msgID: "m-A", verdict: messages.StatusRejected, decline: "declined"}.message(t)); err != nil {
		t.Fatal(err)
	}
	e.checkEvent(1, step{st: statusSpec{verdict: messages.StatusRejected, decline: "declined"}, target: "req-A", wantCC: "cc-A"})
	if d, ok := e.get(statusQueue); ok {
		t.Errorf("extra event %s", d.MessageId)
	}
	evs, err := e.st.Statuses(context.Background(), key)
	if err != nil || len(evs) != 1 || evs[0].SettlementStatus != messages.StatusRejected {
		t.Fatalf("req-A's events %+v (%v), want its R only", evs, err)
	}
}
