package e2e

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/sandbox/frisbii"
	"github.com/settlement-worker/settlement-worker/sandbox/miva"
	"github.com/settlement-worker/settlement-worker/sandbox/paysafe"
)

// TestPausedReplicaWithLateCommitsOnPostgres: two real worker processes on
// one PostgreSQL store; every settle call of Paysafe (merchantRefNum),
// Frisbii (idempotency key) and Miva (no key) commits late, 8 s after it
// arrived, whether or not the client is still there (each worker's client
// gives up after 2 s; the settle windows are 15 s). The replica that sent
// the calls is SIGSTOPped at once, for 45 s: past its order locks' lease
// (30 s), so the other replica takes the deliveries the broker hands back
// and, once each window has passed, reconciles the paused one's calls;
// then the paused one resumes, its calls' answers (or its timeouts)
// waiting for it. Judged from each sandbox's own ledger: at most one live
// capture per request, S only with one, never R; parked without a
// verdict passes.
func TestPausedReplicaWithLateCommitsOnPostgres(t *testing.T) {
	t.Parallel()
	const perProvider, lateMS = 3, 8000
	e := newEnv(t, envOpts{workerEnv: []string{"PAYSAFE_SETTLE_WINDOW=15s", "FRISBII_SETTLE_WINDOW=15s", "MIVA_SETTLE_WINDOW=15s"}})
	dsn := testenv.PostgresDSN(t)
	type sent struct {
		d pvDriver
		r req
	}
	var all []sent
	for k, d := range []pvDriver{paysafeDriver, frisbiiDriver, mivaDriver} {
		for i := range perProvider {
			order := strconv.Itoa(460000 + 100*k + i)
			d.authorize(t, e, order, "100.00", "USD")
			all = append(all, sent{d, req{Provider: d.name, RequestID: uniq("late-pause-" + d.name + "-" + strconv.Itoa(i)), OrderID: order,
				Type: messages.SettlementDebit, Amount: "20.00", Currency: "USD", Headers: d.headers(t, e, order, false, "")}})
		}
	}
	pvMust(t, "paysafe faults", e.paysafe.SetFaults(paysafe.EndpointSettle, paysafe.Faults{LateNext: perProvider, LateMS: lateMS}))
	pvMust(t, "frisbii faults", e.frisbii.SetFaults(frisbii.EndpointSettle, frisbii.Faults{LateNext: perProvider, LateMS: lateMS}))
	pvMust(t, "miva faults", e.miva.SetFaults(miva.EndpointCapture, miva.Faults{LateNext: perProvider, LateMS: lateMS}))
	t.Cleanup(paysafeDriver.complete(e)) // Paysafe's batch runs

	paused := e.start("STORE_DSN=" + dsn)
	for _, s := range all {
		e.publish(s.r)
	}
	held := awaitOrderLocks(t, dsn)
	time.Sleep(time.Second) // its settle calls under way
	if err := paused.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Logf("replica paused holding %d advisory lock(s)", held)
	other := e.start("STORE_DSN=" + dsn)
	time.Sleep(45 * time.Second)
	if err := paused.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}

	parked := map[string]string{}
	deadline := time.Now().Add(2 * wait)
	for {
		for _, name := range []string{"paysafe", "frisbii", "miva"} {
			for _, m := range e.parked(broker.ParkedQueue(name), 1, 200*time.Millisecond) {
				parked[strings.TrimPrefix(m.MessageId, "pub-")] = broker.Stringify(m.Headers["parked_reason"])
			}
		}
		open := 0
		for _, s := range all {
			if _, ok := parked[s.r.RequestID]; !ok && len(e.statuses.of(s.r.RequestID)) == 0 {
				open++
			}
		}
		if open == 0 || time.Now().After(deadline) {
			break
		}
	}
	time.Sleep(3 * time.Second) // anything the resumed replica still does
	t.Logf("the other replica reconciled %d call(s)", strings.Count(other.logText(), "reconciled an earlier attempt"))
	for _, s := range all {
		r := s.r
		captures := pvLive(s.d.ledger(e, r.RequestID, r.OrderID), false)
		var verdicts []string
		for _, ev := range distinct(e.statuses.of(r.RequestID)) {
			if ev.Status != nil {
				verdicts = append(verdicts, ev.Status.SettlementStatus)
			}
		}
		reason, isParked := parked[r.RequestID]
		t.Logf("%s: %d capture(s), verdicts %v, parked %v %q", r.RequestID, len(captures), verdicts, isParked, truncateText(reason, 160))
		switch {
		case len(captures) > 1:
			t.Errorf("%s: %d captures in %s's ledger", r.RequestID, len(captures), s.d.name)
		case len(verdicts) > 1:
			t.Errorf("%s: verdicts %v", r.RequestID, verdicts)
		case len(captures) == 1 && len(verdicts) == 1 && verdicts[0] != messages.StatusSettled:
			t.Errorf("%s: one capture, verdict %v", r.RequestID, verdicts)
		case len(captures) == 1 && len(verdicts) == 0 && !isParked:
			t.Errorf("%s: one capture, no verdict and not parked: waits in silence", r.RequestID)
		case len(captures) == 0 && (len(verdicts) != 0 || !isParked):
			t.Errorf("%s: no capture, verdicts %v, parked %v: want parked without a verdict", r.RequestID, verdicts, isParked)
		}
	}
}
