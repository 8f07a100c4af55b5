package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/sandbox/frisbii"
	"github.com/settlement-worker/settlement-worker/sandbox/paysafe"
)

// The provider suite runs the same end-to-end cases against every
// provider through its pvDriver (drivers_test.go): the real worker binary,
// a real broker, and the provider's sandbox. Each case asserts both the
// sandbox's ledger (what money moved) and the status events the order
// system receives. Every subtest has its own env and runs in parallel.

// pvCase is one provider-independent case.
type pvCase struct {
	name string
	// radial also runs the case for Radial (only cases radial_test.go
	// does not already cover, to keep the suite's wall time down).
	radial bool
	run    func(t *testing.T, e *env, d pvDriver)
}

// pvOrder is the (numeric) order every case settles.
const pvOrder = "200102"

// pvReq is a request of the case's order for provider d.
func pvReq(t *testing.T, e *env, d pvDriver, id, typ, amount, currency, debitID string) req {
	return req{Provider: d.name, RequestID: id, OrderID: pvOrder, Type: typ, Amount: amount, Currency: currency,
		Headers: d.headers(t, e, pvOrder, typ == messages.SettlementCredit, debitID)}
}

func pvDebit(t *testing.T, e *env, d pvDriver, id, amount string) req {
	return pvReq(t, e, d, id, messages.SettlementDebit, amount, "USD", "")
}

// pvSettled asserts exactly one distinct S event for a request, with the
// event contract (headers, echoed body).
func pvSettled(t *testing.T, e *env, d pvDriver, r req) event {
	t.Helper()
	ev := oneEvent(t, e, r.RequestID, messages.StatusSettled)
	pvCheckEvent(t, d, r, ev)
	return ev
}

// pvRefused asserts exactly one distinct R event whose reason contains want.
func pvRefused(t *testing.T, e *env, d pvDriver, r req, want string) event {
	t.Helper()
	ev := oneEvent(t, e, r.RequestID, messages.StatusRejected)
	pvCheckEvent(t, d, r, ev)
	if !strings.Contains(ev.Status.DeclineReason, want) {
		t.Errorf("%s: decline reason %q does not contain %q", r.RequestID, ev.Status.DeclineReason, want)
	}
	return ev
}

func pvCheckEvent(t *testing.T, d pvDriver, r req, ev event) {
	t.Helper()
	for k, want := range map[string]string{"request_id": r.RequestID, "store_id": storeID, "provider": d.name,
		"settlement_status": ev.Status.SettlementStatus, "order_id": r.OrderID} {
		if ev.Headers[k] != want {
			t.Errorf("%s: event header %s = %q, want %q", r.RequestID, k, ev.Headers[k], want)
		}
	}
	st := ev.Status
	if st.Amount.Value != r.Amount || st.Amount.CurrencyCode != or(r.Currency, "USD") || st.OrderID() != r.OrderID ||
		st.SettlementType != or(r.Type, messages.SettlementDebit) || st.StoreID != storeID {
		t.Errorf("%s: status body does not echo the request: %+v", r.RequestID, st)
	}
}

// pvOne asserts that ms holds exactly one live movement of minor units.
func pvOne(t *testing.T, what string, ms []pvMove, minor int64, currency string) pvMove {
	t.Helper()
	if len(ms) != 1 {
		t.Fatalf("want exactly one live %s in the sandbox ledger, got %d: %+v", what, len(ms), ms)
	}
	if ms[0].Minor != minor || ms[0].Currency != currency {
		t.Errorf("%s: ledger has %d %s, want %d %s", what, ms[0].Minor, ms[0].Currency, minor, currency)
	}
	return ms[0]
}

// pvNoEvents asserts that a request has no status event (yet).
func pvNoEvents(t *testing.T, e *env, id string) {
	t.Helper()
	if evs := e.statuses.of(id); len(evs) != 0 {
		t.Fatalf("%s: want no status event, got %d (%s %s)", id, len(evs), evs[0].Headers["settlement_status"], evs[0].Body)
	}
}

