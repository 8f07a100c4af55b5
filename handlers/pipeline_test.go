package handlers

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// scripted is a provider whose answers a test scripts: it records every
// call and moves "money" in a ledger of its own (one entry per settle that
// it committed), so that tests judge from the provider's side.
type scripted struct {
	name  string
	facts providers.Facts

	mu sync.Mutex
	// settleErrs are returned by the next Settle calls, in order; a nil
	// entry (or none left) settles. commitOnErr commits the settle even
	// when it answers an error (a lost answer, a late commit).
	settleErrs  []error
	commitOnErr bool
	settleDelay time.Duration
	panicSettle bool
	panicMsg    string // what a panicking Settle panics with
	accept      bool   // Settle answers Accepted (asynchronous verdict)
	acceptRef   string // the reference an Accepted answer carries
	confirmErrs []error
	// unavailable makes ConfirmFunds answer that the funds are not
	// available; onSettle, when set, runs at the start of each Settle.
	unavailable bool
	onSettle    func(req *providers.Request)
	// reconcileFound reports, for Reconcile, whether the ledger has the
	// request (it looks it up by requestId, as a reference lookup would).
	reconciles      int
	settles         int
	confirmAttempts []int
	ledger          map[string]int // requestId → captures committed
}

func newScripted(name string, f providers.Facts) *scripted {
	return &scripted{name: name, facts: f, ledger: map[string]int{}}
}

func (p *scripted) Name() string           { return p.name }
func (p *scripted) Facts() providers.Facts { return p.facts }

func (p *scripted) ConfirmFunds(_ context.Context, req *providers.Request) (providers.ConfirmResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.confirmAttempts = append(p.confirmAttempts, req.Attempt)
	if len(p.confirmErrs) > 0 {
		err := p.confirmErrs[0]
		p.confirmErrs = p.confirmErrs[1:]
		if err != nil {
			return providers.ConfirmResult{}, err
		}
	}
	if p.unavailable {
		return providers.ConfirmResult{Reason: "insufficient funds"}, nil
	}
	return providers.ConfirmResult{Available: true}, nil
}

