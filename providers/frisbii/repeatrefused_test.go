package frisbii_test

import (
	"context"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/frisbii"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/frisbii"
	"github.com/settlement-worker/settlement-worker/store"
)

// TestRefusalOfARepeatAfterItsMoneyMovedIsNeverR: Frisbii forgot the key
// sooner than FRISBII_KEY_LIFETIME (the sandbox after an hour, the client
// trusting 24h), so the repeat of a settle (refund) whose reply was lost
// was a new call, refused for want of room: error 102 (65). The client
// reported R though the sandbox's ledger held the first call's 60.00. A
// refusal of a possible repeat is now R only when it cannot hide the first
// call's money: for a debit, when the charge shows no more settled than at
// confirmation; otherwise (and for 65 on a refund's repeat) it is parked.
// A refusal with nothing settled since confirmation stays R.
func TestRefusalOfARepeatAfterItsMoneyMovedIsNeverR(t *testing.T) {
	ctx := context.Background()
	t.Run("debit: 102 on the repeat, the first call's 60.00 settled", func(t *testing.T) {
		e := newEnvForgetting(t, time.Hour)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000})
		out, err := repeatAfterKeyForgotten(t, e, debit("A", "O1", "60.00"))
		if out.Kind == providers.Refused || providers.ClassOf(err) == providers.Permanent {
			t.Fatalf("Reconcile = %+v, %v: R, though A's 6000 settled (settled %d)", out, err, e.settled(t, "O1"))
		}
		checkErr(t, err, providers.Unresolved, "102", "60.00 USD settled")
	})
	t.Run("credit: 65 on the repeat, the first call's 60.00 refunded", func(t *testing.T) {
		e := newEnvForgetting(t, time.Hour)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled})
		out, err := repeatAfterKeyForgotten(t, e, credit("R", "O1", "60.00"))
		if out.Kind == providers.Refused || providers.ClassOf(err) == providers.Permanent {
			t.Fatalf("Reconcile = %+v, %v: R, though R's 6000 was refunded (refunded %d)", out, err, refunded(t, e, "O1"))
		}
		checkErr(t, err, providers.Unresolved, "65", "Frisbii admin")
	})
	t.Run("debit: 102 on a repeat with nothing settled since confirmation stays R", func(t *testing.T) {
		e := newEnv(t)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000})
		a := debit("A", "O1", "60.00")
		cr, err := e.client.ConfirmFunds(ctx, a)
		if err != nil || !cr.Available {
			t.Fatalf("confirm = %+v, %v", cr, err)
		}
		// The authorization shrank to 50.00 since (seeded anew): nothing settled.
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 5000})
		a.Refs, a.Attempt = cr.Refs, 2
		_, _, err = e.client.Reconcile(ctx, a)
		checkErr(t, err, providers.Permanent, "102", "Amount higher than authorized amount")
	})
}

// TestPipelineRefusedRepeatAfterItsMoneyMovedPublishesNoR: the same
// through the settlement handler: a debit of 60.00 whose capture reply is
// lost, retried after Frisbii (the sandbox) forgot its key, is refused
// with 102 and must be parked, not published R; the ledger holds the one
// capture.
func TestPipelineRefusedRepeatAfterItsMoneyMovedPublishesNoR(t *testing.T) {
	ctx := context.Background()
	e := newEnvForgetting(t, time.Hour)
	e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000})
	h, rec := pipeline(t, e)
	e.faults(t, sandbox.EndpointSettle, sandbox.Faults{DropNext: 1})
	if err := h.Handle(requestMessage(t, "p1", "O1", messages.SettlementDebit, "60.00")); err != nil {
		t.Fatal(err)
	}
	retry := rec.last(t, handlers.HeaderAttempt)
	e.clock.Add(2 * time.Hour)
	if err := h.Handle(retry); err != nil {
		t.Fatal(err)
	}
	for _, p := range rec.msgs {
		if p.msg.Metadata.Get(handlers.HeaderSettlementStatus) != "" {
			t.Fatalf("published %+v though the ledger holds 60.00 settled under p1 (%+v)", statusOf(t, p.msg), e.sb.Ledger())
		}
	}
	s, err := h.Store.Get(ctx, store.Key{Provider: frisbii.Name, RequestID: "p1"})
	if err != nil {
		t.Fatal(err)
	}
	if s.ParkedReason == "" || e.settled(t, "O1") != 6000 {
		t.Fatalf("state %s, parked %q, settled %d", s.State, s.ParkedReason, e.settled(t, "O1"))
	}
}

