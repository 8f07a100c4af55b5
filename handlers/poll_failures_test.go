package handlers

import (
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// failPolls makes the next n polls of p fail transiently (a 503).
func (p *pendingScripted) failPolls(n int) {
	p.pmu.Lock()
	defer p.pmu.Unlock()
	for range n {
		p.pollErrs = append(p.pollErrs, providers.TransientError("503", "prov poll: HTTP 503", nil))
	}
}

// A pending settlement whose polls fail MaxAttempts times in a row is
// parked, and its reason says so: consecutive failed polls, not the
// settlement's attempts (its settle call's among them), which parked it
// one poll early with "retries exhausted". Each failed poll waits longer
// than the one before (the retry delays, in order): no tight loop.
func TestConsecutiveFailedPollsPark(t *testing.T) {
	r, p := newPendingRig(t, 10*time.Millisecond)
	r.h.Retry = RetryPolicy{Delays: []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}, MaxAttempts: 3}
	r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
	msg := only(t, r.pub.take(), retryQ(r))
	r.deliver(t, msg) // answered: still pending
	msg = only(t, r.pub.take(), retryQ(r))

	max := r.h.Retry.MaxAttempts
	p.failPolls(max)
	for i := 1; i < max; i++ {
		r.deliver(t, msg)
		ms := r.pub.take()
		msg = only(t, ms, retryQ(r))
		if want := broker.RetryQueue("prov", r.h.Retry.Delays[i-1]); ms[0].key != want {
			t.Errorf("failed poll %d retried through %s, want %s (the delays grow with consecutive failures)", i, ms[0].key, want)
		}
	}
	r.deliver(t, msg)
	parked := only(t, r.pub.take(), broker.ParkedQueue("prov"))
	want := "3 consecutive polls failed; last error: poll: "
	if reason := parked.Metadata.Get(HeaderParkedReason); !strings.HasPrefix(reason, want) || !strings.Contains(reason, "HTTP 503") {
		t.Errorf("parked_reason %q, want it to start %q and name the last error", reason, want)
	}
	if s := r.get(t, "req-1"); s.State != store.StatePending || !strings.HasPrefix(s.ParkedReason, want) {
		t.Errorf("state %s parked %q, want pending, parked for %d consecutive failed polls", s.State, s.ParkedReason, max)
	}
	if settles, _, ledger := r.p.counts(); settles != 1 || ledger["req-1"] != 1 {
		t.Errorf("provider settled %d times, ledger %v: want exactly one capture", settles, ledger)
	}
}

// A poll that answers resets the count of failed polls: polls that fail
// every other time, many more times in all than MaxAttempts, never park.
func TestFailedPollsBetweenAnswersDoNotPark(t *testing.T) {
	r, p := newPendingRig(t, 10*time.Millisecond)
	r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
	msg := only(t, r.pub.take(), retryQ(r))
	max := r.h.Retry.MaxAttempts
	for i := range 3 * max {
		p.failPolls(1)
		r.deliver(t, msg)
		ms := r.pub.take()
		msg = only(t, ms, retryQ(r))
		if want := broker.RetryQueue("prov", r.h.Retry.Delays[0]); ms[0].key != want {
			t.Errorf("failed poll %d (after an answer) retried through %s, want %s", i+1, ms[0].key, want)
		}
		r.deliver(t, msg)
		msg = only(t, r.pub.take(), retryQ(r))
	}
	if s := r.get(t, "req-1"); s.State != store.StatePending || s.ParkedReason != "" {
		t.Fatalf("state %s parked %q after %d failed polls, none two in a row: want pending, not parked", s.State, s.ParkedReason, 3*max)
	}
}