func (p *scripted) Settle(_ context.Context, req *providers.Request) (providers.Outcome, error) {
	if p.onSettle != nil {
		p.onSettle(req)
	}
	if p.settleDelay > 0 {
		time.Sleep(p.settleDelay)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.panicSettle {
		if p.panicMsg != "" {
			panic(p.panicMsg)
		}
		panic("unexpected reply shape")
	}
	p.settles++
	var err error
	if len(p.settleErrs) > 0 {
		err = p.settleErrs[0]
		p.settleErrs = p.settleErrs[1:]
	}
	if err == nil || p.commitOnErr {
		if !p.facts.Idempotent || p.ledger[req.RequestID] == 0 {
			p.ledger[req.RequestID]++
		}
	}
	if err != nil {
		return providers.Outcome{}, err
	}
	if p.accept {
		return providers.Outcome{Kind: providers.Accepted, Ref: p.acceptRef}, nil
	}
	return providers.Outcome{Kind: providers.Settled, Ref: "cap-" + req.RequestID}, nil
}

func (p *scripted) Reconcile(_ context.Context, req *providers.Request) (providers.Outcome, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reconciles++
	if p.ledger[req.RequestID] > 0 {
		return providers.Outcome{Kind: providers.Settled, Ref: "cap-" + req.RequestID}, true, nil
	}
	return providers.Outcome{}, false, nil
}

func (p *scripted) counts() (settles, reconciles int, ledger map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := map[string]int{}
	for k, v := range p.ledger {
		l[k] = v
	}
	return p.settles, p.reconciles, l
}

// sentMsg is one message the pipeline published.
type sentMsg struct {
	key string
	msg *message.Message
}

// recPub records what the pipeline publishes (broker confirms assumed).
type recPub struct {
	mu   sync.Mutex
	msgs []sentMsg
	// failStatus makes publishing status events fail (a broker outage
	// right after the terminal commit).
	failStatus bool
}

func (p *recPub) Publish(_ context.Context, _, key string, msg *message.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failStatus && strings.HasPrefix(key, statusQ) {
		return errors.New("broker unreachable")
	}
	p.msgs = append(p.msgs, sentMsg{key, msg})
	return nil
}

func (p *recPub) take() []sentMsg {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.msgs
	p.msgs = nil
	return out
}

// only returns the single message published to a queue starting with
// prefix, failing otherwise.
func only(t *testing.T, ms []sentMsg, prefix string) *message.Message {
	t.Helper()
	var found []*message.Message
	for _, m := range ms {
		if strings.HasPrefix(m.key, prefix) {
			found = append(found, m.msg)
		}
	}
	if len(found) != 1 {
		keys := []string{}
		for _, m := range ms {
			keys = append(keys, m.key)
		}
		t.Fatalf("%d messages to %s*, want 1 (published to %v)", len(found), prefix, keys)
	}
	return found[0]
}

type rig struct {
	h   *Settlement
	p   *scripted
	pub *recPub
	st  store.Store
}

func newRig(t *testing.T, p *scripted) *rig {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite:"+t.TempDir()+"/s.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	pub := &recPub{}
	return &rig{p: p, pub: pub, st: st, h: &Settlement{
		Provider: p, Store: st, Pub: pub, Log: zerolog.Nop(), CallTimeout: time.Second,
		Retry: RetryPolicy{Delays: []time.Duration{time.Second, 5 * time.Second}, MaxAttempts: 3},
	}}
}

func (r *rig) deliver(t *testing.T, msg *message.Message) {
	t.Helper()
	if err := r.h.HandleSafely(msg); err != nil {
		t.Fatalf("Handle: %v", err)
	}
}

func (r *rig) get(t *testing.T, id string) store.Settlement {
	t.Helper()
	s, err := r.st.Get(context.Background(), store.Key{Provider: r.p.name, RequestID: id})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// requestMsg is a debit (or credit) request message with the usual headers.
func requestMsg(t *testing.T, id, typ string, headers map[string]string) *message.Message {
	t.Helper()
	req := testRequest()
	req.RequestID = id
	req.SettlementType = typ
	msg := message.NewMessage(id+"-"+time.Now().Format("150405.000000000"), encodeXML(t, req))
	msg.Metadata.Set(broker.MetaContentType, ContentTypeXML)
	msg.Metadata.Set(HeaderStoreID, "STORE1")
	msg.Metadata.Set(HeaderTenderType, "VC")
	for k, v := range headers {
		if v == "" {
			delete(msg.Metadata, k)
		} else {
			msg.Metadata.Set(k, v)
		}
	}
	return msg
}

// Hole 1: a delivery of a known requestId whose money-steering headers
// differ from the recorded ones is parked, naming the header, and never
// reaches the provider — whatever state the settlement is in.
func TestDuplicateWithDifferentMoneyHeaderIsParked(t *testing.T) {
	cases := []struct {
		name    string
		headers map[string]string
		header  string
	}{
		{"another store_id", map[string]string{HeaderStoreID: "STORE2"}, HeaderStoreID},
		{"store_id missing", map[string]string{HeaderStoreID: ""}, HeaderStoreID},
		{"another tender_type", map[string]string{HeaderTenderType: "MC"}, HeaderTenderType},
		{"another original_authorization_amount", map[string]string{HeaderOriginalAuthAmount: "150.00"}, HeaderOriginalAuthAmount},
		{"another provider money header", map[string]string{"payment_record": "9"}, "payment_record"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, newScripted("miva", providers.Facts{MoneyHeaders: []string{"payment_record"}}))
			r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, map[string]string{"payment_record": "7"}))
			only(t, r.pub.take(), statusQ)
			h := map[string]string{"payment_record": "7"}
			for k, v := range tc.headers {
				h[k] = v
			}
			r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, h))
			parked := only(t, r.pub.take(), broker.ParkedQueue("miva"))
			if reason := parked.Metadata.Get(HeaderParkedReason); !strings.Contains(reason, "header "+tc.header) {
				t.Errorf("parked_reason %q does not name header %s", reason, tc.header)
			}
			if settles, _, ledger := r.p.counts(); settles != 1 || ledger["req-1"] != 1 {
				t.Errorf("provider settled %d times, ledger %v: want exactly one capture", settles, ledger)
			}
			if s := r.get(t, "req-1"); s.State != store.StateSettled || s.ParkedReason != "" {
				t.Errorf("recorded settlement is %s (parked %q), want settled and untouched", s.State, s.ParkedReason)
			}
		})
	}
}

