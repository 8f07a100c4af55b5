package e2e

import (
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/sandbox/radial"
)

// A ConfirmFunds call with PerformReauthorization is no read: Radial
// reauthorizes, holding the customer's funds again. Radial's rule (seed
// 003, requestId): the same requestId is reused after a read timeout or a
// fault, and a new one is sent only after an answer such as Timeout. A
// confirmation Radial performed whose answer was lost (dropped, or
// committed after the worker's read timeout) must therefore be asked again
// under the same requestId: one reauthorization, judged from the sandbox's
// authorization, one debit, S.
func TestConfirmFundsAnswerLostReauthorizesOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults radial.Faults
	}{
		{"answer dropped after the reauthorization", radial.Faults{DropNext: 1}},
		// RADIAL_TIMEOUT is 2s: the worker gives up, Radial commits after.
		{"committed after the read timeout", radial.Faults{LateNext: 1, LateMS: 2500}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			order := uniq("o-cf")
			e.authorize(radial.Authorization{OrderID: order, Amount: "100.00"})
			if err := e.sb.SetFaults(radial.EndpointConfirm, tc.faults); err != nil {
				t.Fatal(err)
			}
			e.start()
			id := uniq("cf-lost")
			e.publish(req{RequestID: id, OrderID: order, Amount: "40.00", AuthAmount: "100.00"})
			oneEvent(t, e, id, messages.StatusSettled)
			if led := e.ledger(id); debits(led) != 1 {
				t.Fatalf("want exactly one debit, ledger: %+v", led)
			}
			st, _ := e.sb.AuthorizationState(storeID, order)
			if st.Reauthorizations != 1 {
				t.Errorf("Radial reauthorized order %s %d times (funds held %d times), want once; confirm calls %+v",
					order, st.Reauthorizations, st.Reauthorizations, e.sb.Calls().Confirm)
			}
		})
	}
}

// Radial requires a new requestId after a Timeout answer: its record of
// the one that timed out answers Timeout again. The retry after Timeout
// confirms under a new one, and the debit settles once the processor
// answers.
func TestConfirmFundsTimeoutAnswerIsAskedAgainUnderANewRequestID(t *testing.T) {
	e := newEnv(t, envOpts{})
	order := uniq("o-cft")
	e.authorize(radial.Authorization{OrderID: order, Amount: "100.00", FundsOutcome: messages.FundsTimeout})
	e.start("RETRY_DELAYS=1s")
	id := uniq("cf-timeout")
	e.publish(req{RequestID: id, OrderID: order, Amount: "40.00", AuthAmount: "100.00"})
	deadline := time.Now().Add(wait)
	for e.sb.Calls().Confirm.Processed < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	// The processor answers from now on.
	e.authorize(radial.Authorization{OrderID: order, Amount: "100.00"})
	oneEvent(t, e, id, messages.StatusSettled)
	if led := e.ledger(id); debits(led) != 1 {
		t.Fatalf("want exactly one debit, ledger: %+v", led)
	}
	if c := e.sb.Calls().Confirm; c.Processed != 2 || c.DedupHits != 0 {
		t.Errorf("confirm calls %+v: want the Timeout answer's requestId, then a new one", c)
	}
	if st, _ := e.sb.AuthorizationState(storeID, order); st.Reauthorizations != 1 {
		t.Errorf("%d reauthorizations, want 1", st.Reauthorizations)
	}
}
