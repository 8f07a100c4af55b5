package handlers

import (
	"context"
	"testing"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
)

// refsOnFailure is a provider whose ConfirmFunds fails, returning the
// refs its retry must send (Radial: the requestId, the same after a lost
// answer).
type refsOnFailure struct {
	*scripted
	refs map[string]string
}

func (p *refsOnFailure) ConfirmFunds(ctx context.Context, req *providers.Request) (providers.ConfirmResult, error) {
	_, _ = p.scripted.ConfirmFunds(ctx, req)
	return providers.ConfirmResult{Refs: p.refs}, providers.TransientError("", "answer lost", nil)
}

// A failed confirmation's refs are recorded before the retry (92f5768),
// but only when they change: a retry that failed again with the refs
// already recorded (Radial's same requestId after every lost answer) wrote
// them again, a second store write per failed confirmation besides the
// attempt's count, and a history line that said nothing new.
func TestFailedConfirmationWritesUnchangedRefsOnce(t *testing.T) {
	p := &refsOnFailure{scripted: newScripted("radial", providers.Facts{Idempotent: true}), refs: map[string]string{"confirm_id": "C-1"}}
	r := newRig(t, p.scripted)
	r.h.Provider = p
	r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil)) // registered with its refs
	if s := r.get(t, "req-1"); s.Refs["confirm_id"] != "C-1" {
		t.Fatalf("refs of the failed first confirmation not recorded: %v", s.Refs)
	}
	next := only(t, r.pub.take(), retryQ(r))
	before := writesOf(t, r.st)
	r.deliver(t, next) // attempt 2: counted, fails with the same refs
	if w := writesOf(t, r.st) - before; w != 1 {
		t.Errorf("attempt 2, whose confirmation failed with the refs recorded, wrote %d times, want 1 (its count)", w)
	}
	// Refs that change are recorded.
	p.refs = map[string]string{"confirm_id": "C-2"}
	r.deliver(t, only(t, r.pub.take(), retryQ(r)))
	if s := r.get(t, "req-1"); s.Refs["confirm_id"] != "C-2" {
		t.Errorf("changed refs not recorded: %v", s.Refs)
	}
}
