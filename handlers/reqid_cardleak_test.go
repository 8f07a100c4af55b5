package handlers

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// panRequestID is a requestId holding a card number (a sender's mistake):
// the settlement is keyed by it and our status event echoes it as sent,
// but a log line, a span and the worker's own reasons and headers show it
// masked (maskedRequestID).
const (
	panRequestID    = "REQ-" + leakPAN
	maskedRequestID = "REQ-************1881"
)

// spanRecorder installs an in-memory span exporter as the global tracer
// provider for the test.
func spanRecorder(t *testing.T) *tracetest.InMemoryExporter {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() {
		otel.SetTracerProvider(prev)
		_ = tp.Shutdown(context.Background())
	})
	return exp
}

// spansLeak reports the span attributes, status descriptions and event
// attributes that hold the card number.
func spansLeak(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		if leaks(s.Status.Description) {
			out = append(out, s.Name+" status: "+s.Status.Description)
		}
		for _, a := range s.Attributes {
			if leaks(a.Value.Emit()) {
				out = append(out, s.Name+" "+string(a.Key)+"="+a.Value.Emit())
			}
		}
		for _, ev := range s.Events {
			for _, a := range ev.Attributes {
				if leaks(a.Value.Emit()) {
					out = append(out, s.Name+" event "+ev.Name+" "+string(a.Key)+"="+a.Value.Emit())
				}
			}
		}
	}
	return out
}

// A requestId holding a card number was logged whole (the delivery's
// request_id and message_id fields, and every message or error naming the
// settlement), set whole as the span's settlement.request_id, and quoted
// whole in the reasons the worker writes when it parks or refuses a
// reused requestId. All of these mask it now; the store key and our status
// event's request_id header keep it as sent.
func TestARequestIDHoldingACardNumberIsMaskedWhereShown(t *testing.T) {
	cases := []struct {
		name  string
		facts providers.Facts
		setup func(p *scripted)
		// again, when set, is a second delivery of the same requestId
		// (its headers).
		again map[string]string
		want  string // the queue prefix a message must reach
	}{
		{name: "settled", want: statusQ},
		{name: "refused by the provider", want: statusQ, setup: func(p *scripted) {
			p.settleErrs = []error{providers.PermanentError("05", "declined", nil)}
		}},
		{name: "retried after a transient error", want: "", setup: func(p *scripted) {
			p.confirmErrs = []error{providers.TransientError("", "timeout", nil)}
		}},
		{name: "unresolved error parks", want: "", setup: func(p *scripted) {
			p.settleErrs = []error{providers.UnresolvedError("", "lost answer", nil)}
		}},
		{name: "panic parks", want: "", setup: func(p *scripted) { p.panicSettle, p.panicMsg = true, "bad reply" }},
		{name: "duplicate with another store_id", want: "", again: map[string]string{HeaderStoreID: "STORE2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spans := spanRecorder(t)
			p := newScripted("miva", tc.facts)
			if tc.setup != nil {
				tc.setup(p)
			}
			r := newRig(t, p)
			var logs bytes.Buffer
			r.h.Log = zerolog.New(&logs)
			first := requestMsg(t, panRequestID, messages.SettlementDebit, nil)
			if err := r.h.HandleSafely(first); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if tc.again != nil {
				if err := r.h.HandleSafely(requestMsg(t, panRequestID, messages.SettlementDebit, tc.again)); err != nil {
					t.Fatalf("Handle again: %v", err)
				}
			}
			checkPublishedKeepTheRequestID(t, r.pub.take(), first)
			checkStoreKeepsTheRequestID(t, r.st, store.Key{Provider: "miva", RequestID: panRequestID})
			if leaks(logs.String()) {
				t.Errorf("a log line holds the card number:\n%s", logs.String())
			} else if !strings.Contains(logs.String(), maskedRequestID) {
				t.Errorf("no log line names the masked requestId %s:\n%s", maskedRequestID, logs.String())
			}
			if bad := spansLeak(spans.GetSpans()); len(bad) > 0 {
				t.Errorf("spans hold the card number:\n%s", strings.Join(bad, "\n"))
			}
		})
	}
}

