package frisbii_test

import (
	"context"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/frisbii"
)

// TestRefundPollAnswerThatIsNoVerdictNeverEndsR: a refund left processing
// is polled; every answer of that poll that is not Frisbii's record of the
// refund failing is no verdict: an error about the read or about the
// repeat of the refund that Poll sends under the same key when the read
// answers 8 or 107 (1 "Invalid request", 8, 31, 64, 65, 66, 401, 403, 429,
// 5xx) or a malformed body. Poll must keep the refund pending (transient)
// or park it (Unresolved), never answer R (Refused or Permanent): the
// sandbox goes on and refunds 100.00 USD, and the next poll answers S.
// Judged from the sandbox's ledger.
func TestRefundPollAnswerThatIsNoVerdictNeverEndsR(t *testing.T) {
	ctx := context.Background()
	get := func(code int) sandbox.Faults { return sandbox.Faults{ErrorNext: 1, ErrorCode: code} }
	tests := []struct {
		name      string
		read, rep sandbox.Faults // faults of GET /v1/refund/{id} and of the repeated POST /v1/refund
	}{
		{name: "read 8, repeat 1 Invalid request", read: get(sandbox.CodeNotFound), rep: get(sandbox.CodeInvalidRequest)},
		{name: "read 8, repeat 8 Not found", read: get(sandbox.CodeNotFound), rep: get(sandbox.CodeNotFound)},
		{name: "read 8, repeat 31 Invoice not found", read: get(sandbox.CodeNotFound), rep: get(sandbox.CodeInvoiceNotFound)},
		{name: "read 107, repeat 64 Invoice not settled", read: get(sandbox.CodeRefundNotFound), rep: get(sandbox.CodeInvoiceNotSettled)},
		{name: "read 107, repeat 65 Refund amount too high", read: get(sandbox.CodeRefundNotFound), rep: get(sandbox.CodeRefundAmountTooHigh)},
		{name: "read 8, repeat 66 Refund failed", read: get(sandbox.CodeNotFound), rep: get(sandbox.CodeRefundFailed)},
		{name: "read 8, repeat 146 Non positive amount", read: get(sandbox.CodeNotFound), rep: get(sandbox.CodeNonPositiveAmount)},
		{name: "read 8, repeat 401", read: get(sandbox.CodeNotFound), rep: get(sandbox.CodeNotAuthenticated)},
		{name: "read 8, repeat 429", read: get(sandbox.CodeNotFound), rep: get(sandbox.CodeRateLimit)},
		{name: "read 8, repeat 500", read: get(sandbox.CodeNotFound), rep: sandbox.Faults{FailNext: 1, FailStatus: 500}},
		{name: "read 8, repeat malformed", read: get(sandbox.CodeNotFound), rep: sandbox.Faults{GarbleNext: 1}},
		{name: "read 1 Invalid request", read: get(sandbox.CodeInvalidRequest)},
		{name: "read 66 Refund failed", read: get(sandbox.CodeRefundFailed)},
		{name: "read 65 Refund amount too high", read: get(sandbox.CodeRefundAmountTooHigh)},
		{name: "read 403", read: get(sandbox.CodeUnauthorized)},
		{name: "read 429", read: get(sandbox.CodeConcurrencyLimit)},
		{name: "read 503", read: sandbox.Faults{FailNext: 1}},
		{name: "read malformed", read: sandbox.Faults{GarbleNext: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, req, out := pendingRefund(t)
			req.Attempt = 2
			e.faults(t, sandbox.EndpointRefundGet, tc.read)
			e.faults(t, sandbox.EndpointRefund, tc.rep)
			p, err := e.client.Poll(ctx, req)
			e.refundedAfterAMinute(t)
			if err == nil && p.Kind == providers.Refused || err != nil && providers.ClassOf(err) == providers.Permanent {
				t.Fatalf("Poll = %+v, %v: an R over a refund Frisbii went on to refund (100.00 USD)", p, err)
			}
			if err == nil && p.Kind != providers.Pending {
				t.Fatalf("Poll = %+v: a verdict from an answer that is none", p)
			}
			if err != nil {
				noSecrets(t, err.Error())
			}
			e.pollSettles(t, req, out.Ref)
		})
	}
}

