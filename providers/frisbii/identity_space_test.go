package frisbii_test

import (
	"testing"

	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/frisbii"
)

// TestDuplicateWithAcquirerReferenceInOtherSpacing: a duplicate of a known
// requestId whose acquirer_reference differs only by white space is the
// same request (the identity check compares money headers trimmed), so the
// client must send Frisbii the same settle body for it: the header
// trimmed. Before, it was sent as written, the repeat under the same
// idempotency key met Frisbii's conflict (error 1) and the request ended R
// over money that had moved. Now the duplicate replays the settle: one
// capture in the sandbox's ledger, and only S is ever published.
func TestDuplicateWithAcquirerReferenceInOtherSpacing(t *testing.T) {
	for _, tc := range []struct{ name, first, dup string }{
		{"trailing space", "REF-1", "REF-1 "},
		{"leading space", "REF-1", " REF-1"},
		{"white space only against absent", "", " "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000})
			h, rec := pipeline(t, e)
			crashed := false
			h.Crash = func(point string) {
				if point == handlers.CrashAfterSettleCall && !crashed {
					crashed = true
					panic("crash")
				}
			}
			first := requestMessage(t, "ar1", "O1", messages.SettlementDebit, "40.00")
			if tc.first != "" {
				first.Metadata.Set("acquirer_reference", tc.first)
			}
			func() {
				defer func() { _ = recover() }()
				_ = h.Handle(first)
			}()
			if !crashed || e.settled(t, "O1") != 4000 {
				t.Fatalf("crashed %v, O1 settled %d", crashed, e.settled(t, "O1"))
			}
			dup := requestMessage(t, "ar1", "O1", messages.SettlementDebit, "40.00")
			dup.UUID = "m-ar1-dup"
			dup.Metadata.Set("acquirer_reference", tc.dup)
			if err := h.Handle(dup); err != nil {
				t.Fatal(err)
			}
			for _, m := range rec.msgs {
				if v := m.msg.Metadata.Get(handlers.HeaderSettlementStatus); v != "" && v != messages.StatusSettled {
					t.Fatalf("status %s published for the duplicate: %s (O1 settled %d)", v, m.msg.Payload, e.settled(t, "O1"))
				}
			}
			if err := h.Handle(first); err != nil { // the broker redelivers the first
				t.Fatal(err)
			}
			if st := statusOf(t, rec.last(t, handlers.HeaderSettlementStatus)); st.SettlementStatus != messages.StatusSettled {
				t.Fatalf("status = %+v", st)
			}
			if e.settled(t, "O1") != 4000 || len(e.sb.Ledger()) != 1 {
				t.Fatalf("O1 %d; ledger %+v", e.settled(t, "O1"), e.sb.Ledger())
			}
		})
	}
}
