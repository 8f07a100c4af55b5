package handlers

import (
	"testing"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// A settlement's status events carry their number among its events
// (status_seq): the webhook deliverer drops an S republished after the
// chargeback R it already delivered by it.
func TestStatusEventsCarryTheirSeq(t *testing.T) {
	e := newPSEnv(t)
	e.seed(seedSpec{id: "req-A", cc: "cc-A", state: store.StateAcknowledged})
	cc := e.corr["req-A"]
	for _, s := range []statusSpec{{cc: cc, msgID: "m-S"}, {cc: cc, msgID: "m-R", verdict: messages.StatusRejected, decline: "chargeback"}} {
		if err := e.h.Handle(s.message(t)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []struct{ verdict, seq string }{{"S", "1"}, {"R", "2"}} {
		d, ok := e.get(statusQueue)
		if !ok {
			t.Fatalf("no %s event published", want.verdict)
		}
		if d.Headers[HeaderSettlementStatus] != want.verdict || d.Headers[HeaderStatusSeq] != want.seq {
			t.Errorf("event %v with %s %v, want %s with %s", d.Headers[HeaderSettlementStatus], HeaderStatusSeq, d.Headers[HeaderStatusSeq], want.verdict, want.seq)
		}
	}
}
