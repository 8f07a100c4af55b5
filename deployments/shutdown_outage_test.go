package deployments

import (
	"os"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// A worker told to stop (SIGTERM: a rolling restart, `docker compose
// stop`) while its broker cannot be reached exits within a bound of
// SHUTDOWN_TIMEOUT, as it does when the broker answers. Before, Watermill's
// router waited for its subscribers' Close, which waited on their reconnect
// loops: the process was still running two minutes later, until a SIGKILL.
// Exiting then is safe: every state is durable before its next step, and
// deliveries not acked go back to their queues.
func TestSIGTERMDuringABrokerOutageExits(t *testing.T) {
	proxy := testenv.NewBrokerProxy(t, testenv.AMQPURL(t))
	w := startWorker(t, proxy.URL(), "SHUTDOWN_TIMEOUT=2s")
	w.waitReady(t, "router: ok")
	proxy.Close() // the broker is gone: connections cut, new ones refused
	time.Sleep(2 * time.Second)
	start := time.Now()
	if err := w.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- w.cmd.Wait() }()
	// SHUTDOWN_TIMEOUT bounds the drain; the bound here leaves room for a
	// loaded machine under -race.
	bound := 25 * time.Second
	select {
	case err := <-exited:
		t.Logf("exited after %v: %v", time.Since(start).Round(time.Millisecond), err)
	case <-time.After(bound):
		t.Fatalf("still running %v after SIGINT with the broker gone\nlog:\n%s", bound, w.log)
	}
}