var pvCases = []pvCase{
	{name: "DebitSettles", run: func(t *testing.T, e *env, d pvDriver) {
		d.authorize(t, e, pvOrder, "100.00", "USD")
		e.start()
		r := pvDebit(t, e, d, uniq("debit"), "55.00")
		e.publish(r)
		pvSettled(t, e, d, r)
		pvOne(t, "debit", pvLive(d.ledger(e, r.RequestID, pvOrder), false), 5500, "USD")
	}},

	{name: "FundsRefusedWithoutDebit", run: func(t *testing.T, e *env, d pvDriver) {
		d.refuseFunds(t, e, pvOrder, "55.00")
		e.start()
		r := pvDebit(t, e, d, uniq("funds"), "55.00")
		e.publish(r)
		ev := pvRefused(t, e, d, r, "")
		if !strings.HasPrefix(ev.Status.DeclineReason, "funds not available") {
			t.Errorf("decline reason %q should start with \"funds not available\"", ev.Status.DeclineReason)
		}
		if led := d.ledger(e, r.RequestID, pvOrder); len(led) != 0 {
			t.Fatalf("no debit may reach the provider, ledger: %+v", led)
		}
	}},

	{name: "CreditAfterDebitSettles", run: func(t *testing.T, e *env, d pvDriver) {
		d.authorize(t, e, pvOrder, "100.00", "USD")
		e.start()
		debit := pvDebit(t, e, d, uniq("d"), "80.00")
		e.publish(debit)
		pvSettled(t, e, d, debit)
		// Paysafe: the S above means the settlement was batched
		// (COMPLETED): only then can it be refunded.
		credit := pvReq(t, e, d, uniq("c"), messages.SettlementCredit, "30.00", "USD", debit.RequestID)
		e.publish(credit)
		pvSettled(t, e, d, credit)
		pvOne(t, "credit", pvLive(d.ledger(e, credit.RequestID, pvOrder), true), 3000, "USD")
		pvOne(t, "debit", pvLive(d.ledger(e, debit.RequestID, pvOrder), false), 8000, "USD")
	}},

	{name: "CreditBeyondCapturedRefused", run: func(t *testing.T, e *env, d pvDriver) {
		d.authorize(t, e, pvOrder, "100.00", "USD")
		e.start()
		debit := pvDebit(t, e, d, uniq("d"), "40.00")
		e.publish(debit)
		pvSettled(t, e, d, debit)
		credit := pvReq(t, e, d, uniq("c"), messages.SettlementCredit, "50.00", "USD", debit.RequestID)
		e.publish(credit)
		ev := pvRefused(t, e, d, credit, "")
		if !strings.Contains(ev.Status.DeclineReason, "40.00") && !strings.Contains(ev.Status.DeclineReason, "4000") {
			t.Errorf("the reason should say what is refundable (40.00): %q", ev.Status.DeclineReason)
		}
		if l := pvLive(d.ledger(e, credit.RequestID, pvOrder), true); len(l) != 0 {
			t.Fatalf("a refused credit moved money: %+v", l)
		}
	}},

	{name: "ProviderDeclineCarriesReason", run: func(t *testing.T, e *env, d pvDriver) {
		d.decline(t, e, pvOrder, "100.00", "card_expired")
		e.start()
		r := pvDebit(t, e, d, uniq("decl"), "55.00")
		e.publish(r)
		pvRefused(t, e, d, r, "card_expired")
		if l := pvLive(d.ledger(e, r.RequestID, pvOrder), false); len(l) != 0 {
			t.Fatalf("a declined debit moved money: %+v", l)
		}
	}},

	{name: "TransientErrorsRetriedThenSettle", run: func(t *testing.T, e *env, d pvDriver) {
		d.authorize(t, e, pvOrder, "100.00", "USD")
		d.failSettle(t, e, 2)
		e.start()
		r := pvDebit(t, e, d, uniq("retry"), "20.00")
		e.publish(r)
		pvSettled(t, e, d, r)
		pvOne(t, "debit", pvLive(d.ledger(e, r.RequestID, pvOrder), false), 2000, "USD")
		if n := strings.Count(e.worker.logText(), "transient failure; retrying later"); n != 2 {
			t.Errorf("want 2 retries in the worker log, got %d", n)
		}
	}},

	{name: "RetriesExhaustedAreParked", run: func(t *testing.T, e *env, d pvDriver) {
		d.authorize(t, e, pvOrder, "100.00", "USD")
		d.failSettle(t, e, 100)
		e.start()
		r := pvDebit(t, e, d, uniq("exhaust"), "20.00")
		e.publish(r)
		q := broker.ParkedQueue(d.name)
		if !strings.HasSuffix(q, "Request."+d.name+".parked") {
			t.Errorf("parked queue %q", q)
		}
		parked := e.parked(q, 1, wait)
		if len(parked) != 1 {
			t.Fatalf("want the request parked in %s", q)
		}
		p := parked[0]
		if reason := broker.Stringify(p.Headers[handlers.HeaderParkedReason]); !strings.Contains(reason, "retries exhausted after 4 attempts") ||
			!strings.Contains(reason, "settle") {
			t.Errorf("parked_reason %q", reason)
		}
		if a := broker.Stringify(p.Headers[handlers.HeaderParkedAttempts]); a != "4" {
			t.Errorf("parked_attempts %q, want 4 (MAX_ATTEMPTS)", a)
		}
		if f := broker.Stringify(p.Headers[handlers.HeaderParkedFrom]); f != broker.RequestQueue(d.name) {
			t.Errorf("parked_from_queue %q", f)
		}
		if p.MessageId != "pub-"+r.RequestID || !strings.Contains(string(p.Body), r.RequestID) {
			t.Errorf("the parked message must keep its body and properties (message id %q)", p.MessageId)
		}
		time.Sleep(300 * time.Millisecond)
		pvNoEvents(t, e, r.RequestID)
		if l := pvLive(d.ledger(e, r.RequestID, pvOrder), false); len(l) != 0 {
			t.Fatalf("a parked request moved money: %+v", l)
		}
	}},

	{name: "DuplicateDeliveryDebitsOnce", run: func(t *testing.T, e *env, d pvDriver) {
		d.authorize(t, e, pvOrder, "100.00", "USD")
		e.start()
		r := pvDebit(t, e, d, uniq("dup"), "40.00")
		e.publish(r)
		e.publish(r)
		first := pvSettled(t, e, d, r)
		// Once more after the verdict: the recorded status is republished.
		e.publish(r)
		deadline := time.Now().Add(wait)
		for len(e.statuses.of(r.RequestID)) < 2 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		all := e.statuses.of(r.RequestID)
		if len(all) < 2 {
			t.Fatalf("the late duplicate should be answered by republishing the status, got %d deliveries", len(all))
		}
		if len(distinct(all)) != 1 || all[len(all)-1].MessageID != first.MessageID {
			t.Errorf("want one distinct status event (same message_id), got %d", len(distinct(all)))
		}
		pvOne(t, "debit", pvLive(d.ledger(e, r.RequestID, pvOrder), false), 4000, "USD")
	}},

	{name: "CrashAfterSettleCallDebitsOnce", run: func(t *testing.T, e *env, d pvDriver) {
		d.authorize(t, e, pvOrder, "100.00", "USD")
		p := e.start("SETTLEMENT_WORKER_CRASH_AT=" + handlers.CrashAfterSettleCall)
		r := pvDebit(t, e, d, uniq("crash"), "60.00")
		e.publish(r)
		pvKilled(t, p, handlers.CrashAfterSettleCall)
		// The provider was called before the kill.
		if l := d.ledger(e, r.RequestID, pvOrder); len(pvLive(l, false)) != 1 {
			t.Fatalf("the settle call should have reached the provider before the kill, ledger: %+v", l)
		}
		e.start()
		pvSettled(t, e, d, r)
		pvOne(t, "debit", pvLive(d.ledger(e, r.RequestID, pvOrder), false), 6000, "USD")
		pvRecovered(t, e, d)
	}},

	{name: "CrashAfterConfirmDebitsOnce", run: pvCrashAt(handlers.CrashAfterConfirm)},
	{name: "CrashAfterStatusPublishDebitsOnce", run: pvCrashAt(handlers.CrashAfterStatusPublish)},

	{name: "CrashAfterSettleCallCreditsOnce", radial: true, run: func(t *testing.T, e *env, d pvDriver) {
		d.authorize(t, e, pvOrder, "100.00", "USD")
		e.start()
		debit := pvDebit(t, e, d, uniq("d"), "80.00")
		e.publish(debit)
		pvSettled(t, e, d, debit)
		e.worker.stop()
		p := e.start("SETTLEMENT_WORKER_CRASH_AT=" + handlers.CrashAfterSettleCall)
		credit := pvReq(t, e, d, uniq("c"), messages.SettlementCredit, "30.00", "USD", debit.RequestID)
		e.publish(credit)
		pvKilled(t, p, handlers.CrashAfterSettleCall)
		e.start()
		pvSettled(t, e, d, credit)
		pvOne(t, "credit", pvLive(d.ledger(e, credit.RequestID, pvOrder), true), 3000, "USD")
		pvRecovered(t, e, d)
	}},

	{name: "CrashAfterSecondSameAmountDebit", run: func(t *testing.T, e *env, d pvDriver) {
		// A first debit of the same amount on the same order must not be
		// taken for the crashed one's (Miva's reconciliation has no key).
		d.authorize(t, e, pvOrder, "100.00", "USD")
		e.start()
		first := pvDebit(t, e, d, uniq("first"), "30.00")
		e.publish(first)
		pvSettled(t, e, d, first)
		e.worker.stop()
		p := e.start("SETTLEMENT_WORKER_CRASH_AT=" + handlers.CrashAfterSettleCall)
		second := pvDebit(t, e, d, uniq("second"), "30.00")
		e.publish(second)
		pvKilled(t, p, handlers.CrashAfterSettleCall)
		e.start()
		pvSettled(t, e, d, second)
		both := append(pvLive(d.ledger(e, first.RequestID, pvOrder), false), pvLive(d.ledger(e, second.RequestID, pvOrder), false)...)
		if d.name == "miva" {
			both = pvLive(d.ledger(e, "", pvOrder), false) // by order
		}
		if len(both) != 2 {
			t.Fatalf("want exactly two debits of the order (one per request), ledger: %+v", both)
		}
	}},

	{name: "DroppedReplyDebitsOnce", radial: true, run: func(t *testing.T, e *env, d pvDriver) {
		d.authorize(t, e, pvOrder, "100.00", "USD")
		d.dropSettle(t, e)
		e.start()
		r := pvDebit(t, e, d, uniq("drop"), "35.00")
		e.publish(r)
		pvSettled(t, e, d, r)
		m := pvOne(t, "debit", pvLive(d.ledger(e, r.RequestID, pvOrder), false), 3500, "USD")
		if !m.Dropped {
			t.Errorf("the sandbox should have dropped the reply of the one debit: %+v", m)
		}
	}},

	{name: "DuplicateWithChangedMoneyHeaderIsParked", radial: true, run: func(t *testing.T, e *env, d pvDriver) {
		// The same requestId and body with another store_id, tender or
		// provider header (one that chooses what is charged) is not the
		// recorded request: it is parked, naming the header, and never
		// reaches the provider; the recorded one settles once.
		d.authorize(t, e, pvOrder, "100.00", "USD")
		e.start()
		r := pvDebit(t, e, d, uniq("hdr"), "25.00")
		e.publish(r)
		pvSettled(t, e, d, r)
		changed := []struct {
			header string
			mutate func(*req)
		}{
			{"store_id", func(x *req) { x.Store = "OTHERSTORE" }},
			{"tender_type", func(x *req) { x.Tender = "MC" }},
		}
		for k := range r.Headers {
			changed = append(changed, struct {
				header string
				mutate func(*req)
			}{k, func(x *req) { x.Headers[k] = x.Headers[k] + "9" }})
		}
		for _, c := range changed {
			dup := r
			dup.Headers = map[string]string{}
			for k, v := range r.Headers {
				dup.Headers[k] = v
			}
			c.mutate(&dup)
			e.publish(dup)
		}
		parked := e.parked(broker.ParkedQueue(d.name), len(changed), wait)
		if len(parked) != len(changed) {
			t.Fatalf("%d duplicates parked, want %d", len(parked), len(changed))
		}
		var reasons []string
		for _, p := range parked {
			reasons = append(reasons, broker.Stringify(p.Headers[handlers.HeaderParkedReason]))
		}
		for _, c := range changed {
			if !strings.Contains(strings.Join(reasons, "\n"), "header "+c.header+" ") {
				t.Errorf("no parked_reason names header %s: %q", c.header, reasons)
			}
		}
		if evs := distinct(e.statuses.of(r.RequestID)); len(evs) != 1 {
			t.Errorf("%d distinct status events, want 1", len(evs))
		}
		pvOne(t, "debit", pvLive(d.ledger(e, r.RequestID, pvOrder), false), 2500, "USD")
	}},

	{name: "TwoEqualAmountDebitsOfOneOrderBothMoveMoney", radial: true, run: func(t *testing.T, e *env, d pvDriver) {
		// Two settlements of one order with equal amounts, the first one's
		// reply lost: each S stands for a capture of its own.
		d.authorize(t, e, pvOrder, "100.00", "USD")
		d.dropSettle(t, e)
		e.start()
		a := pvDebit(t, e, d, uniq("eqa"), "20.00")
		b := pvDebit(t, e, d, uniq("eqb"), "20.00")
		e.publish(a)
		e.publish(b)
		pvSettled(t, e, d, a)
		pvSettled(t, e, d, b)
		all := append(pvLive(d.ledger(e, a.RequestID, pvOrder), false), pvLive(d.ledger(e, b.RequestID, pvOrder), false)...)
		if d.name == "miva" {
			all = pvLive(d.ledger(e, "", pvOrder), false)
		}
		if len(all) != 2 {
			t.Fatalf("two S but %d debit(s) at the provider: %+v", len(all), all)
		}
	}},

	{name: "CrashAfterTerminalCommitPublishesOnce", radial: true, run: pvCrashAt(handlers.CrashAfterTerminalCommit)},

	{name: "LateCommitDebitsOnce", radial: true, run: func(t *testing.T, e *env, d pvDriver) {
		// The provider commits the settle 2.5s after it was sent, after the
		// worker's 2s timeout: the worker must find that money once the
		// settle window (3s) has passed, never take it a second time.
		d.authorize(t, e, pvOrder, "100.00", "USD")
		d.lateSettle(t, e, 2500)
		e.start()
		if d.complete != nil {
			t.Cleanup(d.complete(e))
		}
		r := pvDebit(t, e, d, uniq("late"), "15.00")
		e.publish(r)
		pvSettled(t, e, d, r)
		time.Sleep(time.Second) // quiet: would a second debit follow?
		all := pvLive(d.ledger(e, r.RequestID, pvOrder), false)
		if d.name == "miva" {
			all = pvLive(d.ledger(e, "", pvOrder), false)
		}
		if len(all) != 1 || all[0].Minor != 1500 {
			t.Fatalf("ledger after a late commit: %+v, want exactly one debit of 15.00", all)
		}
	}},

	{name: "CurrencyExponents", radial: true, run: func(t *testing.T, e *env, d pvDriver) {
		// JPY has exponent 0, KWD exponent 3: the same order id cannot
		// carry two currencies, so each runs on its own order.
		type cur struct{ order, currency, auth, amount string }
		cs := []cur{{"300100", "JPY", "5000", "1500"}, {"300200", "KWD", "5.000", "1.250"}}
		for _, c := range cs {
			d.authorize(t, e, c.order, c.auth, c.currency)
		}
		// A Miva store has one currency (MIVA_CURRENCY; its API carries
		// none): a worker per currency, and a settlement in another
		// currency is refused before any call.
		perStore := d.name == "miva"
		var p *proc
		if !perStore {
			e.start()
		}
		for _, c := range cs {
			if perStore {
				p = e.start("MIVA_CURRENCY=" + c.currency)
			}
			r := req{Provider: d.name, RequestID: uniq("cur-" + c.currency), OrderID: c.order, Amount: c.amount, Currency: c.currency,
				Headers: d.headers(t, e, c.order, false, "")}
			e.publish(r)
			pvSettled(t, e, d, r)
			pvOne(t, c.currency+" debit", pvLive(d.ledger(e, r.RequestID, c.order), false), pvMinor(t, c.amount, c.currency), c.currency)
			if perStore {
				other := req{Provider: d.name, RequestID: uniq("cur-other-" + c.currency), OrderID: c.order, Amount: "1.00", Currency: "USD",
					Headers: d.headers(t, e, c.order, false, "")}
				e.publish(other)
				pvRefused(t, e, d, other, "MIVA_CURRENCY")
				if got := pvLive(d.ledger(e, "", c.order), false); len(got) != 1 {
					t.Fatalf("USD settlement on a %s Miva store: the order's ledger is %+v, want the %s debit alone", c.currency, got, c.currency)
				}
				p.stop()
			}
		}
	}},
}

