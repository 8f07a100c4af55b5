package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// pvSettleCalls counts the settle (capture) calls a provider sandbox
// received.
func pvSettleCalls(e *env, provider string) int {
	switch provider {
	case "radial":
		return int(e.sb.Calls().Settle.Total)
	case "paysafe":
		return int(e.paysafe.Calls().Settle.Total)
	case "frisbii":
		return int(e.frisbii.Calls().Settle.Total)
	case "miva":
		return int(e.miva.Calls().Capture.Total)
	}
	return 0
}

// TestShutdownShorterThanACallDebitsOnce: SHUTDOWN_TIMEOUT (300ms) far
// shorter than a provider call in flight (the provider commits and
// answers at 2.5s, within the worker's 4s timeout). The drain gives up,
// the worker exits cutting the call (it saw no answer), and the provider
// commits afterwards. The
// settlement was recorded as attempted before the call, so the restarted
// worker reconciles it after its settle window (or resubmits with the same
// key, Radial) instead of taking it for a new one: one debit in the
// sandbox's ledger and one S, for every provider.
func TestShutdownShorterThanACallDebitsOnce(t *testing.T) {
	t.Parallel()
	for _, d := range pvDrivers {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{})
			if d.complete != nil {
				t.Cleanup(d.complete(e))
			}
			d.authorize(t, e, pvOrder, "100.00", "USD")
			d.lateSettle(t, e, 2500)
			// Calls of up to 4s (the late commit answers at 2.5s), and
			// their settle windows above.
			long := []string{"RADIAL_TIMEOUT=4s", "PAYSAFE_TIMEOUT=4s", "FRISBII_TIMEOUT=4s", "MIVA_TIMEOUT=4s",
				"RADIAL_SETTLE_WINDOW=5s", "PAYSAFE_SETTLE_WINDOW=5s", "FRISBII_SETTLE_WINDOW=5s", "MIVA_SETTLE_WINDOW=5s"}
			p := e.start(append([]string{"SHUTDOWN_TIMEOUT=300ms"}, long...)...)
			r := pvDebit(t, e, d, uniq("cut"), "15.00")
			e.publish(r)
			deadline := time.Now().Add(wait)
			for pvSettleCalls(e, d.name) == 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if pvSettleCalls(e, d.name) == 0 {
				t.Fatal("the settle call was never made")
			}
			time.Sleep(200 * time.Millisecond) // in flight, far from its 2s timeout
			start := time.Now()
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if _, exited := p.wait(20 * time.Second); !exited {
				t.Fatal("worker did not exit after SIGTERM")
			}
			t.Logf("worker exited %s after SIGTERM", time.Since(start).Round(time.Millisecond))
			// The call was cut: the first worker saw no answer of it.
			if log := p.logText(); !strings.Contains(log, "in-flight messages did not finish in time") ||
				strings.Contains(log, "settlement finished") || strings.Contains(log, "transient failure") ||
				strings.Contains(log, "provider acknowledged") {
				t.Fatalf("the worker did not exit with the call in flight; log:\n%s", log)
			}
			e.start(long...)
			pvSettled(t, e, d, r)
			time.Sleep(time.Second) // quiet: would a second debit follow?
			all := pvLive(d.ledger(e, r.RequestID, pvOrder), false)
			if d.name == "miva" {
				all = pvLive(d.ledger(e, "", pvOrder), false)
			}
			if len(all) != 1 || all[0].Minor != 1500 {
				t.Fatalf("ledger after a shutdown that cut the call: %+v, want exactly one debit of 15.00", all)
			}
		})
	}
}
