package handlers

import (
	"context"
	"errors"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// failStatuses fails every publish as a broker away does (not a refusal).
type failStatuses struct{ Publisher }

func (failStatuses) Publish(context.Context, string, string, *message.Message) error {
	return errors.New("connection lost")
}

// The outbox relay skipped an event the broker refused and went on with
// the later ones, the same settlement's too: with a settlement's S refused
// (a full queue) and its chargeback R in the outbox behind it, the relay
// published the R, and the S when the broker took it again — the order
// system ended at S for a payment Radial had reversed. A later event of a
// settlement must not be relayed while an earlier one is unpublished;
// other settlements' events are not held back (real broker).
func TestRelayKeepsASettlementsEventsInOrderPastARefusedOne(t *testing.T) {
	ctx := context.Background()
	e := newPSEnv(t)
	e.seed(seedSpec{id: "req-A", cc: "cc-A", state: store.StateAcknowledged})
	e.seed(seedSpec{id: "req-B", cc: "cc-B", state: store.StateAcknowledged})
	pub := e.h.Pub
	// req-A's S and chargeback R recorded, both left to the relay (the S
	// refused); then req-B's R, whose publish failed.
	e.h.Pub = refuseS{pub}
	for _, s := range []statusSpec{{cc: e.corr["req-A"], msgID: "m-S"}, {cc: e.corr["req-A"], msgID: "m-R", verdict: messages.StatusRejected, decline: "chargeback"}} {
		if err := e.h.Handle(s.message(t)); err != nil {
			t.Fatal(err)
		}
	}
	e.h.Pub = failStatuses{pub}
	if err := e.h.Handle((&statusSpec{cc: e.corr["req-B"], msgID: "m-B", verdict: messages.StatusRejected, decline: "declined"}).message(t)); err == nil {
		t.Fatal("req-B's status was not handed back although its event was not published")
	}

	w := &Sweeper{Store: e.st, Pub: refuseS{pub}, Log: e.h.Log}
	for range 3 { // the broker still refuses req-A's S
		_, _ = w.Sweep(ctx)
	}
	var got []string
	for {
		d, ok := e.get(statusQueue)
		if !ok {
			break
		}
		got = append(got, d.Headers[HeaderRequestID].(string)+":"+d.Headers[HeaderSettlementStatus].(string))
	}
	if len(got) != 1 || got[0] != "req-B:R" {
		t.Fatalf("while req-A's S is refused the relay published %v, want [req-B:R] only: req-A's R must wait behind its S, req-B's must not", got)
	}

	w.Pub = pub // the broker takes S events again
	for range 2 {
		_, _ = w.Sweep(ctx)
	}
	got = nil
	seen := map[string]bool{}
	for {
		d, ok := e.get(statusQueue)
		if !ok {
			break
		}
		if !seen[d.MessageId] { // the order system drops a message_id it has seen
			seen[d.MessageId] = true
			got = append(got, d.Headers[HeaderRequestID].(string)+":"+d.Headers[HeaderSettlementStatus].(string))
		}
	}
	if len(got) != 2 || got[0] != "req-A:S" || got[1] != "req-A:R" {
		t.Fatalf("once the broker took the S the relay published %v, want [req-A:S req-A:R]: the order system must end at R", got)
	}
	evs, err := e.st.Statuses(ctx, store.Key{Provider: "radial", RequestID: "req-A"})
	if err != nil || len(evs) != 2 || evs[0].PublishedAt == nil || evs[1].PublishedAt == nil {
		t.Fatalf("req-A's events %+v (%v), want both marked published", evs, err)
	}
}
