package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/sandbox/radial"
	"github.com/settlement-worker/settlement-worker/store"
)

// TestSIGTERMFinishesInFlightSettlement stops the worker while a settlement
// call is in flight: the call and its state write finish, the worker exits 0
// in bounded time, and after a restart the settlement ends with one debit.
func TestSIGTERMFinishesInFlightSettlement(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(radial.Authorization{OrderID: "o-term", Amount: "100.00"})
	if err := e.sb.SetFaults(radial.EndpointSettle, radial.Faults{LatencyMS: 1500}); err != nil {
		t.Fatal(err)
	}
	p := e.start()
	id := uniq("term")
	e.publish(req{RequestID: id, OrderID: "o-term", Amount: "25.00"})

	deadline := time.Now().Add(wait)
	for e.sb.Calls().Settle.Total == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the settle call is now in flight
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ws, exited := p.wait(20 * time.Second)
	if !exited || ws.ExitStatus() != 0 {
		t.Fatalf("worker should exit 0 after SIGTERM (exited %v, status %v)", exited, ws)
	}
	t.Logf("worker stopped %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	if !p.waitLog("provider acknowledged the settlement", time.Second) {
		t.Errorf("the in-flight settlement did not finish before exit")
	}
	e.start()
	oneEvent(t, e, id, messages.StatusSettled)
	if led := e.ledger(id); len(led) != 1 {
		t.Fatalf("ledger: %+v", led)
	}
}

// TestSameOrderIsSerializedOtherOrdersRunConcurrently checks from the
// store's history that two settlements of one order never have provider
// calls in flight at the same time, while different orders do.
func TestSameOrderIsSerializedOtherOrdersRunConcurrently(t *testing.T) {
	e := newEnv(t, envOpts{})
	if err := e.sb.SetFaults(radial.EndpointAll, radial.Faults{LatencyMS: 300}); err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{"o-same", "o-a", "o-b"} {
		e.authorize(radial.Authorization{OrderID: o, Amount: "100.00"})
	}
	// Same-order messages wait for the order lock (up to ORDER_LOCK_WAIT,
	// then they are deferred) on a consumer: leave
	// consumers free for the other orders.
	e.start("CONCURRENCY=8")
	var same, other []string
	for i := 0; i < 3; i++ {
		id := uniq(fmt.Sprintf("same%d", i))
		same = append(same, id)
		e.publish(req{RequestID: id, OrderID: "o-same", Amount: "10.00"})
	}
	for _, o := range []string{"o-a", "o-b"} {
		id := uniq("other-" + o)
		other = append(other, id)
		e.publish(req{RequestID: id, OrderID: o, Amount: "10.00"})
	}
	for _, id := range append(append([]string{}, same...), other...) {
		oneEvent(t, e, id, messages.StatusSettled)
	}
	e.worker.stop()

	st, err := store.Open(context.Background(), "sqlite:"+e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	window := func(id string) [2]time.Time {
		h, err := st.History(context.Background(), store.Key{Provider: "radial", RequestID: id})
		if err != nil {
			t.Fatal(err)
		}
		var w [2]time.Time
		for _, tr := range h {
			if tr.To == store.StateConfirming {
				w[0] = tr.At
			}
			// The provider call ends with acknowledged, or with the verdict
			// when Radial's status overtook the state write.
			if tr.From == store.StateSubmitting && w[1].IsZero() {
				w[1] = tr.At
			}
		}
		if w[0].IsZero() || w[1].IsZero() {
			t.Fatalf("%s: incomplete history %+v", id, h)
		}
		return w
	}
	overlap := func(a, b [2]time.Time) bool { return a[0].Before(b[1]) && b[0].Before(a[1]) }
	var ws [][2]time.Time
	for _, id := range same {
		ws = append(ws, window(id))
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i][0].Before(ws[j][0]) })
	for i := 1; i < len(ws); i++ {
		if overlap(ws[i-1], ws[i]) {
			t.Errorf("two settlements of the same order overlapped: %v and %v", ws[i-1], ws[i])
		}
	}
	if !overlap(window(other[0]), window(other[1])) {
		t.Errorf("settlements of different orders should run concurrently")
	}
}

