package paysafe_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/paysafe"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/paysafe"
)

// TestRefundAwaitingTheBatchAskedAgainAfterATimeoutNeverRefundsTwice: a
// credit whose settlement is not batched yet is refused 3404 and polled;
// once the settlement is batched, the refund is asked for again. That
// call timed out while Paysafe went on to commit it late (2.2s, the
// client's timeout 1.5s); the poll had made it itself, with nothing
// recorded, and the retry's poll, a second later, looked the
// merchantRefNum up (nothing yet) and asked for the refund again at once,
// with no settle window: with Paysafe checking the merchantRefNum when a
// call arrives (sandbox.Config.DupCheckAtArrival), both refunds
// committed, two refunds of 20.00 in the sandbox's ledger. The poll now
// answers Resubmit and the pipeline records the call before it makes it,
// as a first call: the retry waits out the settle window (3s, longer than
// Paysafe takes to commit), looks the merchantRefNum up and finds the
// late refund: one refund, S. (Between the two fixes an uncertain answer
// to the poll's own call was parked for a person.)
func TestRefundAwaitingTheBatchAskedAgainAfterATimeoutNeverRefundsTwice(t *testing.T) {
	e, p, _, seedRef := awaitingRefund(t, "await-seed", 3*time.Second) // longer than Paysafe takes to commit (2.2s)
	const id = "await-credit"
	next := askedAgainLate(t, e, p, id, seedRef)
	st, parked := untilStatusOrPark(t, e, p, next, 20*time.Second)
	oneLateRefund(t, e, id, st, parked)
}

// awaitingRefund is the rig of a refund awaiting the batch and asked
// again while Paysafe commits the call late: a sandbox that checks the
// merchantRefNum when a call arrives (sandbox.Config.DupCheckAtArrival),
// an authorization of 50.00 and its settlement, seed (pending: not
// batched), whose id it returns, and a pipeline whose client has the
// settle window window (also returned).
func awaitingRefund(t *testing.T, seed string, window time.Duration) (e *env, p *pipeline, c *paysafe.Client, seedRef string) {
	t.Helper()
	e = newEnv(t, sandbox.Config{DupCheckAtArrival: true})
	authID := e.authorize(t, sandbox.Authorization{Amount: 5000})
	seedRef = expect(t, providers.Pending)(e.client.Settle(ctx(t), debit(seed, authID, "50.00", "USD"))).Ref
	cfg := clientConfig(e.srv.URL+"/paysafe", user, pass)
	cfg.SettleWindow = window
	c, err := paysafe.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	pe := *e
	pe.client = c
	return e, newPipeline(t, &pe), c, seedRef
}

// askedAgainLate delivers credit id of 20.00 against seedRef: refused
// 3404 before the batch, it must be polled; it returns the poll copy,
// with the batch run since and the next refund call set to commit late
// (700ms past the client's timeout).
func askedAgainLate(t *testing.T, e *env, p *pipeline, id, seedRef string) *message.Message {
	t.Helper()
	next, st := p.deliver(t, requestMessage(t, id, messages.SettlementCredit, "20.00", map[string]string{"settlement_id": seedRef}))
	if st != nil || next == nil || next.Metadata.Get(handlers.HeaderPoll) != "true" {
		t.Fatalf("credit before the batch: next=%v status=%+v, want a poll copy (3404: awaiting the batch)", next, st)
	}
	e.sb.RunBatch()
	if err := e.sb.SetFaults(sandbox.EndpointRefund, sandbox.Faults{LateNext: 1, LateMS: int(timeout/time.Millisecond) + 700}); err != nil {
		t.Fatal(err)
	}
	return next
}

// untilStatusOrPark handles next, then each retry or poll copy it
// publishes (running the batch before a poll), until a status is
// published or the request parked, within within; it returns the status
// and the parked reason.
func untilStatusOrPark(t *testing.T, e *env, p *pipeline, next *message.Message, within time.Duration) (st *messages.PaymentSettlementStatus, parked string) {
	t.Helper()
	for deadline := time.Now().Add(within); next != nil && st == nil && parked == ""; {
		if time.Now().After(deadline) {
			t.Fatalf("no status nor park within %s", within)
		}
		if err := p.h.Handle(next); err != nil {
			t.Fatalf("Handle: %v", err)
		}
		next = nil
		for _, m := range p.pub.take() {
			switch {
			case m.exchange == broker.StatusExchange:
				s, err := messages.DecodeSettlementStatus(m.msg.Payload)
				if err != nil {
					t.Fatal(err)
				}
				st = s
			case strings.Contains(m.key, ".retry."):
				next = m.msg
			default:
				parked = m.msg.Metadata.Get(handlers.HeaderParkedReason)
			}
		}
		if next != nil && next.Metadata.Get(handlers.HeaderPoll) == "true" {
			e.sb.RunBatch()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return st, parked
}

// oneLateRefund waits for the late commit to land, and any call still on
// its way, then checks that the sandbox holds exactly one refund of 20.00
// with merchantRefNum id and that st is S, nothing parked.
func oneLateRefund(t *testing.T, e *env, id string, st *messages.PaymentSettlementStatus, parked string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); e.sb.Calls().Refund.Late > 0 && len(e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: sandbox.KindRefund, MerchantRefNum: id})) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the late refund never committed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(timeout)
	refunds := e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: sandbox.KindRefund, MerchantRefNum: id})
	if len(refunds) != 1 || refunds[0].Amount != 2000 {
		t.Fatalf("the sandbox holds %d refunds with merchantRefNum %s (status %+v, parked %q): %+v; want exactly one of 20.00", len(refunds), id, st, parked, refunds)
	}
	if st == nil || st.SettlementStatus != messages.StatusSettled || parked != "" {
		t.Fatalf("status %+v, parked %q: want S", st, parked)
	}
}

