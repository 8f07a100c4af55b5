package miva_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// parkedReason is the reason of the message parked among ps ("" if none).
func parkedReason(ps []published) string {
	for _, m := range ps {
		if m.key == broker.ParkedQueue("miva") {
			return m.msg.Metadata.Get(handlers.HeaderParkedReason)
		}
	}
	return ""
}

// TestPipelineSiblingOfUnknownOutcomeMakesTheOrderAmbiguous: two debits of
// the same amount on one Miva order, both with an unknown outcome. A's
// capture hung and Miva never acted; B's capture moved money but its reply
// was lost. Whichever reconciles first, the record Miva shows could be
// either one's: the other is still submitting, with no record named. It
// once settled A with B's record (an S without money for A, and B parked as
// "no trace" although it moved money). Each must be parked as ambiguous,
// and nothing captured again.
func TestPipelineSiblingOfUnknownOutcomeMakesTheOrderAmbiguous(t *testing.T) {
	for _, aFirst := range []bool{true, false} {
		name := map[bool]string{true: "A reconciles first", false: "B reconciles first"}[aFirst]
		t.Run(name, func(t *testing.T) {
			order := sandbox.OrderSeed{OrderID: 700, Records: []sandbox.RecordSeed{
				{ID: 70, Type: sandbox.TypeAuth, Amount: "200.00", Available: "200.00"},
			}}
			e := newEnv(t, sandbox.Config{}, order)
			p := newPipeline(t, e, "")

			if err := e.sb.SetFaults(sandbox.EndpointCapture, sandbox.Faults{HangNext: 1}); err != nil {
				t.Fatal(err)
			}
			p.deliver(t, settlementMessage(t, "sib-a", "700", messages.SettlementDebit, "50.00"))
			aNext := retryOf(t, p.pub.take())
			if err := e.sb.SetFaults(sandbox.EndpointCapture, sandbox.Faults{DropNext: 1}); err != nil {
				t.Fatal(err)
			}
			p.deliver(t, settlementMessage(t, "sib-b", "700", messages.SettlementDebit, "50.00"))
			bNext := retryOf(t, p.pub.take())
			if n := len(captures(e)); n != 1 {
				t.Fatalf("captures after A and B: %d, want B's only", n)
			}

			redeliveries := []struct {
				name string
				msg  *message.Message
			}{{"A", aNext}, {"B", bNext}}
			if !aFirst {
				slices.Reverse(redeliveries)
			}
			for _, d := range redeliveries {
				p.deliver(t, d.msg)
				ps := p.pub.take()
				if st := statusOf(t, ps); st != nil {
					t.Errorf("%s: status %s (%q) while it cannot be known whose the one capture is", d.name, st.SettlementStatus, st.DeclineReason)
				}
				if r := parkedReason(ps); !strings.Contains(r, "ambiguous") {
					t.Errorf("%s: parked reason %q, want the order ambiguous", d.name, r)
				}
			}
			if n := len(captures(e)); n != 1 {
				t.Fatalf("captures %d, want 1 (nothing captured again)", n)
			}
		})
	}
}

// TestPipelineReconcileReadFailureNeverRefuses: the capture moved money
// but its reply was lost; the redelivery reconciles, and Miva answers the
// payment-list read with an error its client classifies as permanent. It
// once ended the request R with the money taken. A failed reconciliation
// says nothing about the money: the request is parked for a person.
func TestPipelineReconcileReadFailureNeverRefuses(t *testing.T) {
	for i, code := range []string{"invalid_request", "missing_parameter", "invalid_parameter", "order_not_found"} {
		t.Run(code, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{}, seedExample)
			p := newPipeline(t, e, "")
			if err := e.sb.SetFaults(sandbox.EndpointCapture, sandbox.Faults{DropNext: 1}); err != nil {
				t.Fatal(err)
			}
			p.deliver(t, settlementMessage(t, "rec-"+strconv.Itoa(i), "200102", messages.SettlementDebit, "1.00"))
			next := retryOf(t, p.pub.take())
			if err := e.sb.SetFaults(sandbox.EndpointList, sandbox.Faults{ErrorNext: 1, ErrorCode: code}); err != nil {
				t.Fatal(err)
			}
			p.deliver(t, next)
			ps := p.pub.take()
			if st := statusOf(t, ps); st != nil {
				t.Fatalf("status %s (%q) after a failed reconciliation; the capture exists (%d)", st.SettlementStatus, st.DeclineReason, len(captures(e)))
			}
			if r := parkedReason(ps); !strings.Contains(r, "reconcile") {
				t.Fatalf("parked reason %q, want the failed reconciliation", r)
			}
			if n := len(captures(e)); n != 1 {
				t.Fatalf("captures %d", n)
			}
		})
	}
}

// TestPipelineNotSentAnswerAfterACaptureIsReconciledFirst: a proxy answers
// 503 although Miva captured (the sandbox acts, then answers 503). The
// client reads 503 as "refused before acting" (not sent), so the retry
// captured again at once: two captures for one request. Miva has no
// idempotency key, so a retry after a not-sent answer reads the payment
// list first and settles with the capture it finds.
func TestPipelineNotSentAnswerAfterACaptureIsReconciledFirst(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, seedExample)
	p := newPipeline(t, e, "")
	if err := e.sb.SetFaults(sandbox.EndpointCapture, sandbox.Faults{DropNext: 1, DropStatus: 503}); err != nil {
		t.Fatal(err)
	}
	p.deliver(t, settlementMessage(t, "ns-1", "200102", messages.SettlementDebit, "1.00"))
	next := retryOf(t, p.pub.take())
	if n := len(captures(e)); n != 1 {
		t.Fatalf("captures after the 503: %d, want 1", n)
	}
	p.deliver(t, next)
	st := statusOf(t, p.pub.take())
	if n := len(captures(e)); n != 1 {
		t.Fatalf("captures %d after the retry, want 1 (captured twice)", n)
	}
	if st == nil || st.SettlementStatus != messages.StatusSettled {
		t.Fatalf("status %+v, want S with the capture found", st)
	}
}