// checkPublishedKeepTheRequestID checks the messages the worker published:
// a status event names the requestId as sent (its request_id header) and
// its DeclineReason does not hold the card number; a retried or parked copy
// keeps the sender's headers as sent, and no header the worker added holds
// the card number.
func checkPublishedKeepTheRequestID(t *testing.T, sent []sentMsg, orig *message.Message) {
	t.Helper()
	for _, m := range sent {
		if strings.HasPrefix(m.key, statusQ) {
			if got := m.msg.Metadata.Get(HeaderRequestID); got != panRequestID {
				t.Errorf("status event request_id %q, want %q as sent", got, panRequestID)
			}
			st, err := messages.DecodeSettlementStatus(m.msg.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if leaks(st.DeclineReason) {
				t.Errorf("status event's DeclineReason holds the card number: %q", st.DeclineReason)
			}
			continue
		}
		for k, v := range m.msg.Metadata {
			if _, senders := orig.Metadata[k]; !senders && k != broker.MetaMessageID && leaks(v) {
				t.Errorf("header %s the worker added to the copy sent to %s holds the card number: %q", k, m.key, v)
			}
		}
	}
}

// checkStoreKeepsTheRequestID checks that the settlement is keyed by the
// requestId as sent, and that its reasons and history notes do not hold
// the card number.
func checkStoreKeepsTheRequestID(t *testing.T, st store.Store, key store.Key) {
	t.Helper()
	s, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("the settlement is not found by the requestId as sent: %v", err)
	}
	if leaks(s.DeclineReason) || leaks(s.ParkedReason) {
		t.Errorf("store reasons hold the card number: decline %q, parked %q", s.DeclineReason, s.ParkedReason)
	}
	hist, err := st.History(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range hist {
		if leaks(tr.Note) {
			t.Errorf("a history note holds the card number: %q", tr.Note)
		}
	}
}

// The status handler logged the settlement's requestId whole (its log
// context once the status is matched, a redelivery's republish) and named
// it whole in the reason of a status parked as conflicting. A requestId
// holding a card number is masked there; our event's request_id header
// keeps it as sent.
func TestProviderStatusRequestIDCardNumberIsMasked(t *testing.T) {
	cases := []struct {
		name   string
		status statusSpec
		again  bool // the same status again, under another message id
		parked bool
	}{
		{name: "applied", status: statusSpec{ccOf: panRequestID, msgID: "m1"}},
		{name: "redelivered", status: statusSpec{ccOf: panRequestID, msgID: "m1"}, again: true},
		{name: "conflicting", status: statusSpec{ccOf: panRequestID, amount: "1.00", msgID: "m1"}, parked: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newPSEnv(t)
			var logs bytes.Buffer
			e.h.Log = zerolog.New(&logs)
			e.seed(seedSpec{id: panRequestID, cc: "cc-A", state: store.StateAcknowledged})
			tc.status.cc = e.corr[panRequestID]
			if err := e.h.Handle(tc.status.message(t)); err != nil {
				t.Fatal(err)
			}
			if tc.again {
				tc.status.msgID = "m2"
				if err := e.h.Handle(tc.status.message(t)); err != nil {
					t.Fatal(err)
				}
			}
			if tc.parked {
				parkedWithoutCardNumber(t, e, &logs, "the conflicting status")
			} else {
				d, ok := e.get(statusQueue)
				if !ok {
					t.Fatal("no status event published")
				}
				if got := broker.Stringify(d.Headers[HeaderRequestID]); got != panRequestID {
					t.Errorf("status event request_id %q, want %q as sent", got, panRequestID)
				}
			}
			if leaks(logs.String()) {
				t.Errorf("a log line holds the card number:\n%s", logs.String())
			} else if !strings.Contains(logs.String(), maskedRequestID) {
				t.Errorf("no log line names the masked requestId %s:\n%s", maskedRequestID, logs.String())
			}
		})
	}
}

