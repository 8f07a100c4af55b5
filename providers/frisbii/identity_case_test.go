package frisbii_test

import (
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/frisbii"
)

// TestDuplicateWithChargeHandleInOtherCase: the client reads charge_handle
// whatever its case, so a duplicate of a known requestId that names another
// charge under another spelling of the header is not the recorded request.
// It must be parked, naming the header, and never settle the other charge;
// the recorded request goes on and settles its own charge once. Judged from
// the sandbox's ledger.
func TestDuplicateWithChargeHandleInOtherCase(t *testing.T) {
	for _, tc := range []struct{ name, first, dup string }{
		{"recorded in other case, duplicate in a third", "Charge_Handle", "CHARGE_HANDLE"},
		{"recorded in other case, duplicate exact", "Charge_Handle", "charge_handle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.seed(t, sandbox.ChargeSeed{Handle: "CH-A", Amount: 10000})
			e.seed(t, sandbox.ChargeSeed{Handle: "CH-B", Amount: 10000})
			h, rec := pipeline(t, e)
			crashed := false
			h.Crash = func(point string) {
				if point == handlers.CrashAfterSettleCall && !crashed {
					crashed = true
					panic("crash")
				}
			}
			first := requestMessage(t, "hc1", "O1", messages.SettlementDebit, "40.00")
			first.Metadata.Set(tc.first, "CH-A")
			func() {
				defer func() { _ = recover() }()
				_ = h.Handle(first)
			}()
			if !crashed || e.settled(t, "CH-A") != 4000 {
				t.Fatalf("crashed %v, CH-A settled %d", crashed, e.settled(t, "CH-A"))
			}
			// The same body under a new message id, naming charge CH-B.
			dup := requestMessage(t, "hc1", "O1", messages.SettlementDebit, "40.00")
			dup.UUID = "m-hc1-dup"
			dup.Metadata.Set(tc.dup, "CH-B")
			if err := h.Handle(dup); err != nil {
				t.Fatal(err)
			}
			for _, m := range rec.msgs {
				if m.msg.Metadata.Get(handlers.HeaderSettlementStatus) != "" {
					t.Fatalf("a status was published for the duplicate: %s (CH-A settled %d)", m.msg.Payload, e.settled(t, "CH-A"))
				}
			}
			parked := rec.last(t, handlers.HeaderParkedReason)
			if r := parked.Metadata.Get(handlers.HeaderParkedReason); !strings.Contains(r, "header charge_handle") {
				t.Fatalf("duplicate not parked naming the header: %q", r)
			}
			if got := e.settled(t, "CH-B"); got != 0 {
				t.Fatalf("charge CH-B settled %d by a duplicate of hc1", got)
			}
			if err := h.Handle(first); err != nil { // the broker redelivers the first
				t.Fatal(err)
			}
			if st := statusOf(t, rec.last(t, handlers.HeaderSettlementStatus)); st.SettlementStatus != messages.StatusSettled {
				t.Fatalf("status = %+v", st)
			}
			if e.settled(t, "CH-A") != 4000 || e.settled(t, "CH-B") != 0 {
				t.Fatalf("CH-A %d, CH-B %d; ledger %+v", e.settled(t, "CH-A"), e.settled(t, "CH-B"), e.sb.Ledger())
			}
		})
	}
}
