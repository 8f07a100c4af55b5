package e2e

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
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
// STORE_DSN through a testenv.PGProxy of mode EndsBoth; DELIVERY_LIMIT=3 stands for the
// default 20 (about 70 s of outage on the code before the fix).
func TestStoreOutageIsRiddenThroughWithoutParking(t *testing.T) {
	t.Parallel()
	const n = 6
	e := newEnv(t, envOpts{})
	proxy := testenv.PostgresProxy(t, testenv.PostgresDSN(t), testenv.EndsBoth)

	d := frisbiiDriver
	var all []req
	for i := range n {
		order := strconv.Itoa(440000 + i)
		d.authorize(t, e, order, "100.00", "USD")
		all = append(all, req{Provider: d.name, RequestID: uniq("outage-" + strconv.Itoa(i)), OrderID: order,
			Type: messages.SettlementDebit, Amount: "20.00", Currency: "USD", Headers: d.headers(t, e, order, false, "")})
	}
	httpAddr := freeAddr(t)
	e.start("STORE_DSN="+proxy.DSN(), "DELIVERY_LIMIT=3", "HTTP_ADDR="+httpAddr)

	proxy.Down()
	down := time.Now()
	for _, r := range all {
		e.publish(r)
	}
	// Three deliveries of about 3.5 s each would have used up the limit.
	// Meanwhile the outage is visible: /readyz, the held deliveries, and
	// the age of the oldest ready request growing (the publishers set no
	// AMQP timestamp), read every second as Prometheus would.
	const outage = 25 * time.Second
	var metrics, ready string
	var readyCode int
	for time.Since(down) < outage {
		time.Sleep(time.Second)
		readyCode, ready = httpGet(t, httpAddr, "/readyz")
		_, metrics = httpGet(t, httpAddr, "/metrics")
	}
	if readyCode != http.StatusServiceUnavailable || !strings.Contains(ready, "store: down") {
		t.Errorf("/readyz during the outage: %d %s", readyCode, ready)
	}
	if v := metricValue(metrics, `settlement_deliveries_held_store_down{handler="settle",provider="frisbii"}`); v < 1 {
		t.Errorf("settlement_deliveries_held_store_down = %v during the outage, want the held deliveries", v)
	}
	if v := metricValue(metrics, `settlement_request_oldest_ready_seconds{provider="frisbii"}`); v < 10 {
		t.Errorf("settlement_request_oldest_ready_seconds = %v after %s of outage, want it growing", v, outage)
	}
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

// httpGet returns the status code and body of GET http://addr+path ("" and
// 0 when it fails).
func httpGet(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metricValue is the value of the series named (with its labels, sorted)
// in a /metrics page, -1 when absent.
func metricValue(page, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(page)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return v
}