// crashingClient is the Paysafe client as the pipeline sees it, in a
// worker killed (SIGKILL) right after a provider call came back with an
// error, before anything of its answer is recorded: the first Settle or
// Poll that returns an error panics (crashed), once.
type crashingClient struct {
	*paysafe.Client
	crashed bool
}

// crashed is the panic of a crashingClient.
type crashed struct{}

func (c *crashingClient) Settle(ctx context.Context, req *providers.Request) (providers.Outcome, error) {
	out, err := c.Client.Settle(ctx, req)
	c.crash(err)
	return out, err
}

func (c *crashingClient) Poll(ctx context.Context, req *providers.Request) (providers.Outcome, error) {
	out, err := c.Client.Poll(ctx, req)
	c.crash(err)
	return out, err
}

func (c *crashingClient) crash(err error) {
	if err != nil && !c.crashed {
		c.crashed = true
		panic(crashed{})
	}
}

// TestRefundAskedAgainByAPollThenACrashNeverRefundsTwice: a credit whose
// settlement is not batched yet is refused 3404 and polled; once the
// settlement is batched, the poll finds no refund by merchantRefNum and
// the refund is asked for again. That call times out (1.5s) while Paysafe
// goes on to commit it late (2.2s), and the worker is killed before it
// records anything of the answer. The broker redelivers the poll's copy:
// the redelivery polled again at once, looked the merchantRefNum up
// (nothing yet) and asked a third time, nothing of the second call having
// been recorded before it was made; with Paysafe checking the
// merchantRefNum when a call arrives (sandbox.Config.DupCheckAtArrival),
// both commit: two refunds of 20.00 in the sandbox's ledger. The poll now
// answers Resubmit and the pipeline records the call (call_sent_at, in
// submitting) before it sends it: the redelivery finds the call recorded,
// waits out the settle window (4s, longer than Paysafe takes to commit),
// looks the merchantRefNum up and finds the late refund: one refund, S.
func TestRefundAskedAgainByAPollThenACrashNeverRefundsTwice(t *testing.T) {
	e, p, c, seedRef := awaitingRefund(t, "crash-seed", 4*time.Second) // longer than Paysafe takes to commit (2.2s)
	cc := &crashingClient{Client: c}
	p.h.Provider = cc
	const id = "crash-credit"
	next := askedAgainLate(t, e, p, id, seedRef)
	// The poll: the refund is asked for again, times out, the worker dies.
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(crashed); !ok {
					panic(r)
				}
			}
		}()
		_ = p.h.Handle(next)
		t.Fatalf("the poll after the batch did not fail (refund calls %+v): the crash was not reached", e.sb.Calls().Refund)
	}()
	p.pub.take() // nothing was acked: the broker delivers the poll copy again
	next = next.Copy()
	next.Metadata.Set(broker.MetaRedelivered, "true")

	st, parked := untilStatusOrPark(t, e, p, next, 30*time.Second)
	oneLateRefund(t, e, id, st, parked)
}

