package e2e

import (
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/sandbox/radial"
)

// TestEquivalentDuplicatePublishDebitsOnce: the order system publishes a
// debit, then the same request again with its amounts written another
// way — at once ("40.0", "0": it waits behind the first on the order
// lock) and after the verdict ("040.00", and original_authorization_amount
// "100.0" for "100.00"). Through the worker binary and RabbitMQ, judged
// from Radial's ledger: one debit, one settle call and no conflict at
// Radial, nothing parked, and the late copy answered with the recorded
// status (same message_id). Before 5616b2c each copy was parked as "a
// different request" with the advice to send it under a new requestId.
func TestEquivalentDuplicatePublishDebitsOnce(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(radial.Authorization{OrderID: "o-eqdup", Amount: "100.00"})
	e.start()
	id := uniq("eqdup")
	r := req{RequestID: id, OrderID: "o-eqdup", Amount: "40.00", AuthAmount: "100.00"}
	e.publish(r)
	again := r
	again.Amount = "40.0"
	e.publishCopy(again, "pub2-"+id, nil)
	first := oneEvent(t, e, id, messages.StatusSettled)

	late := r
	late.Amount, late.AuthAmount = "040.00", "100.0"
	e.publishCopy(late, "pub3-"+id, nil)
	deadline := time.Now().Add(wait)
	for len(e.statuses.of(id)) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	all := e.statuses.of(id)
	if len(all) < 2 || all[len(all)-1].MessageID != first.MessageID || len(distinct(all)) != 1 {
		t.Errorf("the late copy should be answered by the recorded status (same message_id): %d deliveries, %d distinct", len(all), len(distinct(all)))
	}
	if parked := e.parked(broker.ParkedQueue("radial"), 1, 2*time.Second); len(parked) != 0 {
		t.Errorf("a copy was parked: %s", broker.Stringify(parked[0].Headers[handlers.HeaderParkedReason]))
	}
	if led := e.ledger(id); debits(led) != 1 {
		t.Fatalf("want exactly one debit, ledger: %+v", led)
	}
	if c := e.sb.Calls().Settle; c.Total != 1 || c.Conflicts != 0 {
		t.Errorf("Radial got %d settlement calls (%d conflicts), want the one", c.Total, c.Conflicts)
	}
}
