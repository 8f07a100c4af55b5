package handlers

import (
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
)

// A settlement parked for a person (here past PENDING_DEADLINE: "check it
// with the provider, then replay") was unparked by any delivery of its
// request: the order system sending it again (it has no verdict yet)
// cleared the parking, restarted PENDING_DEADLINE and went on polling, so
// a stream of such duplicates kept the deadline from ever holding. Only a
// replay (the operator's `parked replay`, which marks its copies) clears
// a parking; a duplicate leaves the settlement parked and calls nothing.
func TestDuplicateFromTheOrderSystemDoesNotUnpark(t *testing.T) {
	r, p := newPendingRig(t, 10*time.Millisecond)
	r.h.PendingDeadline = 1500 * time.Millisecond
	r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
	poll := only(t, r.pub.take(), retryQ(r))
	time.Sleep(r.h.PendingDeadline + 1100*time.Millisecond)
	r.deliver(t, poll)
	only(t, r.pub.take(), broker.ParkedQueue("prov"))
	parked := r.get(t, "req-1")
	if parked.ParkedReason == "" {
		t.Fatalf("not parked past PENDING_DEADLINE (%s)", parked.State)
	}
	polls := p.polls

	r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
	s := r.get(t, "req-1")
	if s.ParkedReason == "" || s.Refs[refPendingSince] != parked.Refs[refPendingSince] {
		t.Errorf("a duplicate from the order system cleared the parking %q (pending_since %s → %s)",
			parked.ParkedReason, parked.Refs[refPendingSince], s.Refs[refPendingSince])
	}
	if ms := r.pub.take(); len(ms) != 0 || p.polls != polls {
		t.Errorf("a duplicate went on at a parked settlement: published %v, polls %d → %d", ms, polls, p.polls)
	}

	// The operator's replay resumes it, with a fresh deadline.
	replay := requestMsg(t, "req-1", messages.SettlementDebit, nil)
	replay.Metadata.Set(broker.HeaderReplayed, time.Now().UTC().Format(time.RFC3339))
	replay.Metadata.Set(broker.HeaderParking, parked.Refs[refParking]) // the parked copy's, which a replay keeps
	r.deliver(t, replay)
	if s := r.get(t, "req-1"); s.ParkedReason != "" {
		t.Errorf("a replay left the settlement parked: %q", s.ParkedReason)
	}
	only(t, r.pub.take(), retryQ(r))
}

// The delivery that parks a settlement records the parking, then publishes
// its parked copy. When that publish fails (the broker restarting, the
// worker killed in between), the delivery is handed back and comes again,
// redelivered; it must not then stop silently at the recorded parking,
// which would leave the settlement parked with nothing in the parked
// queue to list, count or replay (make chaos: "lost", no event, not
// parked). A redelivery of a parked settlement parks its copy again.
func TestRedeliveryOfAParkedSettlementParksItsCopy(t *testing.T) {
	r, p := newPendingRig(t, 10*time.Millisecond)
	r.h.PendingDeadline = 1500 * time.Millisecond
	r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
	poll := only(t, r.pub.take(), retryQ(r))
	time.Sleep(r.h.PendingDeadline + 1100*time.Millisecond)
	r.deliver(t, poll)
	only(t, r.pub.take(), broker.ParkedQueue("prov")) // this copy is taken as lost: its publish "failed"
	parked := r.get(t, "req-1")
	if parked.ParkedReason == "" {
		t.Fatalf("not parked past PENDING_DEADLINE (%s)", parked.State)
	}
	polls := p.polls

	again := copyMessage(poll)
	again.Metadata.Set(broker.MetaRedelivered, "true")
	r.deliver(t, again)
	cp := only(t, r.pub.take(), broker.ParkedQueue("prov"))
	if got := cp.Metadata.Get(HeaderParkedReason); got != parked.ParkedReason {
		t.Errorf("parked copy's reason %q, want the recorded %q", got, parked.ParkedReason)
	}
	if s := r.get(t, "req-1"); s.ParkedReason != parked.ParkedReason || p.polls != polls {
		t.Errorf("the redelivery changed the parked settlement: reason %q, polls %d → %d", s.ParkedReason, polls, p.polls)
	}
}
