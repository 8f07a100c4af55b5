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

// TestRefundRepeatRefusedAsKeyReuseIsNeverR: a refund whose reply was lost
// moved the money; a repeat of it under the same idempotency key that
// Frisbii answers with error 1 "Invalid request" (the key was used with
// other content: "Only one refund can be performed for the same key") must
// never end R: the key's first use may be this request's refund. The
// repeat's body differs here in its text, as when the worker that retries
// builds the refund text otherwise than the one that sent it (a rolling
// upgrade between attempts, as acquirer_reference's trimming was). A first
// attempt answered error 1 is still R. Judged from the sandbox's ledger.
func TestRefundRepeatRefusedAsKeyReuseIsNeverR(t *testing.T) {
	ctx := context.Background()
	first := func(t *testing.T, e *env) {
		t.Helper()
		req := credit("k1", "O1", "40.00")
		req.Message.RefundReason = "Returned: damaged"
		e.faults(t, sandbox.EndpointRefund, sandbox.Faults{DropNext: 1})
		if _, err := e.client.Settle(ctx, req); providers.ClassOf(err) != providers.Transient {
			t.Fatalf("first attempt = %v", err)
		}
		if got := refunded(t, e, "O1"); got != 4000 {
			t.Fatalf("refunded %d after the dropped reply, want 4000", got)
		}
	}
	repeat := func(attempt int) *providers.Request {
		req := credit("k1", "O1", "40.00")
		req.Message.RefundReason = "Returned: damaged (box)" // another text under the same key
		req.Attempt = attempt
		return req
	}
	tests := []struct {
		name string
		run  func(t *testing.T, e *env) (providers.Outcome, error)
	}{
		{"Reconcile", func(t *testing.T, e *env) (providers.Outcome, error) {
			first(t, e)
			out, _, err := e.client.Reconcile(ctx, repeat(2))
			return out, err
		}},
		{"Reconcile on attempt 1 (crash after the call)", func(t *testing.T, e *env) (providers.Outcome, error) {
			first(t, e)
			out, _, err := e.client.Reconcile(ctx, repeat(1))
			return out, err
		}},
		{"Settle on attempt 2", func(t *testing.T, e *env) (providers.Outcome, error) {
			first(t, e)
			return e.client.Settle(ctx, repeat(2))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled})
			out, err := tc.run(t, e)
			es := e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: sandbox.EntryRefund})
			if len(es) != 1 || es[0].Amount != 4000 || es[0].State != sandbox.EntryRefunded || refunded(t, e, "O1") != 4000 {
				t.Fatalf("ledger = %+v, want one refund of 4000", es)
			}
			if err == nil && out.Kind == providers.Refused || err != nil && providers.ClassOf(err) == providers.Permanent {
				t.Fatalf("repeat = %+v, %v: R for a request whose 40.00 USD Frisbii refunded", out, err)
			}
			checkErr(t, err, providers.Unresolved, "1", "Frisbii admin")
			if r := providers.ReasonOf(err); !strings.Contains(r, "k1") || !strings.Contains(r, "40.00 USD refunded") {
				t.Fatalf("reason %q does not name the key and the refunded amount", r)
			}
		})
	}
	t.Run("first attempt answered error 1 is R", func(t *testing.T) {
		e := newEnv(t)
		e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled})
		e.faults(t, sandbox.EndpointRefund, sandbox.Faults{ErrorNext: 1, ErrorCode: sandbox.CodeInvalidRequest})
		_, err := e.client.Settle(ctx, credit("k1", "O1", "40.00"))
		checkErr(t, err, providers.Permanent, "1", "Invalid request")
		if got := refunded(t, e, "O1"); got != 0 {
			t.Fatalf("refunded %d, want 0", got)
		}
	})
}

// TestPipelineRefundRepeatRefusedAsKeyReusePublishesNoR: through the
// settlement handler: a credit's refund is performed but its reply lost
// (502); the retry, under the same key, is answered error 1 "Invalid
// request". No R may be published: the sandbox refunded 40.00 USD.
func TestPipelineRefundRepeatRefusedAsKeyReusePublishesNoR(t *testing.T) {
	e := newEnv(t)
	e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled})
	h, rec := pipeline(t, e)
	e.faults(t, sandbox.EndpointRefund, sandbox.Faults{DropNext: 1})
	if err := h.Handle(requestMessage(t, "c1", "O1", messages.SettlementCredit, "40.00")); err != nil {
		t.Fatal(err)
	}
	if got := refunded(t, e, "O1"); got != 4000 {
		t.Fatalf("refunded %d after the dropped reply", got)
	}
	e.faults(t, sandbox.EndpointRefund, sandbox.Faults{ErrorNext: 1, ErrorCode: sandbox.CodeInvalidRequest})
	if err := h.Handle(rec.last(t, handlers.HeaderAttempt)); err != nil {
		t.Fatal(err)
	}
	es := e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: sandbox.EntryRefund})
	if len(es) != 1 || es[0].Amount != 4000 || refunded(t, e, "O1") != 4000 {
		t.Fatalf("ledger = %+v, want one refund of 4000", es)
	}
	for _, p := range rec.msgs {
		if p.msg.Metadata.Get(handlers.HeaderSettlementStatus) != "" {
			if st := statusOf(t, p.msg); st.SettlementStatus != messages.StatusSettled {
				t.Fatalf("Frisbii refunded this request's 40.00 USD but the worker published %s %q", st.SettlementStatus, st.DeclineReason)
			}
		}
	}
}
