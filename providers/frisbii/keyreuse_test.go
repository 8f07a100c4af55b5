package frisbii_test

import (
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers/frisbii"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/frisbii"
)

// TestRepeatRefusedAsKeyReuseIsNeverR: a settle whose reply was lost moved
// the money; a repeat of it under the same idempotency key that Frisbii
// answers with error 1 "Invalid request" (the key was used with other
// content) must never end R: the key's first use may be this request's
// capture. The repeat here is a duplicate delivery whose acquirer_reference
// differs from the recorded one only by spaces around it, which the
// identity check (trimmed) takes for the same request.
func TestRepeatRefusedAsKeyReuseIsNeverR(t *testing.T) {
	for _, tc := range []struct{ name, first, dup string }{
		{"trailing space", "REF-1", "REF-1 "},
		{"leading space", "REF-1", " REF-1"},
		{"blank header on the duplicate only", "", "  "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000})
			h, rec := pipeline(t, e)
			msg := func(ref string) *message.Message {
				m := requestMessage(t, "k1", "O1", messages.SettlementDebit, "40.00")
				if ref != "" {
					m.Metadata.Set(frisbii.HeaderAcquirerReference, ref)
				}
				return m
			}
			e.faults(t, sandbox.EndpointSettle, sandbox.Faults{DropNext: 1})
			if err := h.Handle(msg(tc.first)); err != nil {
				t.Fatal(err)
			}
			if e.settled(t, "O1") != 4000 {
				t.Fatalf("settled %d after the dropped reply", e.settled(t, "O1"))
			}
			if err := h.Handle(msg(tc.dup)); err != nil { // a duplicate publish
				t.Fatal(err)
			}
			if err := h.Handle(rec.last(t, handlers.HeaderAttempt)); err != nil { // the retry, if any
				t.Fatal(err)
			}
			if got := e.settled(t, "O1"); got != 4000 {
				t.Fatalf("Frisbii settled %d, want 4000 (one capture)", got)
			}
			for _, p := range rec.msgs {
				if v := p.msg.Metadata.Get(handlers.HeaderSettlementStatus); v != "" {
					if st := statusOf(t, p.msg); st.SettlementStatus != messages.StatusSettled {
						t.Fatalf("Frisbii holds this request's 40.00 USD capture but the worker published %s %q",
							st.SettlementStatus, st.DeclineReason)
					}
				}
			}
		})
	}
}
