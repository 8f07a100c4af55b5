package handlers_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/internal/providertest"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/frisbii"
	"github.com/settlement-worker/settlement-worker/providers/paysafe"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/frisbii"
	paysafesb "github.com/settlement-worker/settlement-worker/sandbox/paysafe"
	"github.com/settlement-worker/settlement-worker/store"
)

// pubs keeps what a replica published.
type pubs struct {
	mu   sync.Mutex
	msgs []*message.Message
}

func (p *pubs) Publish(_ context.Context, _, _ string, msg *message.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, msg)
	return nil
}

// take returns what was published since the last take.
func (p *pubs) take() []*message.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.msgs
	p.msgs = nil
	return out
}

// verdicts are the S/R of the status events among ms.
func verdicts(t *testing.T, ms []*message.Message) []string {
	t.Helper()
	var out []string
	for _, m := range ms {
		if m.Metadata.Get(handlers.HeaderSettlementStatus) == "" {
			continue
		}
		st, err := messages.DecodeSettlementStatus(m.Payload)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, st.SettlementStatus+" "+st.DeclineReason)
	}
	return out
}

// retryCopy is the retry (or poll) copy among ms.
func retryCopy(t *testing.T, ms []*message.Message) *message.Message {
	t.Helper()
	for _, m := range ms {
		if m.Metadata.Get(handlers.HeaderAttempt) != "" {
			return m
		}
	}
	t.Fatalf("no retry copy among %d published", len(ms))
	return nil
}