// pvKilled waits for the worker to die by SIGKILL at a crash point.
func pvKilled(t *testing.T, p *proc, point string) {
	t.Helper()
	ws, exited := p.wait(wait)
	if !exited || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("worker should have been killed at %s (exited %v, status %v)", point, exited, ws)
	}
}

// pvRecovered asserts that the restarted worker resolved the uncertain
// attempt through the provider's Reconciler and not by a blind new
// submission. (Radial has none: it resubmits with the same requestId, or
// its asynchronous status settles the request first.)
func pvRecovered(t *testing.T, e *env, d pvDriver) {
	t.Helper()
	if d.name == "radial" {
		return
	}
	want := "reconciled an earlier attempt with the provider"
	if !e.worker.waitLog(want, time.Second) {
		t.Errorf("the restarted worker's log does not say %q", want)
	}
}

// pvCrashAt kills the worker at a crash point during a debit, restarts it,
// and expects one debit and one S.
func pvCrashAt(point string) func(t *testing.T, e *env, d pvDriver) {
	return func(t *testing.T, e *env, d pvDriver) {
		d.authorize(t, e, pvOrder, "100.00", "USD")
		p := e.start("SETTLEMENT_WORKER_CRASH_AT=" + point)
		r := pvDebit(t, e, d, uniq("crash"), "60.00")
		e.publish(r)
		pvKilled(t, p, point)
		e.start()
		pvSettled(t, e, d, r)
		pvOne(t, "debit", pvLive(d.ledger(e, r.RequestID, pvOrder), false), 6000, "USD")
	}
}

