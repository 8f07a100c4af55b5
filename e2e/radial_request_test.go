package e2e

import (
	"syscall"
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

// The worker is killed (SIGKILL) while its settle call is in flight, and
// Radial commits it after the worker is gone (late commit); its status is
// published while no worker runs. Restarted, the worker meets the status
// (for a settlement it recorded only as submitting) and the redelivered
// request: one capture or refund in Radial's ledger, one S. Debits and
// credits (a credit has no confirmation step).
func TestKilledDuringSettleCallRadialCommitsLateSettlesOnce(t *testing.T) {
	for _, typ := range []string{messages.SettlementDebit, messages.SettlementCredit} {
		t.Run(typ, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			order := uniq("o-kill")
			e.authorize(radial.Authorization{OrderID: order, Amount: "100.00"})
			if typ == messages.SettlementCredit {
				e.start()
				d := uniq("kill-d")
				e.publish(req{RequestID: d, OrderID: order, Amount: "50.00"})
				oneEvent(t, e, d, messages.StatusSettled)
				e.worker.stop()
			}
			if err := e.sb.SetFaults(radial.EndpointSettle, radial.Faults{LateNext: 1, LateMS: 1500}); err != nil {
				t.Fatal(err)
			}
			p := e.start()
			before, emitted := e.sb.Calls().Settle.Total, len(e.sb.Statuses())
			id := uniq("kill")
			e.publish(req{RequestID: id, OrderID: order, Amount: "20.00", Type: typ})
			deadline := time.Now().Add(wait)
			for e.sb.Calls().Settle.Total == before && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			if _, exited := p.wait(wait); !exited {
				t.Fatal("worker not killed")
			}
			if _, err := e.sb.WaitPublished(emitted+1, wait); err != nil {
				t.Fatalf("the late commit's status: %v", err)
			}
			e.start()
			oneEvent(t, e, id, messages.StatusSettled)
			if led := e.ledger(id); len(led) != 1 || led[0].Type != typ || led[0].State != radial.StateSettled {
				t.Fatalf("want exactly one %s, ledger: %+v", typ, led)
			}
			st, _ := e.sb.AuthorizationState(storeID, order)
			if want := map[string][2]string{messages.SettlementDebit: {"20.00", "0.00"}, messages.SettlementCredit: {"50.00", "20.00"}}[typ]; st.Captured != want[0] || st.Refunded != want[1] {
				t.Errorf("captured %s refunded %s, want %s and %s", st.Captured, st.Refunded, want[0], want[1])
			}
		})
	}
}

// Two shipments of one order with equal amounts and the same ClientContext,
// every settle answer lost after Radial committed (502), the first sent
// twice (a new message id), then a refund of the same amount also sent
// twice: each settles once, none is taken for another, judged from
// Radial's ledger and the authorization's balances.
func TestTwinShipmentsWithLostAnswersSettleOnceEach(t *testing.T) {
	e := newEnv(t, envOpts{})
	order := uniq("o-twl")
	e.authorize(radial.Authorization{OrderID: order, Amount: "100.00"})
	if err := e.sb.SetFaults(radial.EndpointSettle, radial.Faults{DropNext: 3}); err != nil {
		t.Fatal(err)
	}
	e.start()
	a, b, c := uniq("twl-a"), uniq("twl-b"), uniq("twl-c")
	ra := req{RequestID: a, OrderID: order, Amount: "30.00", ClientContext: "cc"}
	rc := req{RequestID: c, OrderID: order, Amount: "30.00", ClientContext: "cc", Type: messages.SettlementCredit}
	e.publish(ra)
	e.publishCopy(ra, "again-"+a, nil)
	e.publish(req{RequestID: b, OrderID: order, Amount: "30.00", ClientContext: "cc"})
	oneEvent(t, e, a, messages.StatusSettled)
	oneEvent(t, e, b, messages.StatusSettled)
	e.publish(rc)
	e.publishCopy(rc, "again-"+c, nil)
	oneEvent(t, e, c, messages.StatusSettled)
	for _, id := range []string{a, b, c} {
		if led := e.ledger(id); len(led) != 1 || led[0].State != radial.StateSettled {
			t.Errorf("%s: want exactly one settlement, ledger: %+v", id, led)
		}
	}
	st, _ := e.sb.AuthorizationState(storeID, order)
	if st.Captured != "60.00" || st.Refunded != "30.00" || st.Reauthorizations != 2 {
		t.Errorf("authorization: captured %s refunded %s reauthorizations %d, want 60.00, 30.00, 2", st.Captured, st.Refunded, st.Reauthorizations)
	}
	if c := e.sb.Calls().Settle; c.Dropped != 3 {
		t.Errorf("settle calls %+v: want the three answers dropped", c)
	}
}