// Hole 1, concurrently: the same requestId and body delivered twice at
// once, the second with another store_id, settles once.
func TestConcurrentDuplicatesWithDifferentStoreSettleOnce(t *testing.T) {
	p := newScripted("miva", providers.Facts{})
	p.settleDelay = 100 * time.Millisecond
	r := newRig(t, p)
	var wg sync.WaitGroup
	for _, storeID := range []string{"STORE1", "STORE2"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.h.HandleSafely(requestMsg(t, "req-1", messages.SettlementDebit, map[string]string{HeaderStoreID: storeID})); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if settles, _, ledger := p.counts(); settles != 1 || ledger["req-1"] != 1 {
		t.Fatalf("provider settled %d times, ledger %v: want exactly one capture", settles, ledger)
	}
	ms := r.pub.take()
	only(t, ms, statusQ)
	only(t, ms, broker.ParkedQueue("miva"))
}

// Hole 1: a redelivery of a settlement past received is not validated
// again (here the rules changed since it was recorded: it has no
// InvoiceId, which is now required): it resumes.
func TestRedeliveryPastReceivedIsNotRevalidated(t *testing.T) {
	ctx := context.Background()
	p := newScripted("radial", providers.Facts{Idempotent: true})
	r := newRig(t, p)
	req := testRequest()
	req.InvoiceID = ""
	msg := requestMsgFor(t, req, nil)
	in := r.h.understand(msg, req, 1)
	if len(in.problems) == 0 {
		t.Fatal("the request is valid today; the test needs one the current rules refuse")
	}
	s, _, err := r.st.Register(ctx, r.h.newSettlement(msg, in))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.st.Transition(ctx, s.Key, []store.State{store.StateReceived}, store.StateSubmitting,
		store.Change{Note: "recorded by an older version", Refs: map[string]string{refCallNotSent: "true"}}, nil); err != nil {
		t.Fatal(err)
	}
	r.deliver(t, msg)
	checkStatusBody(t, only(t, r.pub.take(), statusQ).Payload)
	if s := r.get(t, req.RequestID); s.State != store.StateSettled {
		t.Fatalf("state %s, want settled (resumed, not refused)", s.State)
	}
	if settles, _, _ := p.counts(); settles != 1 {
		t.Errorf("provider settled %d times, want 1", settles)
	}
}

// Hole 7: attempts are counted in the store. A forged settlement_attempt
// header does not park a request at once, and a replay after parking uses
// new attempt numbers (Radial's ConfirmFunds requestId derives from them).
func TestAttemptsAreCountedInTheStore(t *testing.T) {
	busy := providers.TransientError("", "busy", nil)
	p := newScripted("radial", providers.Facts{Idempotent: true})
	p.confirmErrs = []error{busy, busy, busy, nil}
	r := newRig(t, p)
	msg := requestMsg(t, "req-1", messages.SettlementDebit, map[string]string{HeaderAttempt: "99"})
	sent := time.Now()
	r.deliver(t, msg)
	next := only(t, r.pub.take(), retryQ(r))
	// The retried copy says when its delay ends: the consumer lag of the
	// request queue counts from then.
	if at, ok := broker.ReadySince(next.Metadata); !ok || at.Before(sent) {
		t.Errorf("retried copy %s = %q, want a time after the delivery", broker.HeaderReadyAt, next.Metadata.Get(broker.HeaderReadyAt))
	}
	r.deliver(t, next)
	next = only(t, r.pub.take(), retryQ(r))
	r.deliver(t, next)
	parked := only(t, r.pub.take(), broker.ParkedQueue("radial"))
	if got := parked.Metadata.Get(HeaderParkedAttempts); got != "3" {
		t.Errorf("parked after %s attempts, want 3", got)
	}
	if s := r.get(t, "req-1"); s.ParkedReason == "" || s.Attempts != 3 {
		t.Errorf("settlement attempts %d parked %q, want 3 and a reason", s.Attempts, s.ParkedReason)
	}
	// The operator replays the original message (replay strips the
	// attempt headers and marks the copy, which keeps the parked copy's
	// parking): a new ConfirmFunds attempt number, and a settle.
	delete(msg.Metadata, HeaderAttempt)
	msg.Metadata.Set(broker.HeaderReplayed, time.Now().UTC().Format(time.RFC3339))
	msg.Metadata.Set(broker.HeaderParking, parked.Metadata.Get(broker.HeaderParking))
	r.deliver(t, msg)
	only(t, r.pub.take(), statusQ)
	p.mu.Lock()
	got := append([]int(nil), p.confirmAttempts...)
	p.mu.Unlock()
	want := []int{1, 2, 3, 4}
	if len(got) != len(want) {
		t.Fatalf("ConfirmFunds attempts %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ConfirmFunds attempts %v, want %v", got, want)
		}
	}
}

