package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/sandbox/radial"
)

const wait = 30 * time.Second

// oneEvent asserts that a request ended with exactly one distinct status
// event with the given verdict, and returns it.
func oneEvent(t *testing.T, e *env, requestID, verdict string) event {
	t.Helper()
	evs := e.waitEvents(requestID, 1, wait)
	time.Sleep(300 * time.Millisecond) // would a second one follow?
	evs = distinct(e.statuses.of(requestID))
	if len(evs) != 1 {
		t.Fatalf("request %s: want 1 distinct status event, got %d", requestID, len(evs))
	}
	ev := evs[0]
	if ev.Status == nil {
		t.Fatalf("request %s: status body does not decode: %s", requestID, ev.Body)
	}
	if ev.Status.SettlementStatus != verdict {
		t.Fatalf("request %s: status %s (%s), want %s", requestID, ev.Status.SettlementStatus, ev.Status.DeclineReason, verdict)
	}
	return ev
}

func debits(entries []radial.Entry) int {
	n := 0
	for _, e := range entries {
		if e.Type == messages.SettlementDebit {
			n++
		}
	}
	return n
}

func TestDebitSettles(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(radial.Authorization{OrderID: "o-debit", Amount: "100.00"})
	e.start()
	id := uniq("debit")
	e.publish(req{RequestID: id, OrderID: "o-debit", Amount: "55.00", AuthAmount: "100.00", Account: "4400000000000008", ClientContext: "cc-1"})

	ev := oneEvent(t, e, id, messages.StatusSettled)
	// The event contract: properties and headers.
	if ev.Type != broker.StatusMessageType || ev.ContentType != "application/xml" || !ev.Persistent {
		t.Errorf("properties: type %q content type %q persistent %v", ev.Type, ev.ContentType, ev.Persistent)
	}
	for k, want := range map[string]string{"request_id": id, "store_id": storeID, "provider": "radial", "settlement_status": "S"} {
		if ev.Headers[k] != want {
			t.Errorf("header %s = %q, want %q", k, ev.Headers[k], want)
		}
	}
	st := ev.Status
	if st.ClientContext != "cc-1" || st.StoreID != storeID || st.TenderType != "VC" || st.Amount.Value != "55.00" || st.OrderID() != "o-debit" {
		t.Errorf("status body: %+v", st)
	}
	if st.PaymentContext == nil || st.PaymentContext.PaymentAccountUniqueID.Value != "4400000000000008" {
		t.Errorf("status must echo the PaymentContext")
	}
	led := e.ledger(id)
	if len(led) != 1 || led[0].State != "S" || led[0].Amount != "55.00" {
		t.Fatalf("ledger: %+v", led)
	}
	if calls := e.sb.Calls(); calls.Confirm.Processed != 1 {
		t.Errorf("confirm funds calls: %+v", calls.Confirm)
	}
	if strings.Contains(e.worker.logText(), "4400000000000008") {
		t.Errorf("the worker log contains the account number")
	}
}

func TestFundsFailRefusesWithoutDebit(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(radial.Authorization{OrderID: "o-fail", Amount: "100.00", FundsOutcome: messages.FundsFail})
	e.start()
	id := uniq("fail")
	e.publish(req{RequestID: id, OrderID: "o-fail", Amount: "55.00"})
	ev := oneEvent(t, e, id, messages.StatusRejected)
	if !strings.Contains(ev.Status.DeclineReason, "funds not available") {
		t.Errorf("decline reason %q", ev.Status.DeclineReason)
	}
	if led := e.ledger(id); len(led) != 0 {
		t.Fatalf("no debit expected, ledger: %+v", led)
	}
}

func TestCreditSettlesWithoutConfirm(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(radial.Authorization{OrderID: "o-credit", Amount: "100.00"})
	e.start()
	debit, credit := uniq("d"), uniq("c")
	e.publish(req{RequestID: debit, OrderID: "o-credit", Amount: "80.00"})
	oneEvent(t, e, debit, messages.StatusSettled)
	e.publish(req{RequestID: credit, OrderID: "o-credit", Amount: "30.00", Type: messages.SettlementCredit})
	oneEvent(t, e, credit, messages.StatusSettled)
	if calls := e.sb.Calls(); calls.Confirm.Processed != 1 {
		t.Errorf("a credit must not confirm funds: confirm calls %+v", calls.Confirm)
	}
	led := e.ledger(credit)
	if len(led) != 1 || led[0].Type != messages.SettlementCredit {
		t.Fatalf("ledger: %+v", led)
	}
}