// The sweeper logged the requestId whole when it parked a settlement past
// its status deadline, resumed one whose message was gone, or relayed an
// unpublished event. A requestId holding a card number is masked there,
// and in the reason on the parked copy.
func TestSweeperRequestIDCardNumberIsMasked(t *testing.T) {
	cases := []struct {
		name  string
		facts providers.Facts
		setup func(p *scripted, r *rig)
		later time.Duration
	}{
		{name: "parked past the status deadline", facts: providers.Facts{Idempotent: true, StatusDeadline: time.Hour},
			setup: func(p *scripted, _ *rig) { p.accept = true }, later: 2 * time.Hour},
		{name: "resumed", setup: func(p *scripted, _ *rig) {
			p.settleErrs = []error{providers.NotSentError("503", "busy", nil)}
		}, later: 2 * time.Minute},
		{name: "relayed", setup: func(_ *scripted, r *rig) { r.pub.failStatus = true }, later: time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newScripted("radial", tc.facts)
			r := newRig(t, p)
			tc.setup(p, r)
			_ = r.h.Handle(requestMsg(t, panRequestID, messages.SettlementDebit, nil))
			r.pub.take()
			r.pub.failStatus = false
			var logs bytes.Buffer
			r.h.Log = zerolog.New(&logs)
			rep, err := r.sweeper(tc.later).Sweep(context.Background())
			if err != nil || rep.Parked+rep.Resumed+rep.Relayed != 1 {
				t.Fatalf("sweep %+v, %v: want one settlement handled", rep, err)
			}
			for _, m := range r.pub.take() {
				if v := m.msg.Metadata.Get(HeaderParkedReason); leaks(v) {
					t.Errorf("parked reason holds the card number: %q", v)
				}
			}
			if leaks(logs.String()) {
				t.Errorf("a log line holds the card number:\n%s", logs.String())
			} else if !strings.Contains(logs.String(), maskedRequestID) {
				t.Errorf("no log line names the masked requestId %s:\n%s", maskedRequestID, logs.String())
			}
		})
	}
}

// refusingLock is a store whose order locks fail (a database gone), or,
// with busy, are held by another delivery until the caller gives up.
type refusingLock struct {
	store.Store
	busy bool
}

func (s refusingLock) LockOrder(ctx context.Context, _, _, _ string) (func(), error) {
	if s.busy {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return nil, errors.New("database gone")
}

// The order lock's errors named the lock's key whole: the OrderId, or
// "request:" and the requestId when there is none, either of which may
// hold a card number. The error a delivery returns (logged, recorded on
// its span) masks it.
func TestOrderLockErrorsMaskACardNumberInTheKey(t *testing.T) {
	cases := []struct {
		name       string
		order      string
		busy       bool
		failRetry  bool
		wantInText string
	}{
		{name: "lock refused, order id", order: leakPAN, wantInText: "************1881"},
		{name: "lock refused, no order id", wantInText: "request:" + maskedRequestID},
		{name: "busy, retry copy refused", order: leakPAN, busy: true, failRetry: true, wantInText: "************1881"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, newScripted("miva", providers.Facts{}))
			r.h.Store = refusingLock{Store: r.st, busy: tc.busy}
			r.h.LockWait = 10 * time.Millisecond
			var pub failingRetry
			if tc.failRetry {
				r.h.Pub = &pub
			}
			req := testRequest()
			req.RequestID = panRequestID
			req.PaymentContext = nil
			req.PaymentContextBase = &messages.PaymentContextBase{OrderID: tc.order}
			msg := message.NewMessage("m-1", encodeXML(t, req))
			msg.Metadata.Set(broker.MetaContentType, ContentTypeXML)
			msg.Metadata.Set(HeaderStoreID, "STORE1")
			msg.Metadata.Set(HeaderTenderType, "VC")
			err := r.h.HandleSafely(msg)
			if err == nil {
				t.Fatal("Handle succeeded")
			}
			if leaks(err.Error()) || !strings.Contains(err.Error(), tc.wantInText) {
				t.Errorf("Handle: %v, want the lock key masked (%s)", err, tc.wantInText)
			}
		})
	}
}

// failingRetry refuses every publish (a broker gone).
type failingRetry struct{}

func (*failingRetry) Publish(context.Context, string, string, *message.Message) error {
	return errors.New("broker gone")
}