// TestProviderSuite runs every case for Paysafe, Frisbii and Miva, and
// the cases radial_test.go lacks for Radial.
func TestProviderSuite(t *testing.T) {
	t.Parallel()
	for _, c := range pvCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, d := range pvDrivers {
				if d.name == "radial" && !c.radial {
					continue
				}
				t.Run(d.name, func(t *testing.T) {
					t.Parallel()
					e := newEnv(t, envOpts{})
					if d.complete != nil {
						t.Cleanup(d.complete(e))
					}
					c.run(t, e, d)
				})
			}
		})
	}
}

// TestProviderPaysafePendingUntilBatch: Paysafe answers PENDING and the
// worker keeps re-checking without reporting anything; only the sandbox's
// batch (COMPLETED) produces the S.
func TestProviderPaysafePendingUntilBatch(t *testing.T) {
	t.Parallel()
	d := paysafeDriver
	e := newEnv(t, envOpts{})
	d.authorize(t, e, pvOrder, "100.00", "USD")
	e.start()
	r := pvDebit(t, e, d, uniq("pending"), "45.00")
	e.publish(r)

	deadline := time.Now().Add(wait)
	for len(d.ledger(e, r.RequestID, pvOrder)) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	gets := e.paysafe.Calls().Get.Total
	// Several re-checks (PAYSAFE_RECHECK_AFTER=200ms) while pending.
	time.Sleep(1500 * time.Millisecond)
	led := d.ledger(e, r.RequestID, pvOrder)
	if len(led) != 1 || led[0].State != paysafe.StatusPending {
		t.Fatalf("want one PENDING settlement before the batch, ledger: %+v", led)
	}
	if polls := e.paysafe.Calls().Get.Total - gets; polls < 2 {
		t.Errorf("the worker should keep re-checking a PENDING settlement: %d polls in 1.5s", polls)
	}
	pvNoEvents(t, e, r.RequestID)
	if res := e.paysafe.RunBatch(); res.Completed != 1 {
		t.Fatalf("batch: %+v", res)
	}
	pvSettled(t, e, d, r)
	m := pvOne(t, "debit", pvLive(d.ledger(e, r.RequestID, pvOrder), false), 4500, "USD")
	if m.State != paysafe.StatusCompleted {
		t.Errorf("settlement %s after the batch", m.State)
	}
	if n := len(e.paysafe.LedgerFiltered(paysafe.LedgerFilter{Kind: paysafe.KindSettlement})); n != 1 {
		t.Errorf("want one settlement in the whole ledger, got %d", n)
	}
}

