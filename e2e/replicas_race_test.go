package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/messages"
)

// slowSettleAnswers serves e's providers, holding back the answer of each
// Radial settle call for delay after Radial acted on it (its status is on
// its way meanwhile), and returns its URL.
func slowSettleAnswers(t *testing.T, e *env, delay time.Duration) string {
	t.Helper()
	target, err := url.Parse(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Path, "/payments/settlement/create/") {
			rp.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r)
		time.Sleep(delay)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestTwoReplicasOnPostgresStatusRacesTheAcknowledgement pins the race the
// Radial status path is built for, with two real worker processes on one
// PostgreSQL store: each request is sent twice at once (the second copy
// under another message id, with a header that steers no money added),
// and Radial sends its status 1 ms after it accepts the call while its
// answer is held back 500 ms, so that the status is applied — by either
// replica, without the order lock — before the replica that made the call
// has recorded the acknowledgement.
// Every request must end with exactly one S (one message id, whichever
// copy and replica published it) and one capture in Radial's own ledger;
// nothing is parked, neither a request nor a status.
func TestTwoReplicasOnPostgresStatusRacesTheAcknowledgement(t *testing.T) {
	t.Parallel()
	const n = 20
	e := newEnv(t, envOpts{statusDelay: time.Millisecond})
	dsn := "STORE_DSN=" + testenv.PostgresDSN(t)
	var all []req
	for i := range n {
		order := strconv.Itoa(440000 + i)
		radialDriver.authorize(t, e, order, "100.00", "USD")
		all = append(all, req{RequestID: uniq("race-" + strconv.Itoa(i)), OrderID: order,
			Type: messages.SettlementDebit, Amount: "20.00", Currency: "USD"})
	}
	slow := slowSettleAnswers(t, e, 500*time.Millisecond)
	a, b := e.start(dsn, "RADIAL_BASE_URL="+slow+"/radial"), e.start(dsn, "RADIAL_BASE_URL="+slow+"/radial")
	for _, r := range all {
		e.publish(r)
		e.publishCopy(r, "resent-"+r.RequestID, map[string]string{"x-resent-by": "oms-2"})
	}
	for _, r := range all {
		pvSettled(t, e, radialDriver, r)
		if debits := pvLive(radialDriver.ledger(e, r.RequestID, r.OrderID), false); len(debits) != 1 {
			t.Errorf("%s: %d captures in Radial's ledger, want 1: %+v", r.RequestID, len(debits), debits)
		}
	}
	// How often the race was run: the acknowledgement found the verdict
	// recorded (Settlement.verdictFirst), or the status found the
	// settlement moved and went through the lock.
	first, moved := 0, 0
	for _, p := range []*proc{a, b} {
		first += strings.Count(p.logText(), "after its status was recorded")
		moved += strings.Count(p.logText(), "the settlement moved meanwhile")
	}
	t.Logf("%d acknowledgements found the verdict recorded first; %d statuses found the settlement moved", first, moved)
	if first == 0 {
		t.Errorf("no acknowledgement found the verdict recorded first: the race was not run")
	}
	for _, q := range []string{broker.ParkedQueue("radial"), broker.ProviderStatusParkedQueue("radial")} {
		for _, d := range e.parked(q, 1, time.Second) {
			t.Errorf("parked in %s: %s (%v)", q, d.MessageId, d.Headers["parked_reason"])
		}
	}
}
