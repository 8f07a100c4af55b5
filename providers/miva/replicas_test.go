package miva_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"

	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/internal/providertest"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers/miva"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

// gate holds the next sandbox call of one function: arm, then wait for
// held (the call arrived) and release it. answered holds the call after the
// sandbox answered it (a reply still on the wire: what it says is the
// sandbox's state before the hold); otherwise the call is held before the
// sandbox sees it.
type gate struct {
	function string
	answered bool
	armed    bool
	held     chan struct{}
	release  chan struct{}
}

// gatedSandbox is a Miva sandbox on loopback whose calls a test can hold.
type gatedSandbox struct {
	sb  *sandbox.Sandbox
	url string

	mu    sync.Mutex
	gates []*gate
}

func newGatedSandbox(t *testing.T, seeds ...sandbox.OrderSeed) *gatedSandbox {
	t.Helper()
	sb, err := sandbox.NewSandbox(sandbox.Config{Prefix: "/miva", APIToken: token})
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedSandbox{sb: sb}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		gt := g.take(string(b))
		if gt == nil {
			sb.Handler().ServeHTTP(w, r)
			return
		}
		if !gt.answered {
			close(gt.held)
			<-gt.release
			sb.Handler().ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		sb.Handler().ServeHTTP(rec, r)
		close(gt.held)
		<-gt.release
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = sb.Close() })
	g.url = sb.URL(srv.URL)
	for _, s := range seeds {
		if _, err := sb.SeedOrder(s); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

// arm holds the next call of function.
func (g *gatedSandbox) arm(function string, answered bool) *gate {
	g.mu.Lock()
	defer g.mu.Unlock()
	gt := &gate{function: function, answered: answered, armed: true, held: make(chan struct{}), release: make(chan struct{})}
	g.gates = append(g.gates, gt)
	return gt
}

// take returns the armed gate a call with body b meets (disarming it).
func (g *gatedSandbox) take(b string) *gate {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, gt := range g.gates {
		if gt.armed && strings.Contains(b, `"Function":"`+gt.function+`"`) {
			gt.armed = false
			return gt
		}
	}
	return nil
}

// waitHeld waits until gt holds a call.
func waitHeld(t *testing.T, gt *gate, what string) {
	t.Helper()
	select {
	case <-gt.held:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s never reached the sandbox", what)
	}
}

// replicaRig is the rig of the tests of replicas on one PostgreSQL
// database: a gated Miva sandbox, the database (dsn) and the replicas'
// client, its settle window a nanosecond (a retry reconciles at once).
type replicaRig struct {
	g      *gatedSandbox
	dsn    string
	client *miva.Client
}

// newReplicaRig starts a gated sandbox holding seed and a client of it
// that gives up on a call after timeout.
func newReplicaRig(t *testing.T, seed sandbox.OrderSeed, timeout time.Duration) *replicaRig {
	t.Helper()
	g := newGatedSandbox(t, seed)
	client, err := miva.New(miva.Config{BaseURL: g.url, StoreCode: storeCode, APIToken: token,
		Timeout: timeout, SettleWindow: time.Nanosecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &replicaRig{g: g, dsn: testenv.PostgresDSN(t), client: client}
}

// replica is one more replica on the rig's database
// (providertest.Replica), with its publisher.
func (r *replicaRig) replica(t *testing.T, callTimeout time.Duration) (*handlers.Settlement, *fakePub) {
	t.Helper()
	pub := &fakePub{}
	return providertest.Replica(t, r.dsn, r.client, pub, callTimeout), pub
}

// firstCaptureNotSent has replica a handle a debit id of 1.00 for order
// whose capture Miva refuses before it acts (not sent), and returns the
// request and a's retry copy.
func (r *replicaRig) firstCaptureNotSent(t *testing.T, a *handlers.Settlement, aPub *fakePub, id, order string) (msg, retry *message.Message) {
	t.Helper()
	if err := r.g.sb.SetFaults(sandbox.EndpointCapture, refusedBeforeActing); err != nil {
		t.Fatal(err)
	}
	msg = settlementMessage(t, id, order, messages.SettlementDebit, "1.00")
	if err := a.Handle(msg); err != nil {
		t.Fatalf("first delivery: %v", err)
	}
	return msg, retryOf(t, aPub.take())
}

// lockLostWhileReading has replica a handle retry until its payment list
// read (what) is held at the sandbox (answered: after the sandbox
// answered it, the reply on the wire), then the server ends the session
// holding a's order lock. It returns the held read and a's outcome to
// come.
func (r *replicaRig) lockLostWhileReading(t *testing.T, a *handlers.Settlement, retry *message.Message, answered bool, what string) (*gate, <-chan error) {
	t.Helper()
	list := r.g.arm(sandbox.FunctionPaymentList, answered)
	aDone := make(chan error, 1)
	go func() { aDone <- a.Handle(retry) }()
	waitHeld(t, list, what)
	if ended := providertest.TerminateOrderLocks(t, r.dsn); ended != 1 {
		t.Fatalf("%d sessions holding order locks ended, want 1 (A's)", ended)
	}
	return list, aDone
}

// Two replicas on one PostgreSQL database, one Miva capture whose first
// call got a 503 (not sent: the retry reads the payment list, then
// captures). Replica A runs the retry: it checks its order lock, reads
// the payment list (nothing yet) — and while that reply is on the wire,
// the server ends A's lock session (pg_terminate_backend, a failover).
// Replica B, given a duplicate of the request, takes the now free lock,
// reads the list (nothing), records its call and captures. A's reply
// arrives: the settlement is still "submitting" (B's capture is in
// flight), so A's move to submitting succeeds, compared on the state
// only, and A captures too. Miva has no idempotency key: the customer is
// charged twice. The sandbox's ledger must show one capture.
func TestReplicasLosingTheOrderLockNeverCaptureTwice(t *testing.T) {
	rig := newReplicaRig(t, sandbox.OrderSeed{OrderID: 4100, Records: []sandbox.RecordSeed{
		{ID: 41, Type: sandbox.TypeAuth, Amount: "10.00"},
	}}, 10*time.Second)
	g := rig.g
	a, aPub := rig.replica(t, 10*time.Second)
	b, _ := rig.replica(t, 10*time.Second)

	// The first capture is refused by Miva before it acts: not sent.
	msg, retry := rig.firstCaptureNotSent(t, a, aPub, "req-replicas", "4100")
	if n := len(captures(&env{sb: g.sb})); n != 0 {
		t.Fatalf("%d captures after a 503", n)
	}

	// The server ends the session holding A's order lock while its list
	// read is on the wire.
	list, aDone := rig.lockLostWhileReading(t, a, retry, true, "replica A's payment list read")

	// B runs a duplicate up to its capture, held on its way to Miva.
	capture := g.arm(sandbox.FunctionCapture, false)
	bDone := make(chan error, 1)
	go func() { bDone <- b.Handle(copyOf(msg)) }()
	select {
	case <-capture.held:
	case err := <-bDone:
		t.Logf("replica B finished without capturing: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("replica B never reached Miva")
	}

	// A's stale reply arrives.
	close(list.release)
	select {
	case err := <-aDone:
		t.Logf("replica A: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("replica A never finished")
	}
	close(capture.release)
	select {
	case err := <-bDone:
		t.Logf("replica B: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("replica B never finished")
	}

	if cs := captures(&env{sb: g.sb}); len(cs) != 1 {
		t.Fatalf("Miva's ledger shows %d captures for one settlement, want 1: %+v", len(cs), cs)
	}
}

// copyOf is a duplicate delivery of msg (a new message, same body and
// headers).
func copyOf(msg *message.Message) *message.Message {
	cp := message.NewMessage(msg.UUID, msg.Payload)
	for k, v := range msg.Metadata {
		cp.Metadata.Set(k, v)
	}
	return cp
}

// A delivery that recorded its capture call, then found its order lock
// lost (the PostgreSQL session holding it ended) before making the call,
// made no call: the lock check's error says so (providers.NotSentError),
// and, as for any failure that proves it, the retry captures at once. It
// is not taken for a call that may have reached Miva: that one, after its
// settle window with no trace, is parked for a person, which here would
// park a capture the worker knows it never sent.
func TestLockLostBeforeTheCaptureIsNotAnUncertainCall(t *testing.T) {
	ctx := context.Background()
	rig := newReplicaRig(t, sandbox.OrderSeed{OrderID: 4200, Records: []sandbox.RecordSeed{
		{ID: 42, Type: sandbox.TypeAuth, Amount: "10.00"},
	}}, 10*time.Second)
	g := rig.g
	h, pub := rig.replica(t, 10*time.Second)
	conn, err := pgx.Connect(ctx, rig.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	terminated := false
	// Funds confirmed: the server ends the session holding the order
	// lock before the call is recorded and checked.
	h.Crash = func(point string) {
		if point != handlers.CrashAfterConfirm || terminated {
			return
		}
		terminated = true
		if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'
			AND objsubid = 1 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`); err != nil {
			t.Error(err)
		}
	}
	msg := settlementMessage(t, "req-lock-lost", "4200", messages.SettlementDebit, "1.00")
	if err := h.Handle(msg); err != nil {
		t.Fatalf("first delivery: %v", err)
	}
	if !terminated {
		t.Fatal("the lock session was not terminated")
	}
	if n := len(captures(&env{sb: g.sb})); n != 0 {
		t.Fatalf("%d captures with the order lock lost", n)
	}
	retry := retryOf(t, pub.take())
	if err := h.Handle(retry); err != nil {
		t.Fatalf("retry: %v", err)
	}
	ps := pub.take()
	for _, p := range ps {
		if r := p.msg.Metadata.Get(handlers.HeaderParkedReason); r != "" {
			t.Fatalf("parked a capture never sent: %s", r)
		}
	}
	if s := statusOf(t, ps); s == nil || s.SettlementStatus != messages.StatusSettled {
		t.Fatalf("status %+v, want S (published %+v)", s, ps)
	}
	if n := len(captures(&env{sb: g.sb})); n != 1 {
		t.Fatalf("Miva's ledger shows %d captures, want 1", n)
	}
}

// Two replicas on one PostgreSQL database resubmit one Miva capture at
// once (A's order lock lost while it read the payment list, B given a
// duplicate): both read the list (nothing), then both record their call,
// their statements concurrent (here both wait on a row lock a third
// session holds, as one waits on the other's). The record compares the
// last call's (IfRefs), so one of them must fail it and make no call; the
// sandbox's ledger must show one capture.
func TestReplicasResubmittingAtOnceNeverCaptureTwice(t *testing.T) {
	ctx := context.Background()
	rig := newReplicaRig(t, sandbox.OrderSeed{OrderID: 4200, Records: []sandbox.RecordSeed{
		{ID: 42, Type: sandbox.TypeAuth, Amount: "10.00"},
	}}, 10*time.Second)
	g := rig.g
	a, aPub := rig.replica(t, 10*time.Second)
	b, _ := rig.replica(t, 10*time.Second)

	msg, retry := rig.firstCaptureNotSent(t, a, aPub, "req-at-once", "4200")
	aList, aDone := rig.lockLostWhileReading(t, a, retry, true, "replica A's payment list read")

	bList := g.arm(sandbox.FunctionPaymentList, true)
	bDone := make(chan error, 1)
	go func() { bDone <- b.Handle(copyOf(msg)) }()
	waitHeld(t, bList, "replica B's payment list read")

	// Both replies arrive while a third session holds the settlement's row:
	// both records wait for it, then run at once.
	conn, err := pgx.Connect(ctx, rig.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM settlements WHERE request_id = 'req-at-once' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	close(aList.release)
	close(bList.release)
	time.Sleep(500 * time.Millisecond)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for name, done := range map[string]<-chan error{"A": aDone, "B": bDone} {
		select {
		case err := <-done:
			t.Logf("replica %s: %v", name, err)
		case <-time.After(20 * time.Second):
			t.Fatalf("replica %s never finished", name)
		}
	}
	if cs := captures(&env{sb: g.sb}); len(cs) != 1 {
		t.Fatalf("Miva's ledger shows %d captures for one settlement, want 1: %+v", len(cs), cs)
	}
}