// TestProviderFrisbiiPartialSettlesUpToAuthorized: partial settles of one
// charge succeed until the authorized amount; one beyond is refused and
// never reaches Frisbii's ledger.
func TestProviderFrisbiiPartialSettlesUpToAuthorized(t *testing.T) {
	t.Parallel()
	d := frisbiiDriver
	e := newEnv(t, envOpts{})
	d.authorize(t, e, pvOrder, "100.00", "USD")
	e.start()
	settle := func(amount string) req {
		r := pvDebit(t, e, d, uniq("part"), amount)
		e.publish(r)
		return r
	}
	a := settle("40.00")
	pvSettled(t, e, d, a)
	b := settle("50.00")
	pvSettled(t, e, d, b)
	beyond := settle("20.00") // 10.00 left
	ev := pvRefused(t, e, d, beyond, "10.00")
	if !strings.HasPrefix(ev.Status.DeclineReason, "funds not available") {
		t.Errorf("decline reason %q", ev.Status.DeclineReason)
	}
	rest := settle("10.00")
	pvSettled(t, e, d, rest)
	full := settle("0.01")
	pvRefused(t, e, d, full, "fully settled")

	if led := d.ledger(e, beyond.RequestID, pvOrder); len(led) != 0 {
		t.Errorf("the settle beyond the authorization reached Frisbii: %+v", led)
	}
	if led := d.ledger(e, full.RequestID, pvOrder); len(led) != 0 {
		t.Errorf("the settle of a fully settled charge reached Frisbii: %+v", led)
	}
	var total int64
	for _, x := range e.frisbii.LedgerFiltered(frisbii.LedgerFilter{Handle: pvOrder, Kind: frisbii.EntrySettle}) {
		if x.State == frisbii.EntrySettled {
			total += x.Amount
		}
	}
	if total != 10000 {
		t.Errorf("settled %d minor units in total, want exactly the authorized 10000", total)
	}
	if ch, ok := e.frisbii.ChargeInfo(pvOrder); !ok || ch.SettledAmount != 10000 || ch.RemainingAmount != 0 {
		t.Errorf("charge after the settles: %+v", ch)
	}
}