// TestBurstForOneOrderDoesNotStallOthers: with two consumers, a burst of
// requests for one order (each settle takes 300 ms) does not hold both
// consumers: a delivery that finds its order busy is deferred after
// ORDER_LOCK_WAIT, so a request for another order published after the
// burst settles long before the burst is through.
func TestBurstForOneOrderDoesNotStallOthers(t *testing.T) {
	e := newEnv(t, envOpts{})
	if err := e.sb.SetFaults(radial.EndpointSettle, radial.Faults{LatencyMS: 300}); err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{"o-burst", "o-lone"} {
		e.authorize(radial.Authorization{OrderID: o, Amount: "1000.00"})
	}
	e.start("CONCURRENCY=2", "ORDER_LOCK_WAIT=100ms", "RETRY_DELAYS=500ms,5s")
	var burst []string
	for i := 0; i < 12; i++ {
		id := uniq(fmt.Sprintf("burst%d", i))
		burst = append(burst, id)
		e.publish(req{RequestID: id, OrderID: "o-burst", Amount: "10.00"})
	}
	lone := uniq("lone")
	e.publish(req{RequestID: lone, OrderID: "o-lone", Amount: "10.00"})
	oneEvent(t, e, lone, messages.StatusSettled)
	settled := 0
	for _, id := range burst {
		if len(e.statuses.of(id)) > 0 {
			settled++
		}
	}
	t.Logf("the lone order settled with %d of %d burst requests done", settled, len(burst))
	for _, id := range burst {
		oneEvent(t, e, id, messages.StatusSettled)
	}
	if settled > len(burst)/2 {
		t.Errorf("the lone order waited for %d of %d requests of the busy order", settled, len(burst))
	}
	for _, id := range append(burst, lone) {
		if led := e.ledger(id); len(led) != 1 {
			t.Errorf("%s: ledger %+v, want one capture", id, led)
		}
	}
}

// TestBrokerRestartMidStreamLosesNothing restarts RabbitMQ while requests
// are being settled: every request still ends with one debit and one status.
func TestBrokerRestartMidStreamLosesNothing(t *testing.T) {
	testenv.RequireExclusiveBroker(t)
	e := newEnv(t, envOpts{})
	if err := e.sb.SetFaults(radial.EndpointSettle, radial.Faults{LatencyMS: 100}); err != nil {
		t.Fatal(err)
	}
	const n = 20
	for i := 0; i < n; i++ {
		e.authorize(radial.Authorization{OrderID: fmt.Sprintf("o-br%d", i), Amount: "100.00"})
	}
	e.start()
	var ids []string
	for i := 0; i < n; i++ {
		id := uniq(fmt.Sprintf("br%d", i))
		ids = append(ids, id)
		e.publish(req{RequestID: id, OrderID: fmt.Sprintf("o-br%d", i), Amount: "10.00"})
		if i == n/2 {
			testenv.RestartBroker(t)
		}
	}
	for _, id := range ids {
		evs := e.waitEvents(id, 1, 90*time.Second)
		if evs[0].Status.SettlementStatus != "S" {
			t.Errorf("%s: %s %s", id, evs[0].Status.SettlementStatus, evs[0].Status.DeclineReason)
		}
		if d := debits(e.ledger(id)); d != 1 {
			t.Errorf("%s: %d debits", id, d)
		}
	}
}

// TestWorkerWaitsForItsBroker starts the worker before its broker (vhost)
// exists: it retries with backoff instead of exiting, and settles once the
// broker is there.
func TestWorkerWaitsForItsBroker(t *testing.T) {
	e := newEnv(t, envOpts{})
	u, err := url.Parse(e.amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	vhost := strings.TrimPrefix(u.Path, "/")
	mgmt := testenv.ManagementURL(t)
	mgmtDo(t, mgmt, http.MethodDelete, "/api/vhosts/"+url.PathEscape(vhost), "")

	p := e.spawn()
	if !p.waitLog("broker not reachable yet", wait) {
		t.Fatalf("the worker should wait for its broker; log:\n%s", p.logText())
	}
	if ws, exited := p.wait(time.Second); exited {
		t.Fatalf("the worker exited (%v) instead of waiting", ws)
	}
	mgmtDo(t, mgmt, http.MethodPut, "/api/vhosts/"+url.PathEscape(vhost), "{}")
	mgmtDo(t, mgmt, http.MethodPut, "/api/permissions/"+url.PathEscape(vhost)+"/"+u.User.Username(), `{"configure":".*","write":".*","read":".*"}`)
	if !p.waitLog("settlement worker running", 60*time.Second) {
		t.Fatalf("the worker did not start once the broker was there")
	}
	e.statuses = collect(t, e.amqpURL, statusQueue)
	e.authorize(radial.Authorization{OrderID: "o-late", Amount: "10.00"})
	id := uniq("late")
	e.publish(req{RequestID: id, OrderID: "o-late", Amount: "10.00"})
	oneEvent(t, e, id, messages.StatusSettled)
}

func mgmtDo(t *testing.T, base, method, path, body string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	pass, _ := u.User.Password()
	user := u.User.Username()
	u.User = nil
	r, err := http.NewRequest(method, strings.TrimRight(u.String(), "/")+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.SetBasicAuth(user, pass)
	r.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: HTTP %d", method, path, resp.StatusCode)
	}
}
