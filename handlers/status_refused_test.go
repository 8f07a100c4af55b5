package handlers

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// A verdict recorded with its event (the outbox) whose publish the broker
// refuses for good (no status queue bound for the store: unroutable; a
// full status queue with reject-publish: nacked) was returned as an error:
// the router retried the handler in place, then nacked the request, which
// came back at once, found the settlement finished, republished in vain
// and was nacked again — a loop holding a consumer for every such request,
// until the quorum queue's delivery limit dead-lettered it to the parked
// queue as "the worker failed on it repeatedly without settling it",
// though it was settled (and forever on a classic queue). The provider
// status handler already leaves such an event to the outbox relay, which
// publishes it each round and counts it (SettlementStatusNotRelayed); the
// request handler now does too: the delivery is done once the verdict is
// recorded (real broker, real store).
func TestStatusRefusedByTheBrokerIsLeftToTheRelay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Only STORE1's statuses are bound; STORE2's verdict is unroutable.
	top := broker.Topology{Providers: []string{"prov"}, RetryDelays: []time.Duration{time.Minute},
		StatusQueues: []broker.StatusQueue{{Name: statusQueue, BindingKey: broker.StatusRoutingKey("STORE1")}}}
	pub, _ := onBroker(ctx, t, top)
	p := newScripted("prov", providers.Facts{Idempotent: true})
	r := newRig(t, p)
	r.h.Pub, r.h.Retry.Delays = pub, top.RetryDelays
	msg := func() *message.Message {
		return requestMsg(t, "req-unrouted", messages.SettlementDebit, map[string]string{HeaderStoreID: "STORE2"})
	}
	// The first delivery settles; a redelivery (or the order system's
	// duplicate) republishes the recorded verdict.
	for i, what := range []string{"the delivery that settles", "a duplicate of the settled request"} {
		if err := r.h.HandleSafely(msg()); err != nil {
			t.Fatalf("%s returned %v: the request is handed back and comes again at once, though its verdict is recorded (delivery %d)", what, err, i+1)
		}
	}
	s := r.get(t, "req-unrouted")
	if s.State != store.StateSettled || s.ParkedReason != "" {
		t.Fatalf("settlement %s parked %q, want settled", s.State, s.ParkedReason)
	}
	if _, _, ledger := p.counts(); ledger["req-unrouted"] != 1 {
		t.Fatalf("provider ledger %v, want one capture", ledger)
	}
	evs, err := r.st.Statuses(ctx, s.Key)
	if err != nil || len(evs) != 1 || evs[0].PublishedAt != nil {
		t.Fatalf("events %+v (%v): want the S in the outbox, unpublished, for the relay", evs, err)
	}
}