// TestProviderFrisbiiProcessingRefundIsPolled: a refund Frisbii answers
// "processing" is re-checked (FRISBII_REFUND_RECHECK) until refunded.
func TestProviderFrisbiiProcessingRefundIsPolled(t *testing.T) {
	t.Parallel()
	d := frisbiiDriver
	e := newEnv(t, envOpts{})
	_, err := e.frisbii.SeedCharge(frisbii.ChargeSeed{Handle: pvOrder, Amount: 10000, Currency: "USD",
		Refund: &frisbii.RefundScript{State: frisbii.RefundProcessing, ProcessingMS: 700}})
	pvMust(t, "frisbii charge", err)
	e.start()
	debit := pvDebit(t, e, d, uniq("d"), "80.00")
	e.publish(debit)
	pvSettled(t, e, d, debit)
	credit := pvReq(t, e, d, uniq("c"), messages.SettlementCredit, "30.00", "USD", debit.RequestID)
	e.publish(credit)
	pvSettled(t, e, d, credit)
	m := pvOne(t, "credit", pvLive(d.ledger(e, credit.RequestID, pvOrder), true), 3000, "USD")
	if m.State != frisbii.EntryRefunded {
		t.Errorf("refund %s after the S", m.State)
	}
	if c := e.frisbii.Calls(); c.Refund.Processed != 1 || c.RefundGet.Total == 0 {
		t.Errorf("want one refund then polls, calls %+v / %+v", c.Refund, c.RefundGet)
	}
}