func TestRadialRefusalCarriesDeclineReason(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(radial.Authorization{OrderID: "o-decl", Amount: "100.00", SettleVerdict: "R", DeclineReason: "Card expired"})
	e.start()
	id := uniq("decl")
	e.publish(req{RequestID: id, OrderID: "o-decl", Amount: "10.00"})
	ev := oneEvent(t, e, id, messages.StatusRejected)
	if ev.Status.DeclineReason != "Card expired" {
		t.Errorf("decline reason %q", ev.Status.DeclineReason)
	}
}

func TestInvalidRequestIsRefusedAndUnparseableIsParked(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(radial.Authorization{OrderID: "o-ok", Amount: "100.00"})
	e.start()

	// Invalid (no InvoiceId), but every value a status echoes is valid:
	// refused with an R naming the problem.
	refused := uniq("refused")
	body := req{RequestID: refused, OrderID: "o-refused", Amount: "1.00"}.xml(t)
	body = []byte(strings.Replace(string(body), "<InvoiceId>inv-o-refused</InvoiceId>", "", 1))
	e.publish(req{RequestID: refused, Body: body})
	// Parses, but has both payment contexts and a 3-decimal amount: no
	// valid PaymentSettlementStatus can echo it (issue 7), so it is parked.
	bad := uniq("bad")
	body = req{RequestID: bad, OrderID: "o-bad", Amount: "1.001"}.xml(t)
	body = []byte(strings.Replace(string(body), "<PaymentContextBase>", "<PaymentContext><OrderId>o-bad</OrderId><PaymentAccountUniqueId isToken=\"true\">4111</PaymentAccountUniqueId></PaymentContext><PaymentContextBase>", 1))
	e.publish(req{RequestID: bad, Body: body})
	// Cannot be parsed at all.
	garbage := uniq("garbage")
	e.publish(req{RequestID: garbage, Body: []byte("this is not <xml")})
	// A valid request beside them is unaffected.
	ok := uniq("ok")
	e.publish(req{RequestID: ok, OrderID: "o-ok", Amount: "5.00"})

	ev := oneEvent(t, e, refused, messages.StatusRejected)
	if !strings.Contains(ev.Status.DeclineReason, "InvoiceId") {
		t.Errorf("decline reason %q does not mention InvoiceId", ev.Status.DeclineReason)
	}
	oneEvent(t, e, ok, messages.StatusSettled)

	parked := e.parked(broker.ParkedQueue("radial"), 2, wait)
	if len(parked) != 2 {
		t.Fatalf("want 2 parked messages, got %d", len(parked))
	}
	for _, p := range parked {
		r := broker.Stringify(p.Headers[handlers.HeaderParkedReason])
		switch p.MessageId {
		case "pub-" + garbage:
			if string(p.Body) != "this is not <xml" || !strings.Contains(r, "unparseable") {
				t.Errorf("parked message must keep its body and properties: %q, reason %q", p.Body, r)
			}
		case "pub-" + bad:
			for _, want := range []string{"no PaymentSettlementStatus published", "PaymentContext and PaymentContextBase", "decimal places"} {
				if !strings.Contains(r, want) {
					t.Errorf("parked_reason %q does not mention %q", r, want)
				}
			}
		default:
			t.Errorf("unexpected parked message %q", p.MessageId)
		}
	}
	if len(e.ledger(bad)) != 0 || len(e.ledger(refused)) != 0 {
		t.Errorf("invalid request reached the provider")
	}
}

func TestTransientErrorsAreRetriedThenSettle(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(radial.Authorization{OrderID: "o-5xx", Amount: "100.00"})
	if err := e.sb.SetFaults(radial.EndpointSettle, radial.Faults{FailNext: 2, FailStatus: 503}); err != nil {
		t.Fatal(err)
	}
	e.start()
	id := uniq("retry")
	e.publish(req{RequestID: id, OrderID: "o-5xx", Amount: "20.00"})
	oneEvent(t, e, id, messages.StatusSettled)
	if led := e.ledger(id); len(led) != 1 {
		t.Fatalf("ledger: %+v", led)
	}
	if c := e.sb.Calls().Settle; c.Failed5xx != 2 || c.Processed != 1 {
		t.Errorf("settle calls: %+v", c)
	}
}

