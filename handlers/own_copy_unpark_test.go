package handlers

import (
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
)

// A duplicate of a settlement in flight (the order system sending the
// request again) runs a loop of its own beside the first one: a poll loop
// while pending, a retry loop while its provider fails. When one loop
// parks the settlement for a person (PENDING_DEADLINE, retries
// exhausted), the other loop's next copy took itself for an operator's
// replay: it cleared the parking, restarted PENDING_DEADLINE or the retry
// budget, and went on polling or calling the provider while the person
// was told to check the settlement. The worker's own copies (a poll or a
// retry: settlement_poll, settlement_attempt, which a replay drops) stop
// at a parked settlement; only a replay clears the parking.
func TestOwnCopyOfAnotherLoopDoesNotUnpark(t *testing.T) {
	busy := providers.TransientError("", "busy", nil)
	for _, tc := range []struct {
		name  string
		setup func(r *rig, p *pendingScripted)
		// until runs the first loop until it parks the settlement.
		until func(t *testing.T, r *rig, first *message.Message)
	}{
		{"second poll loop past PENDING_DEADLINE", func(r *rig, p *pendingScripted) {
			r.h.PendingDeadline = 1500 * time.Millisecond // above pending_since's whole seconds
		}, func(t *testing.T, r *rig, first *message.Message) {
			time.Sleep(r.h.PendingDeadline + 1100*time.Millisecond)
			r.deliver(t, first)
		}},
		{"second retry loop past MAX_ATTEMPTS", func(r *rig, p *pendingScripted) {
			p.confirmErrs = []error{busy, busy, busy, busy, busy, busy}
		}, func(t *testing.T, r *rig, first *message.Message) {
			r.deliver(t, first) // attempt 3 of 3
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, p := newPendingRig(t, 10*time.Millisecond)
			tc.setup(r, p)
			r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
			first := only(t, r.pub.take(), retryQ(r))
			// The order system sends the request again: a loop of its own.
			r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
			second := only(t, r.pub.take(), retryQ(r))

			tc.until(t, r, first)
			only(t, r.pub.take(), broker.ParkedQueue("prov"))
			parked := r.get(t, "req-1")
			if parked.ParkedReason == "" {
				t.Fatalf("the first loop did not park the settlement (%s)", parked.State)
			}
			confirms, polls := len(p.confirmAttempts), p.polls

			r.deliver(t, second)
			s := r.get(t, "req-1")
			if s.ParkedReason == "" {
				t.Errorf("the other loop's copy cleared the parking %q (pending_since %s → %s, attempts_base %q)",
					parked.ParkedReason, parked.Refs[refPendingSince], s.Refs[refPendingSince], s.Refs[refAttemptsBase])
			}
			if ms := r.pub.take(); len(ms) != 0 {
				t.Errorf("the other loop went on at a parked settlement: published %v", ms)
			}
			if len(p.confirmAttempts) != confirms || p.polls != polls {
				t.Errorf("the provider was called at a parked settlement: confirms %d → %d, polls %d → %d", confirms, len(p.confirmAttempts), polls, p.polls)
			}
		})
	}
}