// Two replicas on one PostgreSQL store, Frisbii. Replica A records its
// settle call (call 1) and sends it; Frisbii answers error 8 "Not found"
// without acting (as it may before its read model holds a charge):
// permanent, so A would end the request R. But A pauses right after the
// answer (a GC pause, SIGSTOP) and its order lock is lost with its store
// session. Replica B gets the delivery back, waits out the settle window
// and reconciles: Frisbii's reconciliation repeats the settle under the
// same key, which this time captures, but commits after B's client gave
// up (a late commit): B schedules its retry, the settlement still
// submitting. A then wakes and records call 1's answer. Before, that move
// compared the state only (submitting): A published R while Frisbii's
// ledger held the capture B's call made. The move out of submitting now
// compares the call it answers (the attempt count and the last call's
// record): A's loses, records nothing, and B's retry ends the request S.
func TestStaleCallAnswerAfterAnotherReplicaCalledIsNotRecorded(t *testing.T) {
	ctx := context.Background()
	sb, err := sandbox.NewSandbox(sandbox.Config{Prefix: "/frisbii", APIKey: "priv_stale_call_key_0123", RandSeed: 1})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sb.Handler())
	t.Cleanup(hs.Close)
	t.Cleanup(func() { _ = sb.Close() }) // first: releases held calls
	const handle = "order-stale-1"
	if _, err := sb.SeedCharge(sandbox.ChargeSeed{Handle: handle, Amount: 10000, Currency: "USD"}); err != nil {
		t.Fatal(err)
	}
	client, err := frisbii.New(frisbii.Config{BaseURL: hs.URL + "/frisbii", APIKey: "priv_stale_call_key_0123",
		Timeout: time.Second, RefundRecheck: 5 * time.Second, SettleWindow: time.Nanosecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	settled := func() int64 { ci, _ := sb.ChargeInfo(handle); return ci.SettledAmount }
	b, bPub, bRetry := staleCallRun(t, client, stalecallMessage(t, "req-stale-1", handle, nil),
		func() error { return sb.SetFaults(sandbox.EndpointSettle, sandbox.Faults{ErrorNext: 1, ErrorCode: 8}) },
		func() error { return sb.SetFaults(sandbox.EndpointSettle, sandbox.Faults{LateNext: 1, LateMS: 2500}) },
		func() (bool, string) { return settled() == 1000, fmt.Sprintf("%d settled", settled()) })

	// B's retry: the repeat under the same key replays the capture.
	if err := b.Handle(bRetry); err != nil {
		t.Fatalf("replica B, retry: %v", err)
	}
	if v := verdicts(t, bPub.take()); len(v) != 1 || v[0][0] != 'S' {
		t.Fatalf("B's retry published %q, want one S", v)
	}
	if n := settled(); n != 1000 {
		t.Fatalf("Frisbii's ledger shows %d settled, want 1000", n)
	}
	s, err := b.Store.Get(ctx, store.Key{Provider: frisbii.Name, RequestID: "req-stale-1"})
	if err != nil || s.State != store.StateSettled || s.ParkedReason != "" {
		t.Fatalf("settlement %s (parked %q), %v; want settled", s.State, s.ParkedReason, err)
	}
}

// The same interleaving with Paysafe, whose takeover resubmits under the
// same merchantRefNum (a recorded call): A's first call is refused with
// 3205 (authorization expired, permanent) without Paysafe acting; B finds
// nothing for the merchantRefNum, resubmits, and its settlement commits
// after B's client gave up. A's R over it is not recorded either; B's
// retry finds the settlement.
func TestStaleCallAnswerAfterAnotherReplicaResubmittedIsNotRecorded(t *testing.T) {
	ctx := context.Background()
	sb, err := paysafesb.NewSandbox(paysafesb.Config{Prefix: "/paysafe", Username: "stale-user", Password: "stale-password-0123", BatchInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sb.Handler())
	t.Cleanup(hs.Close)
	t.Cleanup(func() { _ = sb.Close() })
	auth, err := sb.Authorize(paysafesb.Authorization{AccountID: "89987201", Currency: "USD", Amount: 5000})
	if err != nil {
		t.Fatal(err)
	}
	client, err := paysafe.New(paysafe.Config{BaseURL: hs.URL + "/paysafe", Username: "stale-user", Password: "stale-password-0123",
		Accounts: map[string]string{"STORE1": "89987201"}, Timeout: time.Second, SettleWindow: time.Nanosecond, RecheckAfter: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	live := func() []paysafesb.Entry {
		var out []paysafesb.Entry
		for _, e := range sb.Ledger() {
			if e.Kind == "settlement" && e.Status != "FAILED" && e.Status != "CANCELLED" {
				out = append(out, e)
			}
		}
		return out
	}
	b, bPub, bRetry := staleCallRun(t, client, stalecallMessage(t, "req-stale-2", "ORD-stale-2", map[string]string{paysafe.HeaderAuthorizationID: auth.ID}),
		func() error {
			return sb.SetFaults(paysafesb.EndpointSettle, paysafesb.Faults{FailNext: 1, FailStatus: 400, FailCode: paysafe.CodeAuthExpired})
		},
		func() error {
			return sb.SetFaults(paysafesb.EndpointSettle, paysafesb.Faults{LateNext: 1, LateMS: 2500})
		},
		func() (bool, string) { l := live(); return len(l) == 1, fmt.Sprintf("%+v", l) })

	if err := b.Handle(bRetry); err != nil {
		t.Fatalf("replica B, retry: %v", err)
	}
	for _, v := range verdicts(t, bPub.take()) {
		if v[0] != 'S' {
			t.Fatalf("B's retry published %q with Paysafe's settlement live: %+v", v, live())
		}
	}
	if l := live(); len(l) != 1 {
		t.Fatalf("Paysafe's ledger shows %d live settlements, want 1: %+v", len(l), l)
	}
	s, err := b.Store.Get(ctx, store.Key{Provider: paysafe.Name, RequestID: "req-stale-2"})
	if err != nil || (s.State != store.StatePending && s.State != store.StateSettled) {
		t.Fatalf("settlement %s, %v; want pending or settled", s.State, err)
	}
}

// staleCallRun plays the interleaving on two replicas sharing one
// PostgreSQL store: replica A's first settle call is answered as
// callOne arranged, and A pauses right after the answer (CrashAfterSettleCall)
// while its order lock is lost; replica B takes the delivery over (the
// settle window is a nanosecond), its call arranged by late to commit after
// B's client gave up, and schedules its retry; once moved reports the
// money moved in the sandbox's ledger, A wakes and records its call's
// answer. A must publish no verdict. It returns B, what B published next
// and B's retry copy.
func staleCallRun(t *testing.T, client providers.Provider, msg *message.Message, callOne, late func() error, moved func() (bool, string)) (*handlers.Settlement, *pubs, *message.Message) {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	replica := func() (*handlers.Settlement, *pubs) {
		p := &pubs{}
		return providertest.Replica(t, dsn, client, p, 2*time.Second), p
	}
	a, aPub := replica()
	b, bPub := replica()

	paused, wake := make(chan struct{}), make(chan struct{})
	var once sync.Once
	a.Crash = func(point string) {
		if point == handlers.CrashAfterSettleCall {
			once.Do(func() { close(paused); <-wake })
		}
	}
	if err := callOne(); err != nil {
		t.Fatal(err)
	}
	aDone := make(chan error, 1)
	go func() { aDone <- a.Handle(msg.Copy()) }()
	select {
	case <-paused:
	case <-time.After(30 * time.Second):
		t.Fatal("replica A never made its call")
	}
	if n := providertest.TerminateOrderLocks(t, dsn); n != 1 {
		t.Fatalf("%d sessions holding order locks ended, want 1 (A's)", n)
	}

	if err := late(); err != nil {
		t.Fatal(err)
	}
	if err := b.Handle(msg.Copy()); err != nil {
		t.Fatalf("replica B: %v", err)
	}
	bRetry := retryCopy(t, bPub.take())
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, what := moved()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B's late call never committed: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}

	close(wake)
	select {
	case err := <-aDone:
		t.Logf("replica A after its pause: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("replica A never finished")
	}
	if v := verdicts(t, aPub.take()); len(v) != 0 {
		_, what := moved()
		t.Fatalf("replica A published %q for its stale call while the sandbox's ledger shows %s", v, what)
	}
	return b, bPub, bRetry
}

func stalecallMessage(t *testing.T, id, order string, headers map[string]string) *message.Message {
	t.Helper()
	body, err := messages.Encode(&messages.PaymentSettlementRequest{
		RequestID: id,
		PaymentContext: &messages.PaymentContext{
			OrderID:                order,
			PaymentAccountUniqueID: messages.AccountID{IsToken: "true", Value: "tok-stale-call-0001"},
		},
		InvoiceID:      "INV-" + order,
		Amount:         messages.Amount{CurrencyCode: "USD", Value: "10.00"},
		TaxAmount:      &messages.Amount{CurrencyCode: "USD", Value: "0.00"},
		SettlementType: messages.SettlementDebit,
		ClientContext:  "cc-" + id,
	})
	if err != nil {
		t.Fatal(err)
	}
	msg := message.NewMessage("m-"+id, body)
	msg.Metadata.Set(handlers.HeaderStoreID, "STORE1")
	msg.Metadata.Set(handlers.HeaderTenderType, "VC")
	for k, v := range headers {
		msg.Metadata.Set(k, v)
	}
	return msg
}