// TestPipelineRefundPollRepeatRefusedPublishesNoR: the same through the
// settlement handler: the poll's read answered 8, the repeat of the refund
// under its key answered 65 "Refund amount too high": no R is published
// (the settlement is parked for a person or polled again), and the sandbox
// refunds 100.00 USD once.
func TestPipelineRefundPollRepeatRefusedPublishesNoR(t *testing.T) {
	pollThroughPipeline(t, sandbox.Faults{ErrorNext: 1, ErrorCode: sandbox.CodeRefundAmountTooHigh})
}

// pendingRefund is a fresh env whose order O1, a settled charge of 100.00
// USD, is refunded in full by a credit that Frisbii keeps processing for a
// minute of e's clock: Settle has answered Pending (out), and req carries
// out's refs as the pipeline records them.
func pendingRefund(t *testing.T) (e *env, req *providers.Request, out providers.Outcome) {
	t.Helper()
	e = newEnv(t)
	e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled,
		Refund: &sandbox.RefundScript{State: sandbox.RefundProcessing, ProcessingMS: 60000}})
	req = credit("async", "O1", "100.00")
	out, err := e.client.Settle(context.Background(), req)
	if err != nil || out.Kind != providers.Pending {
		t.Fatalf("Settle = %+v, %v", out, err)
	}
	req.Refs = out.Refs
	return e, req, out
}

// refundedAfterAMinute advances e's clock a minute, past the processing of
// pendingRefund's refund, and checks that the sandbox's ledger holds that
// one refund, of 10000, refunded.
func (e *env) refundedAfterAMinute(t *testing.T) {
	t.Helper()
	e.clock.Add(time.Minute)
	es := e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: sandbox.EntryRefund})
	if len(es) != 1 || es[0].State != sandbox.EntryRefunded || es[0].Amount != 10000 {
		t.Fatalf("ledger = %+v, want one refund of 10000 refunded", es)
	}
}

// pollSettles checks that the next poll of pendingRefund's req, once its
// refund has completed, answers S with the refund's ref, and that O1 is
// refunded 100.00 once.
func (e *env) pollSettles(t *testing.T, req *providers.Request, ref string) {
	t.Helper()
	p, err := e.client.Poll(context.Background(), req)
	if err != nil || p.Kind != providers.Settled || p.Ref != ref {
		t.Fatalf("Poll after = %+v, %v", p, err)
	}
	if got := refunded(t, e, "O1"); got != 10000 {
		t.Fatalf("refunded %d, want 10000 once", got)
	}
}

// pollThroughPipeline sends a credit of 100.00 for O1, whose refund Frisbii
// keeps processing, through the settlement handler, and handles its poll
// with the refund read answering 8 "Not found" and the repeat of the refund
// under its key answering rep (none when rep is zero). A minute on, the
// sandbox's ledger must hold the one refund, refunded, and no status the
// handler published may be other than S. It returns the env, the handler
// and what it published, for the caller's next steps.
func pollThroughPipeline(t *testing.T, rep sandbox.Faults) (*env, *handlers.Settlement, *recorder) {
	t.Helper()
	e := newEnv(t)
	e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000, State: sandbox.StateSettled,
		Refund: &sandbox.RefundScript{State: sandbox.RefundProcessing, ProcessingMS: 60000}})
	h, rec := pipeline(t, e)
	if err := h.Handle(requestMessage(t, "c1", "O1", messages.SettlementCredit, "100.00")); err != nil {
		t.Fatal(err)
	}
	poll := rec.last(t, handlers.HeaderPoll)
	e.faults(t, sandbox.EndpointRefundGet, sandbox.Faults{ErrorNext: 1, ErrorCode: sandbox.CodeNotFound})
	if rep != (sandbox.Faults{}) {
		e.faults(t, sandbox.EndpointRefund, rep)
	}
	if err := h.Handle(poll); err != nil {
		t.Fatal(err)
	}
	e.refundedAfterAMinute(t)
	for _, p := range rec.msgs {
		if p.msg.Metadata.Get(handlers.HeaderSettlementStatus) != "" {
			if st := statusOf(t, p.msg); st.SettlementStatus != messages.StatusSettled {
				t.Fatalf("Frisbii refunded 100.00 USD but the worker published %s %q", st.SettlementStatus, st.DeclineReason)
			}
		}
	}
	return e, h, rec
}
