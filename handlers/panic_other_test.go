package handlers

import (
	"context"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// panicsForStore is a provider whose funds confirmation for one store
// panics (a reply the code did not expect); before panicking it runs
// during, which lets another delivery finish meanwhile.
type panicsForStore struct {
	*scripted
	storeID string
	during  func()
}

func (p *panicsForStore) ConfirmFunds(ctx context.Context, req *providers.Request) (providers.ConfirmResult, error) {
	if req.StoreID != p.storeID {
		return p.scripted.ConfirmFunds(ctx, req)
	}
	if p.during != nil {
		p.during()
	}
	panic("unexpected reply shape")
}

// A delivery that panics parks only itself, not a settlement that is not
// its request: a debit under another store_id (another order lock) found
// its requestId unrecorded, and while it confirmed funds the recorded
// request (store STORE1) was registered and acknowledged. Its panic
// parked that settlement by requestId alone: an acknowledged settlement
// with a parked reason is skipped by the sweeper (no status deadline, no
// parked copy of its own, left out of the pending alert), and replaying
// the panicked message only parks it as a different request, leaving the
// recorded one parked.
func TestPanicOfAnotherRequestDoesNotParkTheRecordedOne(t *testing.T) {
	sp := newScripted("prov", providers.Facts{})
	sp.accept = true
	p := &panicsForStore{scripted: sp, storeID: "STORE2"}
	r := newRig(t, sp)
	r.h.Provider = p
	p.during = func() {
		if err := r.h.HandleSafely(requestMsg(t, "req-1", messages.SettlementDebit, nil)); err != nil {
			t.Errorf("recorded request: %v", err)
		}
	}
	if err := r.h.HandleSafely(requestMsg(t, "req-1", messages.SettlementDebit, map[string]string{HeaderStoreID: "STORE2"})); err != nil {
		t.Fatalf("HandleSafely returned %v", err)
	}
	parked := only(t, r.pub.take(), broker.ParkedQueue("prov"))
	if reason := parked.Metadata.Get(HeaderParkedReason); !strings.Contains(reason, "panic") {
		t.Errorf("parked_reason %q", reason)
	}
	s := r.get(t, "req-1")
	if s.State != store.StateAcknowledged || s.StoreID != "STORE1" {
		t.Fatalf("recorded settlement %s of %s, want acknowledged of STORE1", s.State, s.StoreID)
	}
	if s.ParkedReason != "" {
		t.Errorf("the recorded settlement (STORE1, acknowledged) was parked by another request's panic: %q", s.ParkedReason)
	}
}