// TestProviderMivaSameAmountDebitDuringRetryCapturesTwice: debit A of an
// order fails transiently at Miva (nothing captured) and waits in the
// retry queue; meanwhile debit B of the same order and amount is captured.
// A's retry must capture A's own money: Miva has no idempotency key, and
// B's capture record is not A's.
func TestProviderMivaSameAmountDebitDuringRetryCapturesTwice(t *testing.T) {
	t.Parallel()
	d := mivaDriver
	e := newEnv(t, envOpts{})
	d.authorize(t, e, pvOrder, "100.00", "USD")
	d.failSettle(t, e, 1) // A's capture: refused before acting, nothing captured
	e.start("RETRY_DELAYS=1500ms")
	a := pvDebit(t, e, d, uniq("a"), "30.00")
	e.publish(a)
	if !e.worker.waitLog("transient failure; retrying later", wait) {
		t.Fatal("A's capture should have failed transiently")
	}
	b := pvDebit(t, e, d, uniq("b"), "30.00")
	e.publish(b) // settled while A waits for its retry
	pvSettled(t, e, d, b)
	pvSettled(t, e, d, a)
	if caps := pvLive(d.ledger(e, "", pvOrder), false); len(caps) != 2 {
		t.Fatalf("two debits reported S but Miva captured %d time(s): %+v", len(caps), caps)
	}
}