// Hole 2: an attempt whose outcome is unknown is reconciled only after the
// provider's settle window; a non-idempotent provider whose records still
// show nothing then is parked, never settled again; one whose late commit
// shows up is settled without a second capture.
func TestUncertainAttemptWaitsForTheSettleWindow(t *testing.T) {
	const window = 300 * time.Millisecond
	timeout := providers.TransientError("", "no answer within 1s", context.DeadlineExceeded)
	cases := []struct {
		name        string
		facts       providers.Facts
		commitLate  bool
		wantState   store.State
		wantSettles int
		wantParked  bool
		wantLedger  int
	}{
		{"not idempotent, provider committed late: reconciled onto it", providers.Facts{SettleWindow: window}, true, store.StateSettled, 1, false, 1},
		{"not idempotent, nothing committed: parked for a person", providers.Facts{SettleWindow: window}, false, store.StateSubmitting, 1, true, 0},
		{"idempotent, committed late: reconciled onto it", providers.Facts{SettleWindow: window, Idempotent: true}, true, store.StateSettled, 1, false, 1},
		{"idempotent, nothing committed: submitted again with the same key", providers.Facts{SettleWindow: window, Idempotent: true}, false, store.StateSettled, 2, false, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newScripted("prov", tc.facts)
			p.settleErrs = []error{timeout}
			p.commitOnErr = tc.commitLate
			r := newRig(t, p)
			r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
			retry := only(t, r.pub.take(), retryQ(r))

			// Redelivered at once (a short retry delay, a crash and
			// redelivery): nothing is called, a re-check is scheduled.
			r.deliver(t, retry)
			recheck := only(t, r.pub.take(), retryQ(r))
			if recheck.Metadata.Get(HeaderPoll) != "true" {
				t.Errorf("re-check is not a poll (counts as an attempt)")
			}
			if settles, reconciles, _ := p.counts(); settles != 1 || reconciles != 0 {
				t.Fatalf("inside the window: %d settles, %d reconciles, want 1 and 0", settles, reconciles)
			}
			time.Sleep(window)
			r.deliver(t, recheck)
			ms := r.pub.take()
			settles, _, ledger := p.counts()
			if settles != tc.wantSettles || ledger["req-1"] != tc.wantLedger {
				t.Errorf("%d settle calls, ledger %v: want %d calls and %d capture(s)", settles, ledger, tc.wantSettles, tc.wantLedger)
			}
			s := r.get(t, "req-1")
			if s.State != tc.wantState {
				t.Errorf("state %s, want %s", s.State, tc.wantState)
			}
			if tc.wantParked {
				parked := only(t, ms, broker.ParkedQueue("prov"))
				if reason := parked.Metadata.Get(HeaderParkedReason); !strings.Contains(reason, "settle window") || s.ParkedReason != reason {
					t.Errorf("parked_reason %q (stored %q): want the settle window named, and recorded", reason, s.ParkedReason)
				}
			} else {
				only(t, ms, statusQ)
			}
		})
	}
}

