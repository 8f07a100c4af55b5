package e2e

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/sandbox/frisbii"
)

// TestReplicaVanishedOnPostgresFreesItsOrders: a replica on PostgreSQL
// whose host vanishes while it settles (its connections to the database
// left open at the server, as a lost node leaves them) must not hold its
// orders for good: the other replica, given the deliveries the broker
// hands back, settles every request — exactly one S each, one capture
// each in Frisbii's own ledger — within a bound of the worker's own, not
// the server's TCP keepalive. The vanishing replica is a real worker
// process whose STORE_DSN goes through a testenv.PGProxy of mode ServerStays, SIGKILLed while its
// settle calls are in flight (Frisbii answers after 1.5 s), holding their
// orders' locks. Frisbii answers its settle call itself (a verdict that
// needs the order's lock), where a Radial status is applied without it.
func TestReplicaVanishedOnPostgresFreesItsOrders(t *testing.T) {
	t.Parallel()
	const n = 12
	e := newEnv(t, envOpts{})
	dsn := testenv.PostgresDSN(t)
	proxy := testenv.PostgresProxy(t, dsn, testenv.ServerStays)

	d := frisbiiDriver
	var all []req
	for i := range n {
		order := strconv.Itoa(430000 + i)
		d.authorize(t, e, order, "100.00", "USD")
		all = append(all, req{Provider: d.name, RequestID: uniq("vanish-" + strconv.Itoa(i)), OrderID: order,
			Type: messages.SettlementDebit, Amount: "20.00", Currency: "USD", Headers: d.headers(t, e, order, false, "")})
	}
	pvMust(t, "frisbii faults", e.frisbii.SetFaults(frisbii.EndpointSettle, frisbii.Faults{LatencyMS: 1500}))
	vanishing := e.start("STORE_DSN=" + proxy.DSN())
	for _, r := range all {
		e.publish(r)
	}

	// Kill it while it holds order locks (its settle calls in flight).
	held := awaitOrderLocks(t, dsn)
	if err := vanishing.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	vanishing.wait(wait)
	killed := time.Now()
	t.Logf("replica killed holding %d advisory lock(s)", held)

	e.start("STORE_DSN=" + dsn)
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
		if time.Since(killed) > bound {
			t.Fatalf("%d of %d requests have no verdict %s after the replica holding their orders vanished", open, n, bound)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("every request settled %s after the replica vanished", time.Since(killed).Round(time.Second))
	for _, r := range all {
		pvSettled(t, e, d, r)
		if debits := pvLive(d.ledger(e, r.RequestID, r.OrderID), false); len(debits) != 1 {
			t.Errorf("%s: %d captures in Frisbii's ledger, want 1: %+v", r.RequestID, len(debits), debits)
		}
	}
}

// awaitOrderLocks waits up to wait until a session on the database of dsn
// holds order locks (advisory locks of the store's order space), and
// returns how many; it fails the test when none came.
func awaitOrderLocks(t *testing.T, dsn string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	held := 0
	for deadline := time.Now().Add(wait); held == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&held); err != nil {
			t.Fatal(err)
		}
	}
	if held == 0 {
		t.Fatal("the replica never held an order lock")
	}
	return held
}
