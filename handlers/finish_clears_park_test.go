package handlers

import (
	"context"
	"testing"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// A park written while a delivery's call is in flight (another replica
// that lost the order lock, or a sweeper round) does not outlive the
// verdict that call brought: the settlement ends settled and unparked, as
// a late Radial status clears the sweeper's parking. Before, the verdict
// was published but the parked reason stayed: the settled settlement
// counted on the parked gauge, `parked` listed it for a person, and
// retention (which skips parked rows) never purged its card data.
func TestVerdictClearsAParkWrittenDuringTheCall(t *testing.T) {
	p := newScripted("prov", providers.Facts{})
	r := newRig(t, p)
	p.onSettle = func(req *providers.Request) {
		reason := "parked by another replica meanwhile"
		key := store.Key{Provider: "prov", RequestID: req.RequestID}
		if _, _, err := r.st.Transition(context.Background(), key, []store.State{store.StateSubmitting}, store.StateSubmitting,
			store.Change{ParkedReason: &reason, Note: "parked elsewhere"}, nil); err != nil {
			t.Errorf("park during the call: %v", err)
		}
	}
	r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
	ev := only(t, r.pub.take(), statusQ)
	if got := ev.Metadata.Get(HeaderSettlementStatus); got != "" && got != messages.StatusSettled {
		t.Fatalf("status event %q, want S", got)
	}
	s := r.get(t, "req-1")
	if s.State != store.StateSettled || s.ParkedReason != "" {
		t.Fatalf("settlement %s with parked reason %q, want settled and unparked", s.State, s.ParkedReason)
	}
	if _, _, ledger := p.counts(); ledger["req-1"] != 1 {
		t.Fatalf("ledger %v, want one capture", ledger)
	}
}