func TestRetriesExhaustedAreParked(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(radial.Authorization{OrderID: "o-down", Amount: "100.00"})
	if err := e.sb.SetFaults(radial.EndpointSettle, radial.Faults{FailNext: 100, FailStatus: 500}); err != nil {
		t.Fatal(err)
	}
	e.start("MAX_ATTEMPTS=3")
	id := uniq("exhaust")
	e.publish(req{RequestID: id, OrderID: "o-down", Amount: "20.00"})
	parked := e.parked(broker.ParkedQueue("radial"), 1, wait)
	if len(parked) != 1 {
		t.Fatalf("want the request parked")
	}
	h := parked[0].Headers
	if r := broker.Stringify(h[handlers.HeaderParkedReason]); !strings.Contains(r, "retries exhausted after 3 attempts") || !strings.Contains(r, "500") {
		t.Errorf("parked_reason %q", r)
	}
	if a := broker.Stringify(h[handlers.HeaderParkedAttempts]); a != "3" {
		t.Errorf("parked_attempts %q", a)
	}
	if _, err := time.Parse(time.RFC3339, broker.Stringify(h[handlers.HeaderParkedAt])); err != nil {
		t.Errorf("parked_at: %v", err)
	}
	if len(e.ledger(id)) != 0 || len(e.statuses.of(id)) != 0 {
		t.Errorf("nothing may be debited or reported for a parked request")
	}
}

func TestDuplicatePublishDebitsOnce(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(radial.Authorization{OrderID: "o-dup", Amount: "100.00"})
	e.start()
	id := uniq("dup")
	r := req{RequestID: id, OrderID: "o-dup", Amount: "40.00"}
	// Twice at once (the second waits behind the first on the order lock
	// and finds it already submitted)...
	e.publish(r)
	e.publish(r)
	first := oneEvent(t, e, id, messages.StatusSettled)
	// ...and once more after the verdict: answered by republishing the
	// recorded status with the same message_id, provider not called.
	e.publish(r)
	deadline := time.Now().Add(wait)
	for len(e.statuses.of(id)) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	all := e.statuses.of(id)
	if len(all) < 2 {
		t.Fatalf("the late duplicate should be answered by republishing the status, got %d deliveries", len(all))
	}
	if all[len(all)-1].MessageID != first.MessageID || len(distinct(all)) != 1 {
		t.Errorf("a republished status must keep its message_id")
	}
	if led := e.ledger(id); len(led) != 1 {
		t.Fatalf("want exactly one debit, ledger: %+v", led)
	}
	// Judged from Radial's side too: once its ACK was delivered and
	// recorded, no duplicate reached Radial again.
	time.Sleep(500 * time.Millisecond) // quiet
	if c := e.sb.Calls().Settle; c.Total != 1 || c.DedupHits != 0 {
		t.Errorf("Radial got %d settlement calls (%d repeats): a duplicate after the delivered ACK reached it", c.Total, c.DedupHits)
	}
}

// TestCrashAtEachStepDebitsOnce kills the worker with SIGKILL at each step
// boundary, restarts it, and checks exactly one debit and one terminal
// status per request.
func TestCrashAtEachStepDebitsOnce(t *testing.T) {
	for _, point := range []string{handlers.CrashAfterConfirm, handlers.CrashAfterSettleCall, handlers.CrashAfterStatusPublish} {
		t.Run(point, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			order := "o-" + strings.ReplaceAll(point, "_", "")[:10]
			e.authorize(radial.Authorization{OrderID: order, Amount: "100.00"})
			p := e.start("SETTLEMENT_WORKER_CRASH_AT=" + point)
			id := uniq("crash")
			e.publish(req{RequestID: id, OrderID: order, Amount: "60.00"})
			ws, exited := p.wait(wait)
			if !exited || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("worker should have been killed at %s (exited %v, status %v)", point, exited, ws)
			}
			e.start()
			oneEvent(t, e, id, messages.StatusSettled)
			led := e.ledger(id)
			if debits(led) != 1 {
				t.Fatalf("want exactly one debit after a crash at %s, ledger: %+v", point, led)
			}
		})
	}
}

func TestChargebackAfterSettlementIsAFurtherEvent(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(radial.Authorization{OrderID: "o-cb", Amount: "100.00",
		LaterStatuses: []radial.LaterStatus{{AfterMS: 300, Status: "R", DeclineReason: "Chargeback"}}})
	e.start()
	id := uniq("cb")
	e.publish(req{RequestID: id, OrderID: "o-cb", Amount: "70.00"})
	evs := e.waitEvents(id, 2, wait)
	if evs[0].Status.SettlementStatus != "S" || evs[1].Status.SettlementStatus != "R" || evs[1].Status.DeclineReason != "Chargeback" {
		t.Fatalf("want S then R(Chargeback), got %s then %s(%s)", evs[0].Status.SettlementStatus, evs[1].Status.SettlementStatus, evs[1].Status.DeclineReason)
	}
}

