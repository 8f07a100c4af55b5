package handlers

import (
	"context"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// PENDING_DEADLINE is counted from the pending_since ref. A pending
// settlement without a readable one (a row of an older version, an edited
// or damaged ref) had no deadline: it was polled for ever, never parked,
// and nobody told. Its first poll now starts the clock.
func TestPendingWithoutPendingSinceStillMeetsItsDeadline(t *testing.T) {
	const deadline = 1500 * time.Millisecond // above pending_since's truncation to whole seconds
	r, _ := newPendingRig(t, 10*time.Millisecond)
	r.h.PendingDeadline = deadline
	r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
	poll := only(t, r.pub.take(), retryQ(r))
	key := store.Key{Provider: "prov", RequestID: "req-1"}
	if _, _, err := r.st.Transition(context.Background(), key, []store.State{store.StatePending}, store.StatePending,
		store.Change{Refs: map[string]string{refPendingSince: ""}, Note: "pending_since lost"}, nil); err != nil {
		t.Fatal(err)
	}
	r.deliver(t, poll)
	poll = only(t, r.pub.take(), retryQ(r))
	if s := r.get(t, "req-1"); s.Refs[refPendingSince] == "" {
		t.Fatalf("a poll of a pending settlement without pending_since left it without one: no deadline would ever apply (refs %v)", s.Refs)
	}
	time.Sleep(deadline + 100*time.Millisecond)
	r.deliver(t, poll)
	if s := r.get(t, "req-1"); s.ParkedReason == "" {
		t.Fatalf("still pending, not parked, past its deadline (state %s, refs %v)", s.State, s.Refs)
	}
}