// A failure that says the call was not sent is retried without waiting for
// the settle window by a provider with an idempotency key: the call is sent
// again at once. One without is read first (Reconcile), since that answer
// alone stands between the retry and a second capture, and that read waits
// for the settle window: a proxy may answer 503 while the call goes on to
// the provider, which commits it late.
func TestNotSentFailureIsRetriedAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name       string
		idempotent bool
		window     time.Duration
		reconciles int
	}{
		{"idempotent: sent again", true, time.Hour, 0},
		{"no idempotency key: reconciled after the window, then sent again", false, 300 * time.Millisecond, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newScripted("prov", providers.Facts{SettleWindow: tc.window, Idempotent: tc.idempotent})
			p.settleErrs = []error{providers.NotSentError("503", "busy", nil)}
			r := newRig(t, p)
			r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
			next := only(t, r.pub.take(), retryQ(r))
			if !tc.idempotent {
				r.deliver(t, next)
				next = only(t, r.pub.take(), retryQ(r))
				if settles, reconciles, _ := p.counts(); settles != 1 || reconciles != 0 {
					t.Fatalf("within the settle window: %d settles, %d reconciles; want 1 and 0", settles, reconciles)
				}
				time.Sleep(tc.window)
			}
			r.deliver(t, next)
			only(t, r.pub.take(), statusQ)
			if settles, reconciles, ledger := p.counts(); settles != 2 || reconciles != tc.reconciles || ledger["req-1"] != 1 {
				t.Fatalf("%d settles, %d reconciles, ledger %v; want 2, %d and one capture", settles, reconciles, ledger, tc.reconciles)
			}
		})
	}
}

// An Unresolved provider error parks at once with its reason.
func TestUnresolvedErrorParksAtOnce(t *testing.T) {
	p := newScripted("prov", providers.Facts{})
	p.settleErrs = []error{providers.UnresolvedError("", "order 7 is ambiguous", nil)}
	r := newRig(t, p)
	r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
	parked := only(t, r.pub.take(), broker.ParkedQueue("prov"))
	if !strings.Contains(parked.Metadata.Get(HeaderParkedReason), "order 7 is ambiguous") {
		t.Errorf("parked_reason %q", parked.Metadata.Get(HeaderParkedReason))
	}
	if s := r.get(t, "req-1"); s.ParkedReason == "" {
		t.Error("parked reason not recorded on the settlement")
	}
}

// Hole 8: a handler panic parks the message once, with a reason, and
// records it on the settlement; it is not returned as an error (which
// would requeue it at once, in a loop).
func TestPanicParksTheMessage(t *testing.T) {
	p := newScripted("prov", providers.Facts{})
	p.panicSettle = true
	r := newRig(t, p)
	if err := r.h.HandleSafely(requestMsg(t, "req-1", messages.SettlementDebit, nil)); err != nil {
		t.Fatalf("HandleSafely returned %v: the message would be requeued", err)
	}
	parked := only(t, r.pub.take(), broker.ParkedQueue("prov"))
	if reason := parked.Metadata.Get(HeaderParkedReason); !strings.Contains(reason, "panic") {
		t.Errorf("parked_reason %q does not say the worker panicked", reason)
	}
	if s := r.get(t, "req-1"); !strings.Contains(s.ParkedReason, "panic") {
		t.Errorf("settlement parked reason %q", s.ParkedReason)
	}
}

// statusQ is the routing key prefix of status events.
const statusQ = "settlement.status."

// retryQ is the prefix of the rig provider's retry queues.
func retryQ(r *rig) string { return broker.RequestQueue(r.p.name) + ".retry." }

