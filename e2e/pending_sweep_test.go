package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/sandbox/paysafe"
)

// TestPendingSettlementKeepsOnePollLoop: a Paysafe settlement stays
// PENDING (the sandbox batches only when told) for several STUCK_AFTER.
// Its poll loop is alive all along, so the sweeper must never take it for
// a lost message: before, each STUCK_AFTER it republished the request, one
// more poll loop each time, and the sandbox saw the re-checks multiply.
// Judged from the sandbox's own counts and ledger.
func TestPendingSettlementKeepsOnePollLoop(t *testing.T) {
	t.Parallel()
	d := paysafeDriver
	// STUCK_AFTER must exceed the longest retry delay (400ms) plus the
	// settle window (3s).
	e := newEnv(t, envOpts{workerEnv: []string{"STUCK_AFTER=4s", "SWEEP_INTERVAL=300ms"}})
	d.authorize(t, e, pvOrder, "100.00", "USD")
	p := e.start()
	r := pvDebit(t, e, d, uniq("pendloop"), "45.00")
	e.publish(r)
	deadline := time.Now().Add(wait)
	for len(d.ledger(e, r.RequestID, pvOrder)) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	rate := func() int {
		before := e.paysafe.Calls().Get.Total
		time.Sleep(2 * time.Second)
		return e.paysafe.Calls().Get.Total - before
	}
	first := rate()
	time.Sleep(10 * time.Second) // two and a half STUCK_AFTER
	later := rate()
	if later > first+first/2+1 {
		t.Errorf("re-checks of one PENDING settlement went from %d to %d per 2s: the sweeper added poll loops", first, later)
	}
	if n := strings.Count(p.logText(), "request republished to resume it"); n > 0 {
		t.Errorf("the sweeper resumed the PENDING settlement %d time(s) while its poll loop was alive", n)
	}
	pvNoEvents(t, e, r.RequestID)
	if res := e.paysafe.RunBatch(); res.Completed != 1 {
		t.Fatalf("batch: %+v", res)
	}
	pvSettled(t, e, d, r)
	if m := pvOne(t, "debit", pvLive(d.ledger(e, r.RequestID, pvOrder), false), 4500, "USD"); m.State != paysafe.StatusCompleted {
		t.Errorf("settlement %s after the batch", m.State)
	}
}
