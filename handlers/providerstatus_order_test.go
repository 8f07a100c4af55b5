package handlers

import (
	"context"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// Two replicas consume Radial's status queue. One applies the S and loses
// its broker connection before our S event is confirmed: the status is
// handed back. Before its redelivery, the other replica applies the
// chargeback R and publishes it; then the S's redelivery publishes the
// recorded S. The order system received R, then S — the S last, for a
// payment Radial had reversed. A later status now publishes the
// settlement's earlier events that were never confirmed first, in order.
func TestChargebackIsNotPublishedAheadOfAnUnconfirmedS(t *testing.T) {
	e := newPSEnv(t)
	e.seed(seedSpec{id: "req-A", cc: "cc-A", state: store.StateAcknowledged})
	cc := e.corr["req-A"]
	replica1 := *e.h
	replica1.Pub = &failFirstEvent{Publisher: e.h.Pub}
	replica2 := e.h

	s := statusSpec{cc: cc, msgID: "m-S"}
	if err := replica1.Handle(s.message(t)); err == nil {
		t.Fatal("the S whose event was not confirmed was not handed back")
	}
	r := statusSpec{cc: cc, msgID: "m-R", verdict: messages.StatusRejected, decline: "chargeback"}
	if err := replica2.Handle(r.message(t)); err != nil {
		t.Fatal(err)
	}
	if err := replica2.Handle(s.message(t)); err != nil { // the S's redelivery
		t.Fatal(err)
	}

	// What the order system received, in order; it drops a message_id it
	// has seen already.
	var got []string
	seen := map[string]bool{}
	for {
		d, ok := e.get(statusQueue)
		if !ok {
			break
		}
		if seen[d.MessageId] {
			continue
		}
		seen[d.MessageId] = true
		st, err := messages.DecodeSettlementStatus(d.Body)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, st.SettlementStatus)
	}
	if len(got) != 2 || got[0] != messages.StatusSettled || got[1] != messages.StatusRejected {
		t.Fatalf("the order system received %v, want [S R] (the chargeback last)", got)
	}
	if st, _ := e.st.Get(context.Background(), store.Key{Provider: "radial", RequestID: "req-A"}); st.State != store.StateRefused {
		t.Fatalf("state %s, want refused", st.State)
	}
}

// refuseS refuses (as a full queue does) every status event whose verdict
// is S.
type refuseS struct{ Publisher }

func (p refuseS) Publish(ctx context.Context, exchange, key string, msg *message.Message) error {
	if msg.Metadata.Get(HeaderSettlementStatus) == messages.StatusSettled {
		return broker.ErrNacked
	}
	return p.Publisher.Publish(ctx, exchange, key, msg)
}

// The S's event refused by the broker (left to the outbox relay), the
// chargeback's must not be published ahead of it: it is recorded and left
// to the relay too, which goes in order.
func TestChargebackIsLeftBehindARefusedS(t *testing.T) {
	e := newPSEnv(t)
	e.seed(seedSpec{id: "req-A", cc: "cc-A", state: store.StateAcknowledged})
	cc := e.corr["req-A"]
	e.h.Pub = refuseS{e.h.Pub}
	for _, s := range []statusSpec{{cc: cc, msgID: "m-S"}, {cc: cc, msgID: "m-R", verdict: messages.StatusRejected, decline: "chargeback"}} {
		if err := e.h.Handle(s.message(t)); err != nil {
			t.Fatal(err)
		}
	}
	if d, ok := e.get(statusQueue); ok {
		t.Fatalf("event %s published ahead of the refused S", d.Headers[HeaderSettlementStatus])
	}
	evs, err := e.st.Statuses(context.Background(), store.Key{Provider: "radial", RequestID: "req-A"})
	if err != nil || len(evs) != 2 || evs[0].PublishedAt != nil || evs[1].PublishedAt != nil {
		t.Fatalf("events %+v (%v), want S and R recorded, both left to the relay", evs, err)
	}
}
