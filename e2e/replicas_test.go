package e2e

import (
	"strconv"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/messages"
)

// TestTwoReplicasOnPostgresOneKilled runs two worker processes on one
// PostgreSQL store, SIGKILLs one mid-stream and starts a third: every
// request still ends with exactly one S, and the providers' ledgers hold
// exactly one debit per request. Miva (no idempotency key: the order lock
// and the settle window keep it right) and Radial (idempotent on requestId,
// asynchronous status) are driven at once.
func TestTwoReplicasOnPostgresOneKilled(t *testing.T) {
	t.Parallel()
	const perProvider = 25
	e := newEnv(t, envOpts{})
	dsn := "STORE_DSN=" + testenv.PostgresDSN(t)
	type sent struct {
		d     pvDriver
		r     req
		order string
	}
	var all []sent
	for _, d := range []pvDriver{mivaDriver, radialDriver} {
		for i := 0; i < perProvider; i++ {
			order := strconv.Itoa(410000 + i)
			if d.name == "radial" {
				order = strconv.Itoa(420000 + i)
			}
			d.authorize(t, e, order, "100.00", "USD")
			r := req{Provider: d.name, RequestID: uniq("rep-" + d.name + "-" + strconv.Itoa(i)), OrderID: order,
				Type: messages.SettlementDebit, Amount: "20.00", Currency: "USD", Headers: d.headers(t, e, order, false, "")}
			all = append(all, sent{d, r, order})
		}
	}
	first := e.start(dsn)
	e.start(dsn)
	for _, s := range all {
		e.publish(s.r)
	}
	// Kill the first replica once a few verdicts are out: some of its
	// settlements are mid-flight.
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		done := 0
		for _, s := range all {
			if len(e.statuses.of(s.r.RequestID)) > 0 {
				done++
			}
		}
		if done >= len(all)/5 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	first.wait(wait)
	e.start(dsn)
	for _, s := range all {
		pvSettled(t, e, s.d, s.r)
	}
	for _, s := range all {
		var debits []pvMove
		if s.d.name == "miva" {
			debits = pvLive(s.d.ledger(e, "", s.order), false)
		} else {
			debits = pvLive(s.d.ledger(e, s.r.RequestID, s.order), false)
		}
		if len(debits) != 1 {
			t.Errorf("%s %s (order %s): %d debits at the provider, want 1: %+v", s.d.name, s.r.RequestID, s.order, len(debits), debits)
		}
	}
}
