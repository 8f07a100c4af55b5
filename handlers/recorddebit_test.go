package handlers

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// historyOf returns a settlement's history as "from→to note" lines.
func historyOf(t *testing.T, r *rig, id string) []string {
	t.Helper()
	h, err := r.st.History(context.Background(), store.Key{Provider: r.p.name, RequestID: id})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tr := range h {
		out = append(out, string(tr.From)+"→"+string(tr.To)+" "+tr.Note)
	}
	return out
}

// writesOf counts the store's committed writes (SQLite).
func writesOf(t *testing.T, st store.Store) int64 {
	t.Helper()
	ws, ok := st.(interface{ WriteStats() (int64, int64) })
	if !ok {
		t.Fatalf("%T does not count its writes", st)
	}
	_, w := ws.WriteStats()
	return w
}

// A new debit is written once before its settle call: registered with its
// funds confirmation's outcome, in submitting with the time of the call,
// durably before the call; its history still names every state it passed.
func TestNewDebitIsRecordedOnceBeforeItsSettleCall(t *testing.T) {
	p := newScripted("radial", providers.Facts{Idempotent: true})
	r := newRig(t, p)
	var atCall store.Settlement
	var writesAtCall int64
	p.onSettle = func(*providers.Request) {
		atCall = r.get(t, "req-1")
		writesAtCall = writesOf(t, r.st)
	}
	r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
	if atCall.State != store.StateSubmitting || atCall.Refs[refCallSentAt] == "" || atCall.Attempts != 1 {
		t.Errorf("at the settle call the record is %s, call_sent_at %q, %d attempts: want submitting, a time, 1",
			atCall.State, atCall.Refs[refCallSentAt], atCall.Attempts)
	}
	if writesAtCall != 1 {
		t.Errorf("%d store writes before the settle call, want 1", writesAtCall)
	}
	want := []string{
		"→received registered",
		"received→confirming attempt 1",
		"confirming→confirmed funds confirmed",
		"confirmed→submitting submitting to provider",
	}
	if got := historyOf(t, r, "req-1"); len(got) < len(want) || strings.Join(got[:len(want)], "|") != strings.Join(want, "|") {
		t.Errorf("history %q, want it to start with %q", got, want)
	}
	if s := r.get(t, "req-1"); s.State != store.StateSettled {
		t.Errorf("state %s, want settled", s.State)
	}
}

// A crash after the funds confirmation answered, before anything was
// recorded: the redelivery finds no record, confirms again (a read) and
// captures once.
func TestCrashAfterConfirmRecordsNothingAndTheRedeliverySettlesOnce(t *testing.T) {
	p := newScripted("radial", providers.Facts{Idempotent: true})
	r := newRig(t, p)
	r.h.Crash = func(point string) {
		if point == CrashAfterConfirm {
			panic(errCrashTest)
		}
	}
	msg := requestMsg(t, "req-1", messages.SettlementDebit, nil)
	func() {
		defer func() {
			if v := recover(); v != errCrashTest {
				t.Fatalf("recovered %v, want the test crash", v)
			}
		}()
		_ = r.h.Handle(msg)
	}()
	if _, err := r.st.Get(context.Background(), store.Key{Provider: "radial", RequestID: "req-1"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after the crash: %v, want nothing recorded", err)
	}
	r.h.Crash = nil
	r.deliver(t, msg)
	if settles, _, ledger := p.counts(); settles != 1 || ledger["req-1"] != 1 {
		t.Errorf("provider settled %d times, ledger %v: want exactly one capture", settles, ledger)
	}
	if len(p.confirmAttempts) != 2 {
		t.Errorf("%d funds confirmations, want 2 (the crashed delivery's and the redelivery's)", len(p.confirmAttempts))
	}
	only(t, r.pub.take(), statusQ)
}

var errCrashTest = errors.New("crash (test)")

// A new debit whose funds are not available is recorded, then withheld:
// an R with the reason, no settle call.
func TestNewDebitWithoutFundsIsRecordedAndWithheld(t *testing.T) {
	p := newScripted("radial", providers.Facts{Idempotent: true})
	p.unavailable = true
	r := newRig(t, p)
	r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
	st := only(t, r.pub.take(), statusQ)
	if !strings.Contains(string(st.Payload), "funds not available") {
		t.Errorf("status %s: want an R naming the funds", st.Payload)
	}
	if s := r.get(t, "req-1"); s.State != store.StateWithheld || s.Attempts != 1 {
		t.Errorf("state %s, %d attempts: want withheld, 1", s.State, s.Attempts)
	}
	if settles, _, _ := p.counts(); settles != 0 {
		t.Errorf("%d settle calls, want none", settles)
	}
	want := "received→confirming attempt 1"
	if got := historyOf(t, r, "req-1"); len(got) < 3 || got[1] != want || !strings.HasPrefix(got[2], "confirming→withheld") {
		t.Errorf("history %q, want registered, %q, then withheld", got, want)
	}
}

// A new debit whose funds confirmation fails transiently is recorded in
// confirming with its attempt counted, and retried.
func TestNewDebitWhoseConfirmationFailsIsRecordedAndRetried(t *testing.T) {
	p := newScripted("radial", providers.Facts{Idempotent: true})
	p.confirmErrs = []error{providers.TransientError("", "busy", nil)}
	r := newRig(t, p)
	r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
	next := only(t, r.pub.take(), retryQ(r))
	if s := r.get(t, "req-1"); s.State != store.StateConfirming || s.Attempts != 1 {
		t.Errorf("state %s, %d attempts: want confirming, 1", s.State, s.Attempts)
	}
	r.deliver(t, next)
	only(t, r.pub.take(), statusQ)
	if s := r.get(t, "req-1"); s.State != store.StateSettled || s.Attempts != 2 {
		t.Errorf("state %s, %d attempts: want settled, 2", s.State, s.Attempts)
	}
	if got := p.confirmAttempts; len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Errorf("confirm attempts %v, want [1 2]", got)
	}
}
