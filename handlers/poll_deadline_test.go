package handlers

import (
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// PENDING_DEADLINE applies to a poll that fails too: a settlement past it
// is parked with the deadline's reason (saying the last poll failed) on
// its first failed poll, not polled on until the retry budget runs out —
// or for ever, when answers come between the failures.
func TestPastPendingDeadlineFailedPollParks(t *testing.T) {
	const deadline = 1500 * time.Millisecond // above pending_since's truncation to whole seconds
	r, p := newPendingRig(t, 10*time.Millisecond)
	r.h.PendingDeadline = deadline
	r.h.Retry.MaxAttempts = 10
	r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
	msg := only(t, r.pub.take(), retryQ(r))
	time.Sleep(deadline + 100*time.Millisecond)

	p.failPolls(1)
	r.deliver(t, msg)
	parked := only(t, r.pub.take(), broker.ParkedQueue("prov"))
	reason := parked.Metadata.Get(HeaderParkedReason)
	for _, want := range []string{"still pending at the provider", "(deadline 1.5s)", "the last poll failed", "HTTP 503"} {
		if !strings.Contains(reason, want) {
			t.Errorf("parked_reason %q does not say %q", reason, want)
		}
	}
	s := r.get(t, "req-1")
	if s.State != store.StatePending || s.ParkedReason != reason {
		t.Errorf("state %s parked %q, want pending, parked with %q", s.State, s.ParkedReason, reason)
	}
}
