package handlers

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// lostMarkAnswer commits the mark of a call "not sent" (markNotSent) and
// answers an error, as PostgreSQL does when the connection drops after
// the commit and before its answer: the row changed, the delivery does
// not know it.
type lostMarkAnswer struct{ store.Store }

func (s lostMarkAnswer) Transition(ctx context.Context, key store.Key, from []store.State, to store.State, ch store.Change, ev *store.StatusEvent) (store.Settlement, *store.StatusEvent, error) {
	next, rec, err := s.Store.Transition(ctx, key, from, to, ch, ev)
	if err == nil && ch.Note == "call not sent" {
		return store.Settlement{}, nil, errors.New("store: transition: unexpected EOF")
	}
	return next, rec, err
}

// A delivery whose call was answered "not sent" marks it so (markNotSent,
// which on failure keeps the settlement it read); its retries exhausted,
// it parks the settlement comparing the call it answers (ownCall). When
// the mark committed but its answer was lost, the compare fails on the
// delivery's own mark: staleCall took that for another delivery's
// takeover (the last call's record changed) and acked the message with
// nothing recorded, nothing parked, nothing retried, the settlement left
// in submitting for no delivery ("left to that delivery", which does not
// exist), until a sweeper round, if any, resumed it. Another delivery
// takes a settlement over only after counting its attempt: with the
// attempt count as read, the conflict is this delivery's doubt, and its
// message is handed back (the redelivery reads the row as it is).
func TestOwnMarkWhoseAnswerWasLostIsNotTakenForATakeover(t *testing.T) {
	p := newScripted("prov", providers.Facts{Idempotent: true, SettleWindow: time.Millisecond})
	p.settleErrs = []error{providers.NotSentError("", "connection refused, nothing sent", nil)}
	r := newRig(t, p)
	r.h.Retry.MaxAttempts = 1
	r.h.Store = lostMarkAnswer{r.st}
	msg := requestMsg(t, "req-own-mark", messages.SettlementDebit, nil)

	err := r.h.Handle(msg)
	pubs := r.pub.take()
	s := r.get(t, "req-own-mark")
	if err == nil && len(pubs) == 0 && s.ParkedReason == "" && s.State == store.StateSubmitting {
		t.Fatalf("the delivery was acked with nothing parked, retried or recorded: settlement %s, attempts %d, refs %v", s.State, s.Attempts, s.Refs)
	}
	if err != nil {
		// Handed back: its redelivery ends the request, the provider's
		// ledger and the verdict agreeing.
		if err := r.h.Handle(msg.Copy()); err != nil {
			t.Fatalf("redelivery: %v", err)
		}
		pubs = r.pub.take()
		s = r.get(t, "req-own-mark")
	}
	_, _, ledger := p.counts()
	switch {
	case s.State == store.StateSettled:
		only(t, pubs, statusQ)
		if ledger["req-own-mark"] != 1 {
			t.Fatalf("S with %d captures in the provider's ledger", ledger["req-own-mark"])
		}
	case s.ParkedReason != "":
		only(t, pubs, broker.ParkedQueue("prov"))
	default:
		t.Fatalf("settlement %s (parked %q) after the redelivery; published %d", s.State, s.ParkedReason, len(pubs))
	}
}

// A delivery that lost its order lock marks its call's answer (markNotSent,
// markAnswered) after another delivery took the settlement over: that one
// counted its attempt and repeated the call without recording a new one
// (Frisbii's reconciliation repeats the settle under the same key), so the
// last call's record is unchanged. The stale mark was written over the
// other delivery's call: "not sent" made the next retry skip the settle
// window for a call that may commit late. Both marks compare the attempt
// count they read, as ownCall's moves do.
func TestStaleMarkAfterAnotherDeliveryCountedItsAttemptIsNotRecorded(t *testing.T) {
	for _, mark := range []string{"not sent", "answered"} {
		t.Run(mark, func(t *testing.T) {
			p := newScripted("prov", providers.Facts{Idempotent: true, SettleWindow: time.Hour})
			p.settleErrs = []error{providers.TransientError("", "timeout", nil)}
			r := newRig(t, p)
			msg := requestMsg(t, "req-stale-mark", messages.SettlementDebit, nil)
			_ = r.h.Handle(msg)
			r.pub.take()
			stale := r.get(t, "req-stale-mark")
			if stale.State != store.StateSubmitting {
				t.Fatalf("state %s, want submitting", stale.State)
			}
			ctx := context.Background()
			// The other delivery counts its attempt (and repeats the call
			// under the same key, recording no new call).
			if _, _, err := r.st.Transition(ctx, stale.Key, []store.State{store.StateSubmitting}, store.StateSubmitting,
				store.Change{IncAttempts: true, Note: "attempt 2"}, nil); err != nil {
				t.Fatal(err)
			}
			before := r.get(t, "req-stale-mark")
			if mark == "not sent" {
				r.h.markNotSent(ctx, stale, true)
			} else {
				r.h.markAnswered(ctx, stale)
			}
			after := r.get(t, "req-stale-mark")
			if after.Refs[refCallNotSent] != before.Refs[refCallNotSent] || after.Refs[refCallAnsweredAt] != before.Refs[refCallAnsweredAt] {
				t.Fatalf("the stale delivery's mark was recorded over the other delivery's call: refs %v, before %v", after.Refs, before.Refs)
			}
		})
	}
}
