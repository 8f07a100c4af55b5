package handlers

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// pendingScripted is a scripted provider whose Settle and Poll answer
// Pending (a provider that batches later, as Paysafe does daily).
type pendingScripted struct {
	*scripted
	recheck time.Duration
	pmu     sync.Mutex
	polls   int
	// pollErrs are returned by the next Poll calls, in order; a nil entry
	// (or none left) answers Pending.
	pollErrs []error
}

// newPendingRig is a rig whose idempotent provider "prov" answers every
// settle and poll Pending, to be polled again after recheck.
func newPendingRig(t *testing.T, recheck time.Duration) (*rig, *pendingScripted) {
	p := &pendingScripted{scripted: newScripted("prov", providers.Facts{Idempotent: true}), recheck: recheck}
	r := newRig(t, p.scripted)
	r.h.Provider = p
	return r, p
}

func (p *pendingScripted) Settle(ctx context.Context, req *providers.Request) (providers.Outcome, error) {
	if _, err := p.scripted.Settle(ctx, req); err != nil {
		return providers.Outcome{}, err
	}
	return providers.Outcome{Kind: providers.Pending, Ref: "cap-" + req.RequestID, RecheckAfter: p.recheck}, nil
}

func (p *pendingScripted) Poll(context.Context, *providers.Request) (providers.Outcome, error) {
	p.pmu.Lock()
	defer p.pmu.Unlock()
	p.polls++
	if len(p.pollErrs) > 0 {
		err := p.pollErrs[0]
		p.pollErrs = p.pollErrs[1:]
		if err != nil {
			return providers.Outcome{}, err
		}
	}
	return providers.Outcome{Kind: providers.Pending, RecheckAfter: p.recheck}, nil
}

// A settlement pending at its provider is re-checked by its own poll loop
// (a copy through the retry queues every RecheckAfter), for up to
// PENDING_DEADLINE (72h by default), far longer than STUCK_AFTER (1h). A
// poll that finds it still pending recorded nothing, so its updated_at
// stayed at the move to pending and the sweeper took every live poll
// loop for a lost message: each STUCK_AFTER it published one more copy of
// the request (one more poll loop: 24 after a day of a Paysafe batch, all
// polling, their transient errors spending the settlement's retry budget),
// and the copies left after the pending deadline's parking took it for an
// operator's replay and unparked it. A poll loop that is alive must keep
// the settlement from looking stuck.
func TestSweeperLeavesALivePollLoopAlone(t *testing.T) {
	// STUCK_AFTER is twenty rechecks, not eight as it was: the test failed
	// once on a machine with a load average near 8, where more than eight
	// rechecks can pass between the last poll and the sweep.
	const (
		recheck    = 50 * time.Millisecond
		stuckAfter = 1000 * time.Millisecond
	)
	r, p := newPendingRig(t, recheck)
	r.h.Retry = RetryPolicy{Delays: []time.Duration{recheck, 2 * recheck}, MaxAttempts: 3}
	r.h.StuckAfter = stuckAfter
	w := r.sweeper(0)
	w.Providers = map[string]providers.Provider{"prov": p}
	w.StuckAfter = stuckAfter
	w.Now = nil

	r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
	poll := only(t, r.pub.take(), retryQ(r))
	if s := r.get(t, "req-1"); s.State != store.StatePending {
		t.Fatalf("state %s, want pending", s.State)
	}
	// The poll loop runs on time for twice STUCK_AFTER.
	for end := time.Now().Add(2 * stuckAfter); time.Now().Before(end); {
		time.Sleep(recheck)
		r.deliver(t, poll)
		poll = only(t, r.pub.take(), retryQ(r))
	}
	rep, err := w.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Resumed != 0 {
		var copies []string
		for _, m := range r.pub.take() {
			if strings.HasPrefix(m.key, broker.RequestQueue("prov")) {
				copies = append(copies, m.key)
			}
		}
		t.Fatalf("the sweeper resumed %d settlement(s) whose poll loop is alive (last poll %s ago): copies %v now run beside the loop's own",
			rep.Resumed, recheck, copies)
	}
	if s := r.get(t, "req-1"); s.State != store.StatePending || s.ParkedReason != "" {
		t.Errorf("state %s parked %q, want pending", s.State, s.ParkedReason)
	}

	// A lost poll copy is still found: the loop stops, and the sweeper
	// resumes the settlement after STUCK_AFTER.
	time.Sleep(stuckAfter + recheck)
	if rep, err := w.Sweep(context.Background()); err != nil || rep.Resumed != 1 {
		t.Fatalf("sweep after the poll copy was lost: %+v, %v; want it resumed", rep, err)
	}
}