// Hole 3: a settlement of the order that settled without naming its
// provider record makes a later reconciliation of the same amount
// ambiguous for a provider without idempotency: parked, never S.
func TestReconcileOnOrderWithUnnamedSettlementParks(t *testing.T) {
	p := newScripted("prov", providers.Facts{SettleWindow: time.Nanosecond})
	r := newRig(t, p)
	// B settles without a provider_ref (its record could not be named).
	if _, _, err := r.st.Register(context.Background(), store.Settlement{Key: store.Key{Provider: "prov", RequestID: "req-b"},
		OrderID: "ORD-1", StoreID: "STORE1", SettlementType: messages.SettlementDebit, Amount: "100.00", Currency: "USD"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.st.Transition(context.Background(), store.Key{Provider: "prov", RequestID: "req-b"}, nil, store.StateSettled, store.Change{}, nil); err != nil {
		t.Fatal(err)
	}
	p.settleErrs = []error{providers.TransientError("", "no answer", context.DeadlineExceeded)}
	p.commitOnErr = true
	r.deliver(t, requestMsg(t, "req-a", messages.SettlementDebit, nil))
	r.deliver(t, only(t, r.pub.take(), retryQ(r)))
	parked := only(t, r.pub.take(), broker.ParkedQueue("prov"))
	if reason := parked.Metadata.Get(HeaderParkedReason); !strings.Contains(reason, "ambiguous") || !strings.Contains(reason, "req-b") {
		t.Errorf("parked_reason %q", reason)
	}
}

// lostLock is a store whose order locks are lost (a PostgreSQL session
// that ended while the worker held its advisory lock).
type lostLock struct{ store.Store }

func (lostLock) CheckLock(context.Context, string, string, string) error { return store.ErrLockLost }

// Hole 12: with the order lock lost, the provider is not called; the
// request is retried.
func TestLostLockPreventsTheProviderCall(t *testing.T) {
	p := newScripted("prov", providers.Facts{})
	r := newRig(t, p)
	r.h.Store = lostLock{r.st}
	r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
	only(t, r.pub.take(), retryQ(r))
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.settles != 0 || len(p.confirmAttempts) != 0 {
		t.Fatalf("provider called %d settle / %d confirm times without the lock", p.settles, len(p.confirmAttempts))
	}
}

// A delivery whose order another delivery holds waits at most LockWait,
// then goes back through the shortest retry queue, headers unchanged (no
// attempt counted, nothing recorded, no provider call), and frees its
// consumer; once the order is free, the deferred copy settles as usual.
func TestBusyOrderIsDeferredNotWaitedFor(t *testing.T) {
	p := newScripted("prov", providers.Facts{})
	r := newRig(t, p)
	r.h.LockWait = 50 * time.Millisecond
	r.h.Metrics = NewMetrics(prometheus.NewRegistry())
	unlock, err := r.st.LockOrder(context.Background(), "prov", "STORE1", testRequest().OrderID())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, map[string]string{HeaderAttempt: "2"}))
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the delivery held its consumer %v while the order was busy", took)
	}
	// Published to the shortest retry queue (1s), not the 5s one.
	deferred := only(t, r.pub.take(), retryQ(r)+"1s")
	if got := deferred.Metadata.Get(HeaderAttempt); got != "2" {
		t.Errorf("deferred copy %s = %q, want the unchanged 2", HeaderAttempt, got)
	}
	if _, ok := broker.ReadySince(deferred.Metadata); !ok || deferred.Metadata.Get(broker.HeaderReadyAt) == "" {
		t.Errorf("deferred copy has no %s", broker.HeaderReadyAt)
	}
	if _, err := r.st.Get(context.Background(), store.Key{Provider: "prov", RequestID: "req-1"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deferred request recorded: %v", err)
	}
	if len(p.confirmAttempts) != 0 {
		t.Errorf("provider called while the order was busy: %v", p.confirmAttempts)
	}
	unlock()
	r.deliver(t, deferred)
	only(t, r.pub.take(), statusQ)
	if s := r.get(t, "req-1"); s.State != store.StateSettled || s.Attempts != 1 {
		t.Errorf("after the order was free: %s with %d attempts, want settled with 1", s.State, s.Attempts)
	}
}