func TestParkedRequestCanBeReplayed(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(radial.Authorization{OrderID: "o-replay", Amount: "100.00"})
	if err := e.sb.SetFaults(radial.EndpointSettle, radial.Faults{FailNext: 100, FailStatus: 502}); err != nil {
		t.Fatal(err)
	}
	e.start("MAX_ATTEMPTS=2")
	id := uniq("replay")
	e.publish(req{RequestID: id, OrderID: "o-replay", Amount: "15.00"})
	if !e.worker.waitLog("message parked", wait) {
		t.Fatal("request was not parked")
	}
	// The operator fixes the cause and replays.
	if err := e.sb.SetFaults(radial.EndpointSettle, radial.Faults{}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(e.bin, "replay-parked", "radial")
	cmd.Env = append(os.Environ(), "AMQP_URL="+e.amqpURL, "RADIAL_BASE_URL=http://x", "RADIAL_API_KEY=k")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "replayed 1 of 1 parked message(s)") {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	oneEvent(t, e, id, messages.StatusSettled)
	if d := debits(e.ledger(id)); d != 1 {
		t.Fatalf("want one debit, got %d", d)
	}
}

func TestJSONRequestSettles(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(radial.Authorization{OrderID: "o-json", Amount: "100.00"})
	e.start()
	id := uniq("json")
	x := req{RequestID: id, OrderID: "o-json", Amount: "12.50", Account: "4111111111111111"}.xml(t)
	m, err := messages.DecodeSettlementRequest(x)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	e.publish(req{RequestID: id, Body: body, ContentType: "application/json"})
	ev := oneEvent(t, e, id, messages.StatusSettled)
	if ev.Status.Amount.Value != "12.50" || ev.Status.PaymentContext == nil {
		t.Errorf("status: %+v", ev.Status)
	}
	// A JSON body with an unknown field is parked with the field named.
	bad := uniq("jsonbad")
	e.publish(req{RequestID: bad, Body: []byte(`{"requestId":"` + bad + `","amount":{"currencyCode":"USD","value":"1.00"},"surprise":1}`), ContentType: "application/json"})
	parked := e.parked(broker.ParkedQueue("radial"), 1, wait)
	if len(parked) != 1 || !strings.Contains(broker.Stringify(parked[0].Headers[handlers.HeaderParkedReason]), "surprise") {
		t.Fatalf("want the bad JSON parked naming the field, got %d", len(parked))
	}
}

// TestRepeatedStatusIsOneEvent has Radial send each status three times,
// body-identical under new message_ids: the worker republishes its one
// recorded event (same message_id) instead of publishing new ones.
func TestRepeatedStatusIsOneEvent(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(radial.Authorization{OrderID: "o-repeat", Amount: "100.00", RepeatStatus: 2})
	e.start()
	id := uniq("repeat")
	e.publish(req{RequestID: id, OrderID: "o-repeat", Amount: "25.00", ClientContext: "cc-repeat"})
	first := oneEvent(t, e, id, messages.StatusSettled)
	deadline := time.Now().Add(wait)
	for len(e.statuses.of(id)) < 3 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	all := e.statuses.of(id)
	if len(all) != 3 || len(distinct(all)) != 1 || all[2].MessageID != first.MessageID {
		t.Fatalf("want the one event published three times under message_id %s, got %d deliveries, %d distinct", first.MessageID, len(all), len(distinct(all)))
	}
	if first.Status.ClientContext != "cc-repeat" {
		t.Errorf("event ClientContext %q, want the request's own", first.Status.ClientContext)
	}
}

// TestSameClientContextTwoSettlements settles two debits of one order with
// the same ClientContext and amount: the worker sends each its own
// correlation id, and each gets exactly one event carrying the order
// system's ClientContext.
func TestSameClientContextTwoSettlements(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(radial.Authorization{OrderID: "o-twin", Amount: "100.00"})
	e.start()
	a, b := uniq("twin-a"), uniq("twin-b")
	e.publish(req{RequestID: a, OrderID: "o-twin", Amount: "30.00", ClientContext: "cc-twin"})
	e.publish(req{RequestID: b, OrderID: "o-twin", Amount: "30.00", ClientContext: "cc-twin"})
	sent := map[string]bool{}
	for _, id := range []string{a, b} {
		ev := oneEvent(t, e, id, messages.StatusSettled)
		if ev.Status.ClientContext != "cc-twin" {
			t.Errorf("%s: event ClientContext %q, want the request's own", id, ev.Status.ClientContext)
		}
		led := e.ledger(id)
		if len(led) != 1 || led[0].ClientContext == "" || led[0].ClientContext == "cc-twin" || sent[led[0].ClientContext] {
			t.Fatalf("%s: Radial must get a ClientContext unique to the settlement, ledger: %+v", id, led)
		}
		sent[led[0].ClientContext] = true
	}
}