// TestDeclineOfARepeatAfterItsMoneyMovedIsNeverR: the repeat of a settle
// (refund) whose reply was lost comes after Frisbii (the sandbox, after an
// hour; the client trusts 24h) forgot the key: it is a new call, and the
// acquirer declines it (the sandbox's script, from the second call on).
// The decline says nothing of the first call, whose 40.00 the ledger holds:
// the debit is parked (the charge shows more settled than at
// confirmation), and so is the credit: it reported R.
func TestDeclineOfARepeatAfterItsMoneyMovedIsNeverR(t *testing.T) {
	ctx := context.Background()
	t.Run("debit soft declined on the repeat", func(t *testing.T) {
		e := newEnvForgetting(t, time.Hour)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000,
			Decline: &sandbox.Decline{ErrorState: sandbox.ErrorStateSoftDeclined, After: 1, Count: 1}})
		out, err := repeatAfterKeyForgotten(t, e, debit("A", "O1", "40.00"))
		if out.Kind == providers.Refused || providers.ClassOf(err) == providers.Permanent {
			t.Fatalf("Reconcile = %+v, %v: R, though A's 4000 settled (settled %d)", out, err, e.settled(t, "O1"))
		}
		checkErr(t, err, providers.Unresolved, "", "Frisbii admin")
	})
	t.Run("credit declined on the repeat", func(t *testing.T) {
		e := newEnvForgetting(t, time.Hour)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled,
			Refund: &sandbox.RefundScript{State: sandbox.RefundFailed, ErrorState: sandbox.ErrorStateHardDeclined, After: 1, Count: 1}})
		out, err := repeatAfterKeyForgotten(t, e, credit("R", "O1", "40.00"))
		if out.Kind == providers.Refused || providers.ClassOf(err) == providers.Permanent {
			t.Fatalf("Reconcile = %+v, %v: R, though R's 4000 was refunded (refunded %d)", out, err, refunded(t, e, "O1"))
		}
		checkErr(t, err, providers.Unresolved, "", "Frisbii admin")
	})
	t.Run("credit declined on its first attempt is R", func(t *testing.T) {
		e := newEnv(t)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled,
			Refund: &sandbox.RefundScript{State: sandbox.RefundFailed, ErrorState: sandbox.ErrorStateHardDeclined}})
		out, err := e.client.Settle(ctx, credit("R", "O1", "40.00"))
		if err != nil || out.Kind != providers.Refused {
			t.Fatalf("Settle = %+v, %v", out, err)
		}
	})
}

// repeatAfterKeyForgotten sends req (a debit after its funds are
// confirmed), its answer lost (the call dropped after Frisbii performed
// it), then, two hours on, after the sandbox of newEnvForgetting(t,
// time.Hour) forgot the key, repeats it as Reconcile does on attempt 2.
func repeatAfterKeyForgotten(t *testing.T, e *env, req *providers.Request) (providers.Outcome, error) {
	t.Helper()
	ctx := context.Background()
	endpoint := sandbox.EndpointRefund
	req.Refs = usedAgo(nil, 0)
	if req.Message.SettlementType == messages.SettlementDebit {
		endpoint = sandbox.EndpointSettle
		cr, err := e.client.ConfirmFunds(ctx, req)
		if err != nil || !cr.Available {
			t.Fatalf("confirm = %+v, %v", cr, err)
		}
		req.Refs = cr.Refs
	}
	e.faults(t, endpoint, sandbox.Faults{DropNext: 1})
	if _, err := e.client.Settle(ctx, req); providers.ClassOf(err) != providers.Transient {
		t.Fatalf("first = %v", err)
	}
	e.clock.Add(2 * time.Hour)
	req.Attempt = 2
	out, _, err := e.client.Reconcile(ctx, req)
	return out, err
}
