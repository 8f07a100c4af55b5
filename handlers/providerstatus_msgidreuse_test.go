package handlers

import (
	"context"
	"testing"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// A status whose AMQP message_id is that of a status already applied was
// taken for its redelivery whatever it said: a chargeback R published
// under the message_id of the settlement's S (a publisher that names its
// messages per settlement, or reuses ids) republished the S and was
// acked. The order system kept the S while Radial had reversed the money,
// and nothing told a person. A redelivery says what the recorded event
// says; a status that says something else under a known message_id is
// handled as the new status it is.
func TestStatusReusingAMessageIDWithAnotherVerdictIsNotSwallowed(t *testing.T) {
	e := newPSEnv(t)
	e.seed(seedSpec{id: "req-A", cc: "cc-A", state: store.StateAcknowledged})
	cc := e.corr["req-A"]
	key := store.Key{Provider: "radial", RequestID: "req-A"}

	if err := e.h.Handle(statusSpec{cc: cc, msgID: "m1"}.message(t)); err != nil {
		t.Fatal(err)
	}
	first := e.checkEvent(0, step{st: statusSpec{}, target: "req-A", wantCC: "cc-A"})

	r := statusSpec{cc: cc, msgID: "m1", verdict: messages.StatusRejected, decline: "chargeback"}
	if err := e.h.Handle(r.message(t)); err != nil {
		t.Fatal(err)
	}
	if _, parked := e.get(broker.ProviderStatusParkedQueue("radial")); parked {
		t.Fatal("the chargeback was parked; want it applied as a chargeback")
	}
	second := e.checkEvent(1, step{st: r, target: "req-A", wantCC: "cc-A"})
	if second == first {
		t.Fatalf("the chargeback R republished the S (message id %s): the order system never learns money was reversed", first)
	}
	s, err := e.st.Get(context.Background(), key)
	if err != nil || s.State != store.StateRefused {
		t.Fatalf("state %s (%v), want refused after the chargeback", s.State, err)
	}

	// Its redelivery (same message_id, same R) is the R again, not the S.
	if err := e.h.Handle(r.message(t)); err != nil {
		t.Fatal(err)
	}
	if again := e.checkEvent(2, step{st: r, target: "req-A", wantCC: "cc-A"}); again != second {
		t.Errorf("the R's redelivery published %s, want its event %s again", again, second)
	}
	// And the S redelivered under m1 is the S's event again (the same
	// message_id, which the order system already has), not a new verdict.
	if err := e.h.Handle(statusSpec{cc: cc, msgID: "m1"}.message(t)); err != nil {
		t.Fatal(err)
	}
	if again := e.checkEvent(3, step{st: statusSpec{}, target: "req-A", wantCC: "cc-A"}); again != first {
		t.Errorf("the S's redelivery published %s, want its event %s again", again, first)
	}
	evs, err := e.st.Statuses(context.Background(), key)
	if err != nil || len(evs) != 2 {
		t.Fatalf("%d events (%v), want 2 (S, then the chargeback R)", len(evs), err)
	}
	if d, ok := e.get(statusQueue); ok {
		t.Errorf("extra event %s", d.MessageId)
	}
}
