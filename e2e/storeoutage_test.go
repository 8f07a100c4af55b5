package e2e

import (
	"strconv"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/messages"
)

// TestStoreOutageIsRiddenThroughWithoutParking: the worker's PostgreSQL
// goes away (a restart, a failover, a partition: every connection ends,
// new ones are refused) for longer than the request queue's delivery limit
// lasts when each delivery fails after its in-place retries. Requests
// published meanwhile must wait, not be dead-lettered ("delivery_limit")
// for a person to replay: once the database answers again, each is
// settled, one S each and one capture each in Frisbii's own ledger, and
// nothing is parked. The worker is a real process on the real broker, its
// STORE_DSN through a testenv.OutageProxy; DELIVERY_LIMIT=3 stands for the
// default 20 (about 70 s of outage on the code before the fix).
func TestStoreOutageIsRiddenThroughWithoutParking(t *testing.T) {
	t.Parallel()
	const n = 6
	e := newEnv(t, envOpts{})
	proxy := testenv.PostgresOutageProxy(t, testenv.PostgresDSN(t))

	d := frisbiiDriver
	var all []req
	for i := range n {
		order := strconv.Itoa(440000 + i)
		d.authorize(t, e, order, "100.00", "USD")
		all = append(all, req{Provider: d.name, RequestID: uniq("outage-" + strconv.Itoa(i)), OrderID: order,
			Type: messages.SettlementDebit, Amount: "20.00", Currency: "USD", Headers: d.headers(t, e, order, false, "")})
	}
	e.start("STORE_DSN="+proxy.DSN(), "DELIVERY_LIMIT=3")

	proxy.Down()
	down := time.Now()
	for _, r := range all {
		e.publish(r)
	}
	// Three deliveries of about 3.5 s each would have used up the limit.
	const outage = 25 * time.Second
	time.Sleep(outage)
	proxy.Up()
	t.Logf("store back after %s", time.Since(down).Round(time.Second))

	const bound = 60 * time.Second
	for {
		open := 0
		for _, r := range all {
			if len(e.statuses.of(r.RequestID)) == 0 {
				open++
			}
		}
		if open == 0 {
			break
		}
		if time.Since(down) > outage+bound {
			t.Errorf("%d of %d requests have no verdict %s after the store came back", open, n, bound)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if parked := e.parked(broker.ParkedQueue(d.name), n, 2*time.Second); len(parked) > 0 {
		for _, p := range parked {
			t.Errorf("parked during the store outage: %s (x-death %v, parked_reason %v)", p.MessageId, p.Headers["x-death"] != nil, p.Headers["parked_reason"])
		}
	}
	for _, r := range all {
		if len(e.statuses.of(r.RequestID)) == 0 {
			continue
		}
		pvSettled(t, e, d, r)
		if debits := pvLive(d.ledger(e, r.RequestID, r.OrderID), false); len(debits) != 1 {
			t.Errorf("%s: %d captures in Frisbii's ledger, want 1: %+v", r.RequestID, len(debits), debits)
		}
	}
}
