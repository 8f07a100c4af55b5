package frisbii_test

import (
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/frisbii"
)

// TestChargeHandleInTwoSpellingsIsRefused: the client reads charge_handle
// in any case, and a request carrying it under two spellings other than
// the exact one (CHARGE_HANDLE=CH-A, Charge_Handle=CH-B) names two charges.
// The client took whichever its map iteration met first: a guess, which
// could differ between the settle and a later reconciliation. It is refused
// (R naming the header) before any call; neither charge moves. Judged from
// the sandbox's ledger.
func TestChargeHandleInTwoSpellingsIsRefused(t *testing.T) {
	e := newEnv(t)
	e.seed(t, sandbox.ChargeSeed{Handle: "CH-A", Amount: 10000})
	e.seed(t, sandbox.ChargeSeed{Handle: "CH-B", Amount: 10000})
	h, rec := pipeline(t, e)
	msg := requestMessage(t, "two1", "O1", messages.SettlementDebit, "40.00")
	msg.Metadata.Set("CHARGE_HANDLE", "CH-A")
	msg.Metadata.Set("Charge_Handle", "CH-B")
	if err := h.Handle(msg); err != nil {
		t.Fatal(err)
	}
	if a, b := e.settled(t, "CH-A"), e.settled(t, "CH-B"); a != 0 || b != 0 {
		t.Fatalf("settled CH-A %d, CH-B %d for a request naming both", a, b)
	}
	st := statusOf(t, rec.last(t, handlers.HeaderSettlementStatus))
	if st.SettlementStatus != messages.StatusRejected || !strings.Contains(st.DeclineReason, "charge_handle") {
		t.Fatalf("status %s %q, want R naming charge_handle", st.SettlementStatus, st.DeclineReason)
	}
}
