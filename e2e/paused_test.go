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
	"github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// TestPausedReplicaOnPostgresCapturesOnce pins what a replica paused
// longer than its order locks' lease (the lock sessions'
// idle_session_timeout, 30 s) and than the broker's heartbeat does on
// resuming: its lock sessions were ended by the server and its deliveries
// handed to the other replica, which went on with them (Miva, without an
// idempotency key: the riskiest provider), while its own handlers go on
// from where they stopped. A real worker process is SIGSTOPped while its
// capture calls are in flight (Miva answers after 1.5 s) for 45 s, then
// SIGCONTed. Judged from Miva's own ledger and the queues: each request
// ends with one capture and one S, or parked for a person with no
// capture; never two captures, never an S without one, never an R.
func TestPausedReplicaOnPostgresCapturesOnce(t *testing.T) {
	t.Parallel()
	const n = 8
	e := newEnv(t, envOpts{})
	dsn := testenv.PostgresDSN(t)
	d := mivaDriver
	var all []req
	for i := range n {
		order := strconv.Itoa(450000 + i)
		d.authorize(t, e, order, "100.00", "USD")
		all = append(all, req{Provider: d.name, RequestID: uniq("pause-" + strconv.Itoa(i)), OrderID: order,
			Type: messages.SettlementDebit, Amount: "20.00", Currency: "USD", Headers: d.headers(t, e, order, false, "")})
	}
	pvMust(t, "miva faults", e.miva.SetFaults(miva.EndpointCapture, miva.Faults{LatencyMS: 1500}))
	paused := e.start("STORE_DSN=" + dsn)
	for _, r := range all {
		e.publish(r)
	}
	held := awaitOrderLocks(t, dsn)
	time.Sleep(200 * time.Millisecond) // its capture calls under way
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
		for _, m := range e.parked(broker.ParkedQueue(d.name), 1, 200*time.Millisecond) {
			parked[strings.TrimPrefix(m.MessageId, "pub-")] = broker.Stringify(m.Headers["parked_reason"])
		}
		open := 0
		for _, r := range all {
			if _, ok := parked[r.RequestID]; !ok && len(e.statuses.of(r.RequestID)) == 0 {
				open++
			}
		}
		if open == 0 || time.Now().After(deadline) {
			break
		}
	}
	time.Sleep(3 * time.Second) // anything the resumed replica still does
	// The other replica went on with the paused one's settlements: it
	// reconciled their calls (found them at Miva) under the locks the
	// server released.
	took := strings.Count(other.logText(), "reconciled an earlier attempt")
	t.Logf("the other replica reconciled %d of the paused replica's calls", took)
	if took == 0 {
		t.Errorf("the other replica reconciled none of the paused replica's calls: the pause was not run over its lease")
	}
	for _, r := range all {
		captures := pvLive(d.ledger(e, r.RequestID, r.OrderID), false)
		evs := distinct(e.statuses.of(r.RequestID))
		var verdicts []string
		for _, ev := range evs {
			if ev.Status != nil {
				verdicts = append(verdicts, ev.Status.SettlementStatus)
			}
		}
		reason, isParked := parked[r.RequestID]
		t.Logf("%s: %d capture(s), verdicts %v, parked %v %q", r.RequestID, len(captures), verdicts, isParked, truncateText(reason, 120))
		switch {
		case len(captures) > 1:
			t.Errorf("%s: %d captures in Miva's ledger", r.RequestID, len(captures))
		case len(captures) == 1 && (len(verdicts) != 1 || verdicts[0] != messages.StatusSettled):
			if !isParked || len(verdicts) != 0 {
				t.Errorf("%s: one capture, verdicts %v (parked %v): want one S, or parked without a verdict", r.RequestID, verdicts, isParked)
			}
		case len(captures) == 0 && (len(verdicts) != 0 || !isParked):
			t.Errorf("%s: no capture, verdicts %v, parked %v: want parked without a verdict", r.RequestID, verdicts, isParked)
		}
	}
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
