package frisbii_test

import (
	"context"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/frisbii"
)

// TestChargeHandleInAnotherCaseIsPartOfIdentity: the client reads the
// charge_handle header whatever the case of its name (Charge_Handle), so a
// duplicate delivery naming another charge under such a name is a different
// request: it must be parked, naming the header, and never reach Frisbii.
// Judged from the sandbox: only the recorded request's charge O1 is
// settled, O2 never.
func TestChargeHandleInAnotherCaseIsPartOfIdentity(t *testing.T) {
	for _, name := range []string{"Charge_Handle", "CHARGE_HANDLE"} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000})
			e.seed(t, sandbox.ChargeSeed{Handle: "O2", Amount: 10000})
			h, rec := pipeline(t, e)
			first := requestMessage(t, "h1", "ORD-9", messages.SettlementDebit, "40.00")
			first.Metadata.Set(name, "O1")
			dup := requestMessage(t, "h1", "ORD-9", messages.SettlementDebit, "40.00")
			dup.Metadata.Set(name, "O2")

			e.faults(t, sandbox.EndpointSettle, sandbox.Faults{FailNext: 1}) // 503: not sent
			if err := h.Handle(first); err != nil {
				t.Fatal(err)
			}
			retry := rec.last(t, handlers.HeaderAttempt)
			if err := h.Handle(dup); err != nil { // a duplicate publish naming another charge
				t.Fatal(err)
			}
			if got := e.settled(t, "O2"); got != 0 {
				t.Fatalf("a duplicate whose %s names another charge settled %d on O2 (the recorded request names O1)", name, got)
			}
			if err := h.Handle(retry); err != nil {
				t.Fatal(err)
			}
			if got := e.settled(t, "O1"); got != 4000 {
				t.Fatalf("O1 settled %d, want 4000", got)
			}
			parked := rec.last(t, handlers.HeaderParkedReason)
			if r := parked.Metadata.Get(handlers.HeaderParkedReason); !strings.Contains(r, "charge_handle") {
				t.Fatalf("parked reason %q does not name the header", r)
			}
		})
	}
}

// TestChargeHandleNamedTwiceInDifferentCases: a message carrying the
// charge handle under two case variants of its name with different values
// must not settle whichever one a map iteration meets first (attempts of
// one request would settle different charges): it is refused before any
// call.
func TestChargeHandleNamedTwiceInDifferentCases(t *testing.T) {
	e := newEnv(t)
	e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000})
	for i := 0; i < 20; i++ {
		req := debit("t1", "ORD-9", "40.00")
		req.Headers["Charge_Handle"] = "O1"
		req.Headers["CHARGE_HANDLE"] = "O2"
		res, err := e.client.ConfirmFunds(context.Background(), req)
		if providers.ClassOf(err) != providers.Permanent || err == nil || !strings.Contains(err.Error(), "charge_handle") {
			t.Fatalf("try %d: ConfirmFunds = %+v, %v; want a permanent refusal naming charge_handle", i, res, err)
		}
	}
}