// TestProviderPaysafeRefundBeforeBatchWaits: a credit of a settlement
// Paysafe has not batched yet (error 3404, "retrying later") waits for the
// batch like a PENDING settlement (bounded by PENDING_DEADLINE) instead of
// being parked once MAX_ATTEMPTS quick retries are spent: Paysafe batches
// daily, the retry budget lasts minutes.
func TestProviderPaysafeRefundBeforeBatchWaits(t *testing.T) {
	t.Parallel()
	d := paysafeDriver
	e := newEnv(t, envOpts{})
	d.authorize(t, e, pvOrder, "100.00", "USD")
	e.start()
	debit := pvDebit(t, e, d, uniq("d"), "80.00")
	e.publish(debit)
	deadline := time.Now().Add(wait)
	for len(d.ledger(e, debit.RequestID, pvOrder)) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	credit := pvReq(t, e, d, uniq("c"), messages.SettlementCredit, "30.00", "USD", debit.RequestID)
	e.publish(credit)
	// MAX_ATTEMPTS=4 with RETRY_DELAYS=200ms,400ms is spent in about 1s.
	time.Sleep(2500 * time.Millisecond)
	if p := e.parked(broker.ParkedQueue("paysafe"), 1, 100*time.Millisecond); len(p) != 0 {
		t.Errorf("the refund was parked before Paysafe's batch: %s", broker.Stringify(p[0].Headers[handlers.HeaderParkedReason]))
	}
	pvNoEvents(t, e, credit.RequestID)
	t.Cleanup(d.complete(e)) // the batch runs
	pvSettled(t, e, d, debit)
	if t.Failed() {
		return // parked: nothing will settle it
	}
	pvSettled(t, e, d, credit)
	pvOne(t, "credit", pvLive(d.ledger(e, credit.RequestID, pvOrder), true), 3000, "USD")
}