// TestRefundAwaitingTheBatchIsStillBoundByThePendingDeadline: a refund
// refused 3404 and polled is asked for again by each poll once its
// settlement reads batched (Resubmit: the pipeline records the call, back
// in submitting, then Settle); Paysafe answers 3404 again (injected: its
// refund and its settlement read disagree for a while), and the refund is
// pending again. Each return to pending keeps the first pending_since, so
// the refund is parked at PENDING_DEADLINE, never pending for ever; and
// each answer starts the retry budget over, so the many re-asks (far more
// than MaxAttempts) do not park it before.
func TestRefundAwaitingTheBatchIsStillBoundByThePendingDeadline(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	authID := e.authorize(t, sandbox.Authorization{Amount: 5000})
	seed := expect(t, providers.Pending)(e.client.Settle(ctx(t), debit("deadline-seed", authID, "50.00", "USD")))
	p := newPipeline(t, e)
	const deadline = 3 * time.Second
	p.h.PendingDeadline = deadline
	const id = "deadline-credit"

	start := time.Now()
	next, st := p.deliver(t, requestMessage(t, id, messages.SettlementCredit, "20.00", map[string]string{"settlement_id": seed.Ref}))
	if st != nil || next == nil || next.Metadata.Get(handlers.HeaderPoll) != "true" {
		t.Fatalf("credit before the batch: next=%v status=%+v, want a poll copy (3404: awaiting the batch)", next, st)
	}
	e.sb.RunBatch()
	if err := e.sb.SetFaults(sandbox.EndpointRefund, sandbox.Faults{FailNext: 1000, FailStatus: 400, FailCode: paysafe.CodeRefundNotBatched}); err != nil {
		t.Fatal(err)
	}
	polls, parked := 0, ""
	for next != nil && parked == "" {
		if time.Since(start) > 4*deadline {
			t.Fatalf("still not parked %s after it was first pending (deadline %s), after %d polls", time.Since(start).Round(time.Second), deadline, polls)
		}
		time.Sleep(100 * time.Millisecond)
		if err := p.h.Handle(next); err != nil {
			t.Fatalf("Handle: %v", err)
		}
		polls++
		next = nil
		for _, m := range p.pub.take() {
			switch {
			case m.exchange == broker.StatusExchange:
				t.Fatalf("a status for a refund Paysafe never made: %s", m.msg.Payload)
			case strings.Contains(m.key, ".retry."):
				next = m.msg
			default:
				parked = m.msg.Metadata.Get(handlers.HeaderParkedReason)
			}
		}
	}
	if !strings.Contains(parked, "deadline "+deadline.String()) {
		t.Fatalf("parked %q after %d polls, want the pending deadline", parked, polls)
	}
	if polls <= p.h.Retry.MaxAttempts {
		t.Fatalf("only %d polls before the deadline: the retry budget (%d) was not put to the test", polls, p.h.Retry.MaxAttempts)
	}
	if c := e.sb.Calls().Refund.Total; c < polls || len(e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: sandbox.KindRefund})) != 0 {
		t.Fatalf("refund calls %+v after %d polls, refunds %+v: want one call a poll, no refund", e.sb.Calls().Refund, polls, e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: sandbox.KindRefund}))
	}
}

// TestRefundAwaitingTheBatchIsNotAskedAgainBeforeTheBatch: a poll of a
// refund refused 3404 asked for it again (Resubmit: a call recorded, back
// in submitting, then Settle) every RecheckAfter (30s) until Paysafe's
// daily batch, each answered 3404 again: a refund call and two store
// writes per poll for up to a day. The poll now reads the refunded
// settlement first and, while it is before its batch (RECEIVED, PENDING,
// PROCESSING), answers pending without a call; after the batch the
// refund is asked for once, and settles: one refund, S.
func TestRefundAwaitingTheBatchIsNotAskedAgainBeforeTheBatch(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	authID := e.authorize(t, sandbox.Authorization{Amount: 5000})
	seed := expect(t, providers.Pending)(e.client.Settle(ctx(t), debit("before-seed", authID, "50.00", "USD")))
	p := newPipeline(t, e)
	const id = "before-credit"

	next, st := p.deliver(t, requestMessage(t, id, messages.SettlementCredit, "20.00", map[string]string{"settlement_id": seed.Ref}))
	if st != nil || next == nil || next.Metadata.Get(handlers.HeaderPoll) != "true" {
		t.Fatalf("credit before the batch: next=%v status=%+v, want a poll copy (3404: awaiting the batch)", next, st)
	}
	for i := range 3 {
		if next, st = p.deliver(t, next); st != nil || next == nil || next.Metadata.Get(handlers.HeaderPoll) != "true" {
			t.Fatalf("poll %d before the batch: next=%v status=%+v, want a poll copy", i+1, next, st)
		}
	}
	if c := e.sb.Calls().Refund; c.Total != 1 {
		t.Fatalf("refund calls %+v after 3 polls before the batch: want only the first (the polls asked again before the batch)", c)
	}
	e.sb.RunBatch()
	for i := 0; st == nil && next != nil; i++ {
		if i > 5 {
			t.Fatal("no status after 5 polls after the batch")
		}
		next, st = p.deliver(t, next)
		e.sb.RunBatch()
	}
	refunds := e.sb.LedgerFiltered(sandbox.LedgerFilter{Kind: sandbox.KindRefund, MerchantRefNum: id})
	if st == nil || st.SettlementStatus != messages.StatusSettled || len(refunds) != 1 || refunds[0].Amount != 2000 || e.sb.Calls().Refund.Total != 2 {
		t.Fatalf("status %+v, refunds %+v, refund calls %+v: want S, one refund of 20.00, two refund calls", st, refunds, e.sb.Calls().Refund)
	}
}
