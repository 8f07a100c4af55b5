package e2e

import (
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/handlers"
)

// sweeperEnv are worker settings that make the sweeper act within a test.
var sweeperEnv = []string{"SWEEP_INTERVAL=500ms", "OUTBOX_RELAY_AFTER=1s", "STUCK_AFTER=5s"}

// purge empties a queue of the worker's vhost (the message is "gone").
func (e *env) purge(queue string) int {
	e.t.Helper()
	conn, err := amqp.Dial(e.amqpURL)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		e.t.Fatal(err)
	}
	n, err := ch.QueuePurge(queue, false)
	if err != nil {
		e.t.Fatalf("purge %s: %v", queue, err)
	}
	return n
}

// TestOutboxRelaysStatusWhenTheMessageIsGone: the worker dies between the
// terminal commit and the publish, and the request message is lost too;
// the restarted worker's sweeper publishes the recorded status event.
func TestOutboxRelaysStatusWhenTheMessageIsGone(t *testing.T) {
	t.Parallel()
	for _, d := range []pvDriver{paysafeDriver, frisbiiDriver, mivaDriver} {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{})
			d.authorize(t, e, pvOrder, "100.00", "USD")
			if d.complete != nil {
				t.Cleanup(d.complete(e)) // Paysafe's batch settles what is pending
			}
			p := e.start(append([]string{"SETTLEMENT_WORKER_CRASH_AT=" + handlers.CrashAfterTerminalCommit}, sweeperEnv...)...)
			r := pvDebit(t, e, d, uniq("outbox"), "45.00")
			e.publish(r)
			pvKilled(t, p, handlers.CrashAfterTerminalCommit)
			if n := e.purge(broker.RequestQueue(d.name)); n != 1 {
				t.Fatalf("purged %d messages, want the one request", n)
			}
			pvNoEvents(t, e, r.RequestID)
			e.start(sweeperEnv...)
			pvSettled(t, e, d, r)
			pvOne(t, "debit", pvLive(d.ledger(e, r.RequestID, pvOrder), false), 4500, "USD")
			if !e.worker.waitLog("never confirmed as published: relayed", time.Second) {
				t.Error("the worker log does not say the sweeper relayed the event")
			}
		})
	}
}

// TestAcknowledgedWithoutStatusIsParkedAtDeadline: Radial acknowledges a
// settlement and never sends its status; past RADIAL_STATUS_DEADLINE the
// sweeper parks it with a reason, instead of it waiting forever unseen.
func TestAcknowledgedWithoutStatusIsParkedAtDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{statusDelay: time.Hour})
	radialDriver.authorize(t, e, pvOrder, "100.00", "USD")
	e.start(append([]string{"RADIAL_STATUS_DEADLINE=2s"}, sweeperEnv...)...)
	r := pvDebit(t, e, radialDriver, uniq("silent"), "10.00")
	e.publish(r)
	parked := e.parked(broker.ParkedQueue("radial"), 1, wait)
	if len(parked) != 1 {
		t.Fatal("the silent settlement was not parked")
	}
	if reason := broker.Stringify(parked[0].Headers[handlers.HeaderParkedReason]); !strings.Contains(reason, "sent no status within 2s") {
		t.Errorf("parked_reason %q", reason)
	}
	pvNoEvents(t, e, r.RequestID)
}
