package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// backends are the implementations the conformance suite runs against. Each
// call of dsn gives a fresh, empty database; kind is the implementation
// (sqlite or postgres), opts what every Open of the case adds. PostgreSQL
// runs twice: as configured by default, and with one statement session
// (WithPoolSize(1)), where a statement that waited for a second session
// while holding the first would never finish.
var backends = []struct {
	name, kind string
	dsn        func(t *testing.T) string
	opts       []Option
}{
	{"sqlite", "sqlite", func(t *testing.T) string {
		// A directory that does not exist yet: Open creates it.
		return "sqlite:" + filepath.Join(t.TempDir(), "data", "settlements.db")
	}, nil},
	{"postgres", "postgres", func(t *testing.T) string { return testenv.PostgresDSN(t) }, nil},
	{"postgres-one-session", "postgres", func(t *testing.T) string { return testenv.PostgresDSN(t) }, []Option{WithPoolSize(1)}},
}

// fakeClock advances by step at every reading, so that every timestamp the
// store takes is distinct and predictable.
type fakeClock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

func newFakeClock() *fakeClock {
	// Nanoseconds on purpose: the store keeps microseconds.
	return &fakeClock{now: time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC), step: time.Millisecond}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.now
	c.now = c.now.Add(c.step)
	return t.In(time.FixedZone("elsewhere", 3600)) // the store must convert to UTC
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// env is what one conformance case gets: a fresh database and a store on it.
type env struct {
	*testing.T
	backend string
	dsn     string
	opts    []Option
	clock   *fakeClock
	st      Store
	ctx     context.Context
}

// open opens another store on the same database (a reopened process, or
// another replica); it is closed at the end of the test.
func (e *env) open() Store {
	e.Helper()
	st, err := Open(e.ctx, e.dsn, append([]Option{WithClock(e.clock.Now)}, e.opts...)...)
	if err != nil {
		e.Fatalf("Open(%s): %v", e.dsn, err)
	}
	e.Cleanup(func() { st.Close() })
	return st
}

func (e *env) register(s Settlement) Settlement {
	e.Helper()
	got, created, err := e.st.Register(e.ctx, s)
	if err != nil {
		e.Fatalf("Register(%v): %v", s.Key, err)
	}
	if !created {
		e.Fatalf("Register(%v): created = false for a new key", s.Key)
	}
	return got
}

func (e *env) transition(key Key, from []State, to State, ch Change, status *StatusEvent) (Settlement, *StatusEvent) {
	e.Helper()
	s, ev, err := e.st.Transition(e.ctx, key, from, to, ch, status)
	if err != nil {
		e.Fatalf("Transition(%v, %v → %s): %v", key, from, to, err)
	}
	return s, ev
}

func (e *env) get(key Key) Settlement {
	e.Helper()
	s, err := e.st.Get(e.ctx, key)
	if err != nil {
		e.Fatalf("Get(%v): %v", key, err)
	}
	return s
}

func (e *env) history(key Key) []Transition {
	e.Helper()
	h, err := e.st.History(e.ctx, key)
	if err != nil {
		e.Fatalf("History(%v): %v", key, err)
	}
	return h
}

func (e *env) statuses(key Key) []StatusEvent {
	e.Helper()
	evs, err := e.st.Statuses(e.ctx, key)
	if err != nil {
		e.Fatalf("Statuses(%v): %v", key, err)
	}
	return evs
}

func ptr[T any](v T) *T { return &v }

func sample(requestID string) Settlement {
	return Settlement{
		Key:            Key{Provider: "acme", RequestID: requestID},
		Fingerprint:    "sha256:" + requestID,
		StoreID:        "store-1",
		OrderID:        "order-" + requestID,
		TenderType:     "CARD",
		SettlementType: "DEBIT",
		Amount:         "12.50",
		Currency:       "EUR",
		ClientContext:  "ctx-" + requestID,
		CorrelationID:  "ctx-" + requestID,
		Request:        []byte("<PaymentSettlementRequest id=\"" + requestID + "\"/>\x00\xff"),
		ContentType:    "application/xml",
		Headers:        map[string]string{"x-tenant": "t1", "x-trace": "abc"},
	}
}

func states(h []Transition) string {
	var b strings.Builder
	for _, tr := range h {
		fmt.Fprintf(&b, "%s>%s ", tr.From, tr.To)
	}
	return strings.TrimSpace(b.String())
}

// suite is the conformance suite: every case runs against every backend
// (unless only names one), each on a fresh database.
var suite = []struct {
	name string
	only string
	run  func(e *env)
}{
	{"RegisterNewAndExisting", "", testRegister},
	{"GetNotFound", "", testNotFound},
	{"PipelineDebit", "", testPipelineDebit},
	{"PipelineCredit", "", testPipelineCredit},
	{"StateConflict", "", testStateConflict},
	{"IfRefsConflict", "", testIfRefsConflict},
	{"IfAttemptsConflict", "", testIfAttemptsConflict},
	{"IfNotParkedConflict", "", testIfNotParkedConflict},
	{"TerminalWithStatusInOneTransaction", "", testTerminalStatus},
	{"StatusDedup", "", testStatusDedup},
	{"MarkPublished", "", testMarkPublished},
	{"MarkPublishedMany", "", testMarkPublishedMany},
	{"MarkerCoalescesAndFlushes", "", testMarkerCoalescesAndFlushes},
	{"Find", "", testFind},
	{"LockOrderSerializes", "", testLockOrderSerializes},
	{"LockOrderDifferentOrders", "", testLockOrderDifferentOrders},
	{"LockOrderCancel", "", testLockOrderCancel},
	{"Reopen", "", testReopen},
	{"ConcurrentOpen", "", testConcurrentOpen},
	{"ConcurrentTransition", "", testConcurrentTransition},
	{"TwoReplicasLockOrder", "postgres", testTwoReplicas},
	{"Counts", "", testCounts},
	{"ReadOnly", "", testReadOnly},
	{"PurgeBodies", "", testPurgeBodies},
	{"PurgeBodiesLaterEvents", "", testPurgeBodiesLaterEvents},
	{"RegisterMovingAndVia", "", testRegisterMovingAndVia},
	{"RegisterReturnsTheStoredRow", "", testRegisterReturnsTheStoredRow},
	{"TransitionApplies", "", testTransitionApplies},
	{"TransitionFails", "", testTransitionFails},
	{"StatusEventPaths", "", testStatusEventPaths},
	{"ConcurrentEvents", "", testConcurrentEvents},
	{"ProviderTextIsStoredAlike", "", testProviderTextIsStoredAlike},
	{"IdentifiersThatAreNotText", "", testIdentifiersThatAreNotText},
	{"StaleCountsOnlyTheProvidersAskedFor", "", testStaleCountsOnlyTheProvidersAskedFor},
	{"UnpublishedPagesAfterACursor", "", testUnpublishedPagesAfterACursor},
	{"StalePagesAfterACursor", "", testStalePagesAfterACursor},
	{"ErrorTextsMaskACardNumberInTheRequestID", "", testErrorTextsMaskACardNumberInTheRequestID},
}

func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, c := range suite {
				t.Run(c.name, func(t *testing.T) {
					if c.only != "" && c.only != b.kind {
						t.Skipf("%s only", c.only)
					}
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
					defer cancel()
					e := &env{T: t, backend: b.kind, dsn: b.dsn(t), opts: b.opts, clock: newFakeClock(), ctx: ctx}
					e.st = e.open()
					if err := e.st.Ping(ctx); err != nil {
						t.Fatalf("Ping: %v", err)
					}
					c.run(e)
				})
			}
		})
	}
}

func testRegister(e *env) {
	in := sample("r1")
	in.State = StateSettled // ignored: a new settlement starts received
	in.Attempts = 7
	in.Refs = map[string]string{"ignored": "yes"}
	want := e.clock.now.UTC().Truncate(time.Microsecond)

	got, created, err := e.st.Register(e.ctx, in)
	if err != nil || !created {
		e.Fatalf("Register = %v, %v; want created", created, err)
	}
	check := func(what string, got Settlement) {
		e.Helper()
		if got.Key != in.Key || got.Fingerprint != in.Fingerprint || got.StoreID != in.StoreID ||
			got.OrderID != in.OrderID || got.TenderType != in.TenderType || got.SettlementType != in.SettlementType ||
			got.Amount != in.Amount || got.Currency != in.Currency || got.ClientContext != in.ClientContext ||
			got.CorrelationID != in.CorrelationID || got.ContentType != in.ContentType {
			e.Errorf("%s: fields = %+v, want those of %+v", what, got, in)
		}
		if !bytes.Equal(got.Request, in.Request) {
			e.Errorf("%s: Request = %q, want %q", what, got.Request, in.Request)
		}
		if !maps.Equal(got.Headers, in.Headers) {
			e.Errorf("%s: Headers = %v, want %v", what, got.Headers, in.Headers)
		}
		if got.State != StateReceived || got.Attempts != 0 || len(got.Refs) != 0 || got.Refs == nil ||
			got.DeclineReason != "" || got.ParkedReason != "" {
			e.Errorf("%s: state = %s attempts = %d refs = %#v, want received, 0, empty map", what, got.State, got.Attempts, got.Refs)
		}
		if !got.CreatedAt.Equal(want) || !got.UpdatedAt.Equal(want) || got.CreatedAt.Location() != time.UTC {
			e.Errorf("%s: CreatedAt = %v UpdatedAt = %v, want %v UTC", what, got.CreatedAt, got.UpdatedAt, want)
		}
	}
	check("Register", got)
	check("Get", e.get(in.Key))

	// Same key again, other content: the stored row comes back unchanged.
	again := sample("r1")
	again.Fingerprint = "sha256:other"
	again.Amount = "99.99"
	got2, created, err := e.st.Register(e.ctx, again)
	if err != nil || created {
		e.Fatalf("Register again = %v, %v; want existing", created, err)
	}
	check("Register again", got2)

	h := e.history(in.Key)
	if len(h) != 1 || h[0].From != "" || h[0].To != StateReceived || h[0].Key != in.Key || !h[0].At.Equal(want) {
		e.Errorf("History = %+v, want one line \"\" → received at %v", h, want)
	}

	// Empty refs/headers/body round-trip as empty.
	bare := Settlement{Key: Key{Provider: "acme", RequestID: "bare"}}
	got3 := e.register(bare)
	if len(got3.Request) != 0 || len(got3.Headers) != 0 || got3.Headers == nil {
		e.Errorf("bare = %+v", got3)
	}
	if _, _, err := e.st.Register(e.ctx, Settlement{Key: Key{Provider: "acme"}}); err == nil {
		e.Errorf("Register without request id: no error")
	}
}

func testNotFound(e *env) {
	key := Key{Provider: "acme", RequestID: "missing"}
	if _, err := e.st.Get(e.ctx, key); !errors.Is(err, ErrNotFound) {
		e.Errorf("Get = %v, want ErrNotFound", err)
	}
	if _, _, err := e.st.Transition(e.ctx, key, []State{StateReceived}, StateConfirming, Change{}, nil); !errors.Is(err, ErrNotFound) || errors.Is(err, ErrStateConflict) {
		e.Errorf("Transition = %v, want ErrNotFound", err)
	}
	if _, _, err := e.st.Transition(e.ctx, key, nil, StateConfirming, Change{}, nil); !errors.Is(err, ErrNotFound) {
		e.Errorf("Transition (any state) = %v, want ErrNotFound", err)
	}
	if h := e.history(key); len(h) != 0 {
		e.Errorf("History = %v, want none", h)
	}
	if evs := e.statuses(key); len(evs) != 0 {
		e.Errorf("Statuses = %v, want none", evs)
	}
}

func testPipelineDebit(e *env) {
	key := e.register(sample("d1")).Key

	s, _ := e.transition(key, []State{StateReceived}, StateConfirming, Change{IncAttempts: true, Note: "confirm funds"}, nil)
	if s.State != StateConfirming || s.Attempts != 1 {
		e.Fatalf("after confirming: %s attempts %d", s.State, s.Attempts)
	}
	// Parking keeps the position; unparking clears the flag.
	s, _ = e.transition(key, []State{StateConfirming}, StateConfirming, Change{ParkedReason: ptr("provider timeout"), Note: "parked"}, nil)
	if s.ParkedReason != "provider timeout" || e.get(key).ParkedReason != "provider timeout" {
		e.Fatalf("parked reason = %q", s.ParkedReason)
	}
	s, _ = e.transition(key, []State{StateConfirming}, StateConfirmed, Change{ParkedReason: ptr(""), Refs: map[string]string{"paymentRecord": "PR-1"}}, nil)
	if s.ParkedReason != "" || s.Refs["paymentRecord"] != "PR-1" {
		e.Fatalf("after confirmed: %+v", s)
	}
	e.transition(key, []State{StateConfirmed}, StateSubmitting, Change{IncAttempts: true}, nil)
	e.transition(key, []State{StateSubmitting}, StateAcknowledged, Change{Refs: map[string]string{"settlementId": "S-9", "paymentRecord": "PR-1b"}}, nil)
	final, ev := e.transition(key, []State{StateAcknowledged, StatePending}, StateSettled, Change{Note: "settled"},
		&StatusEvent{DedupKey: "final", MessageID: "m-d1", SettlementStatus: "S", Body: []byte("<S/>")})

	want := map[string]string{"paymentRecord": "PR-1b", "settlementId": "S-9"}
	got := e.get(key)
	for _, s := range []Settlement{final, got} {
		if s.State != StateSettled || s.Attempts != 2 || !maps.Equal(s.Refs, want) || !s.State.Terminal() {
			e.Errorf("final = %s attempts %d refs %v, want settled 2 %v", s.State, s.Attempts, s.Refs, want)
		}
	}
	if !final.UpdatedAt.Equal(got.UpdatedAt) || !got.UpdatedAt.After(got.CreatedAt) {
		e.Errorf("UpdatedAt = %v (returned %v), CreatedAt %v", got.UpdatedAt, final.UpdatedAt, got.CreatedAt)
	}
	if ev == nil || ev.Seq != 1 || ev.MessageID != "m-d1" {
		e.Errorf("event = %+v", ev)
	}

	h := e.history(key)
	if s := states(h); s != ">received received>confirming confirming>confirming confirming>confirmed confirmed>submitting submitting>acknowledged acknowledged>settled" {
		e.Errorf("History = %s", s)
	}
	for i := 1; i < len(h); i++ {
		if !h[i].At.After(h[i-1].At) {
			e.Errorf("History not in time order: %v then %v", h[i-1].At, h[i].At)
		}
	}
	if h[1].Note != "confirm funds" || h[2].Note != "parked" || h[6].Note != "settled" {
		e.Errorf("History notes = %q %q %q", h[1].Note, h[2].Note, h[6].Note)
	}
}

func testPipelineCredit(e *env) {
	in := sample("c1")
	in.SettlementType = "CREDIT"
	key := e.register(in).Key
	e.transition(key, []State{StateReceived}, StateSubmitting, Change{IncAttempts: true}, nil)
	e.transition(key, []State{StateSubmitting}, StatePending, Change{Refs: map[string]string{"settlementId": "S-1"}}, nil)
	s, ev := e.transition(key, []State{StateAcknowledged, StatePending}, StateRefused, Change{DeclineReason: ptr("card expired")},
		&StatusEvent{DedupKey: "final", MessageID: "m-c1", SettlementStatus: "R", Body: []byte("<R/>")})
	if s.State != StateRefused || s.DeclineReason != "card expired" || e.get(key).DeclineReason != "card expired" {
		e.Errorf("refused = %+v", s)
	}
	if ev.SettlementStatus != "R" {
		e.Errorf("event = %+v", ev)
	}
	if got := states(e.history(key)); got != ">received received>submitting submitting>pending pending>refused" {
		e.Errorf("History = %s", got)
	}
}

func testStateConflict(e *env) {
	key := e.register(sample("x1")).Key
	before := e.get(key)
	_, ev, err := e.st.Transition(e.ctx, key, []State{StateConfirming, StateSubmitting}, StateConfirmed,
		Change{IncAttempts: true, Refs: map[string]string{"a": "b"}}, &StatusEvent{DedupKey: "k", MessageID: "m-x1"})
	if !errors.Is(err, ErrStateConflict) || errors.Is(err, ErrNotFound) || ev != nil {
		e.Fatalf("Transition = %v, %v; want ErrStateConflict", ev, err)
	}
	after := e.get(key)
	if after.State != before.State || after.Attempts != 0 || len(after.Refs) != 0 || !after.UpdatedAt.Equal(before.UpdatedAt) {
		e.Errorf("conflict changed the row: %+v", after)
	}
	if h := e.history(key); len(h) != 1 {
		e.Errorf("conflict added history: %s", states(h))
	}
	if evs := e.statuses(key); len(evs) != 0 {
		e.Errorf("conflict recorded an event: %+v", evs)
	}
	// No expected state: any state goes.
	if s, _ := e.transition(key, nil, StateConfirming, Change{}, nil); s.State != StateConfirming {
		e.Errorf("Transition from any = %s", s.State)
	}
	if _, _, err := e.st.Transition(e.ctx, key, nil, State("bogus"), Change{}, nil); err == nil {
		e.Errorf("Transition to an unknown state: no error")
	}
}

// A move within one state compares the refs its caller read
// (Change.IfRefs): another writer's change of one of them is a conflict
// that changes nothing, with or without a status event; an absent ref
// compares as "".
func testIfRefsConflict(e *env) {
	key := e.register(sample("ifr1")).Key
	e.transition(key, []State{StateReceived}, StateSubmitting, Change{Refs: map[string]string{"sent": "t1", "not_sent": "true"}}, nil)
	// Another writer records its own call.
	e.transition(key, []State{StateSubmitting}, StateSubmitting, Change{Refs: map[string]string{"sent": "t2", "not_sent": "false"},
		IfRefs: map[string]string{"sent": "t1", "not_sent": "true"}}, nil)
	before := e.get(key)
	cases := []struct {
		name   string
		ifRefs map[string]string
		status *StatusEvent
	}{
		{"stale value", map[string]string{"sent": "t1", "not_sent": "true"}, nil},
		{"one stale of two", map[string]string{"sent": "t2", "not_sent": "true"}, nil},
		{"absent ref expected with a value", map[string]string{"other": "x"}, nil},
		{"stale value, with an event", map[string]string{"sent": "t1"}, &StatusEvent{DedupKey: "k-ifr", MessageID: "m-ifr"}},
	}
	for _, tc := range cases {
		to := StateSubmitting
		if tc.status != nil {
			to = StateSettled
		}
		_, ev, err := e.st.Transition(e.ctx, key, []State{StateSubmitting}, to, Change{IncAttempts: true,
			Refs: map[string]string{"sent": "t3"}, IfRefs: tc.ifRefs}, tc.status)
		if !errors.Is(err, ErrStateConflict) || ev != nil {
			e.Errorf("%s: Transition = %v, %v; want ErrStateConflict", tc.name, ev, err)
		}
	}
	after := e.get(key)
	if after.State != before.State || after.Attempts != before.Attempts || after.Refs["sent"] != "t2" || !after.UpdatedAt.Equal(before.UpdatedAt) {
		e.Errorf("conflicts changed the row: %+v", after)
	}
	if evs := e.statuses(key); len(evs) != 0 {
		e.Errorf("a conflict recorded an event: %+v", evs)
	}
	// The refs as they are, and an absent one as "": it applies.
	if s, _ := e.transition(key, []State{StateSubmitting}, StateSettled, Change{IfRefs: map[string]string{"sent": "t2", "not_sent": "false", "other": ""}},
		&StatusEvent{DedupKey: "k-ifr2", MessageID: "m-ifr2"}); s.State != StateSettled {
		e.Errorf("Transition with current refs = %s", s.State)
	}
}

// A delivery recording the answer of its call compares the attempt count
// it read (Change.IfAttempts): another delivery's attempt counted since is
// a conflict that changes nothing, with or without a status event, even
// when the state and the compared refs are as read.
func testIfAttemptsConflict(e *env) {
	key := e.register(sample("ifa1")).Key
	e.transition(key, []State{StateReceived}, StateSubmitting, Change{IncAttempts: true, Refs: map[string]string{"sent": "t1"}}, nil)
	// Another delivery counts its attempt (it reconciles: no call recorded).
	e.transition(key, []State{StateSubmitting}, StateSubmitting, Change{IncAttempts: true}, nil)
	before := e.get(key)
	for _, status := range []*StatusEvent{nil, {DedupKey: "k-ifa", MessageID: "m-ifa"}} {
		_, ev, err := e.st.Transition(e.ctx, key, []State{StateSubmitting}, StateRefused, Change{
			Refs: map[string]string{"x": "y"}, IfRefs: map[string]string{"sent": "t1"}, IfAttempts: 1}, status)
		if !errors.Is(err, ErrStateConflict) || ev != nil {
			e.Errorf("stale attempt (event %v): Transition = %v, %v; want ErrStateConflict", status != nil, ev, err)
		}
	}
	after := e.get(key)
	if after.State != before.State || after.Attempts != 2 || after.Refs["x"] != "" || !after.UpdatedAt.Equal(before.UpdatedAt) {
		e.Errorf("conflicts changed the row: %+v", after)
	}
	if evs := e.statuses(key); len(evs) != 0 {
		e.Errorf("a conflict recorded an event: %+v", evs)
	}
	// The count as it is: it applies.
	if s, _ := e.transition(key, []State{StateSubmitting}, StateSettled, Change{IfRefs: map[string]string{"sent": "t1"}, IfAttempts: 2},
		&StatusEvent{DedupKey: "k-ifa2", MessageID: "m-ifa2"}); s.State != StateSettled {
		e.Errorf("Transition with the current count = %s", s.State)
	}
}

// A move that compares the parking (Change.IfNotParked) fails with
// ErrStateConflict, with or without a status event, while the settlement
// is parked where it is (the sweeper parks an acknowledged settlement
// without moving its state), and changes nothing; once unparked, or on a
// settlement never parked, it applies. Without the compare a parked
// settlement moves as before.
func testIfNotParkedConflict(e *env) {
	awaiting := []State{StateSubmitting, StateAcknowledged}
	key := e.register(sample("inp1")).Key
	e.transition(key, nil, StateAcknowledged, Change{Note: "acknowledged by provider"}, nil)
	e.transition(key, []State{StateAcknowledged}, StateAcknowledged, Change{ParkedReason: ptr("sent no status within 1h"),
		Refs: map[string]string{"parking": "p1"}, Note: "parked by the sweeper"}, nil)
	before := e.get(key)
	for _, status := range []*StatusEvent{nil, {DedupKey: "k-inp", MessageID: "m-inp", SettlementStatus: "S", Body: []byte("<S/>")}} {
		_, ev, err := e.st.Transition(e.ctx, key, awaiting, StateSettled, Change{ParkedReason: ptr(""), Note: "provider status S",
			Refs: map[string]string{"x": "y"}, IncAttempts: true, IfNotParked: true}, status)
		if !errors.Is(err, ErrStateConflict) || ev != nil {
			e.Errorf("parked settlement (event %v): Transition = %v, %v; want ErrStateConflict", status != nil, ev, err)
		}
	}
	after := e.get(key)
	if after.State != StateAcknowledged || after.ParkedReason != before.ParkedReason || after.Attempts != before.Attempts ||
		after.Refs["x"] != "" || !after.UpdatedAt.Equal(before.UpdatedAt) {
		e.Errorf("conflicts changed the row: %+v", after)
	}
	if evs := e.statuses(key); len(evs) != 0 {
		e.Errorf("a conflict recorded an event: %+v", evs)
	}
	if h := e.history(key); len(h) != 3 {
		e.Errorf("history after the conflicts: %s, want 3 lines", states(h))
	}
	// Unparked (a replay): it applies.
	e.transition(key, []State{StateAcknowledged}, StateAcknowledged, Change{ParkedReason: ptr(""), Note: "replayed after parking"}, nil)
	if s, ev := e.transition(key, awaiting, StateSettled, Change{Note: "provider status S", IfNotParked: true},
		&StatusEvent{DedupKey: "k-inp2", MessageID: "m-inp2", SettlementStatus: "S", Body: []byte("<S/>")}); s.State != StateSettled || ev == nil || ev.Seq != 1 {
		e.Errorf("unparked: Transition = %s, %+v; want settled with event 1", s.State, ev)
	}
	// Never parked, submitting: it applies.
	key2 := e.register(sample("inp2")).Key
	e.transition(key2, nil, StateSubmitting, Change{}, nil)
	if s, _ := e.transition(key2, awaiting, StateRefused, Change{IfNotParked: true, DeclineReason: ptr("no")}, nil); s.State != StateRefused {
		e.Errorf("never parked: Transition = %s, want refused", s.State)
	}
	// Without the compare, a parked settlement moves as before.
	key3 := e.register(sample("inp3")).Key
	e.transition(key3, nil, StateAcknowledged, Change{ParkedReason: ptr("parked")}, nil)
	if s, _ := e.transition(key3, awaiting, StateSettled, Change{ParkedReason: ptr("")}, nil); s.State != StateSettled || s.ParkedReason != "" {
		e.Errorf("no compare: Transition = %s, parked %q; want settled, unparked", s.State, s.ParkedReason)
	}
}

func testTerminalStatus(e *env) {
	key := e.register(sample("w1")).Key
	e.transition(key, []State{StateReceived}, StateConfirming, Change{IncAttempts: true}, nil)
	body := []byte("<PaymentSettlementStatus><Status>R</Status></PaymentSettlementStatus>")
	s, ev := e.transition(key, []State{StateConfirming}, StateWithheld, Change{DeclineReason: ptr("insufficient funds")},
		&StatusEvent{Key: Key{Provider: "ignored", RequestID: "ignored"}, DedupKey: "final", MessageID: "m-w1", SettlementStatus: "R", Body: body})
	if s.State != StateWithheld || s.DeclineReason != "insufficient funds" {
		e.Errorf("settlement = %+v", s)
	}
	if ev == nil || ev.Key != key || ev.Seq != 1 || ev.DedupKey != "final" || ev.MessageID != "m-w1" ||
		ev.SettlementStatus != "R" || !bytes.Equal(ev.Body, body) || ev.PublishedAt != nil || ev.CreatedAt.IsZero() {
		e.Fatalf("event = %+v", ev)
	}
	evs := e.statuses(key)
	if len(evs) != 1 || evs[0].MessageID != "m-w1" || !bytes.Equal(evs[0].Body, body) || !evs[0].CreatedAt.Equal(ev.CreatedAt) ||
		!evs[0].CreatedAt.Equal(s.UpdatedAt) {
		e.Errorf("Statuses = %+v, want %+v", evs, ev)
	}

	// One transaction: when the event cannot be recorded (its message_id
	// belongs to another settlement's event), the state does not move.
	other := e.register(sample("w2")).Key
	_, _, err := e.st.Transition(e.ctx, other, []State{StateReceived}, StateRefused, Change{DeclineReason: ptr("x")},
		&StatusEvent{DedupKey: "final", MessageID: "m-w1", SettlementStatus: "R"})
	if err == nil {
		e.Fatalf("Transition with a duplicate message_id: no error")
	}
	if got := e.get(other); got.State != StateReceived || got.DeclineReason != "" {
		e.Errorf("failed transition left %+v", got)
	}
	if h := e.history(other); len(h) != 1 {
		e.Errorf("failed transition left history %s", states(h))
	}
	if evs := e.statuses(other); len(evs) != 0 {
		e.Errorf("failed transition left events %+v", evs)
	}
}

func testStatusDedup(e *env) {
	key := e.register(sample("s1")).Key
	_, first := e.transition(key, []State{StateReceived}, StateSettled, Change{},
		&StatusEvent{DedupKey: "final", MessageID: "m-1", SettlementStatus: "S", Body: []byte("one")})

	// Redelivery: same DedupKey, a new message id → the existing event.
	_, again := e.transition(key, []State{StateSettled}, StateSettled, Change{Note: "redelivered"},
		&StatusEvent{DedupKey: "final", MessageID: "m-other", SettlementStatus: "S", Body: []byte("two")})
	if again.Seq != 1 || again.MessageID != "m-1" || string(again.Body) != "one" || !again.CreatedAt.Equal(first.CreatedAt) {
		e.Errorf("deduplicated event = %+v, want %+v", again, first)
	}
	if evs := e.statuses(key); len(evs) != 1 {
		e.Errorf("Statuses = %d events, want 1", len(evs))
	}

	// A new DedupKey: seq 2, its message id kept.
	_, second := e.transition(key, []State{StateSettled}, StateSettled, Change{},
		&StatusEvent{DedupKey: "correction", MessageID: "m-2", SettlementStatus: "S", Body: []byte("three")})
	if second.Seq != 2 || second.MessageID != "m-2" || second.DedupKey != "correction" {
		e.Errorf("second event = %+v", second)
	}
	// No message id: the store makes one; no dedup key: never deduplicated.
	_, third := e.transition(key, nil, StateSettled, Change{}, &StatusEvent{SettlementStatus: "S"})
	_, fourth := e.transition(key, nil, StateSettled, Change{}, &StatusEvent{SettlementStatus: "S"})
	if third.Seq != 3 || fourth.Seq != 4 || len(third.MessageID) != 36 || third.MessageID == fourth.MessageID {
		e.Errorf("generated events = %+v, %+v", third, fourth)
	}
	evs := e.statuses(key)
	var seqs []int
	var ids []string
	for _, ev := range evs {
		seqs = append(seqs, ev.Seq)
		ids = append(ids, ev.MessageID)
	}
	if !slices.Equal(seqs, []int{1, 2, 3, 4}) || ids[0] != "m-1" || ids[1] != "m-2" {
		e.Errorf("Statuses seqs = %v ids = %v", seqs, ids)
	}
	// The same DedupKey on another settlement is another event.
	other := e.register(sample("s2")).Key
	if _, ev := e.transition(other, nil, StateSettled, Change{}, &StatusEvent{DedupKey: "final", MessageID: "m-s2"}); ev.Seq != 1 || ev.MessageID != "m-s2" {
		e.Errorf("other settlement's event = %+v", ev)
	}
}

func testMarkPublished(e *env) {
	key := e.register(sample("p1")).Key
	e.transition(key, nil, StateSettled, Change{}, &StatusEvent{DedupKey: "a", MessageID: "m-a"})
	e.transition(key, nil, StateSettled, Change{}, &StatusEvent{DedupKey: "b", MessageID: "m-b"})
	at := time.Date(2025, 5, 6, 7, 8, 9, 987654321, time.FixedZone("x", -7200))
	if err := e.st.MarkPublished(e.ctx, "m-a", at); err != nil {
		e.Fatalf("MarkPublished: %v", err)
	}
	// A republished duplicate confirms again: the first time stays.
	if err := e.st.MarkPublished(e.ctx, "m-a", at.Add(time.Hour)); err != nil {
		e.Fatalf("MarkPublished again: %v", err)
	}
	evs := e.statuses(key)
	want := at.UTC().Truncate(time.Microsecond)
	if evs[0].PublishedAt == nil || !evs[0].PublishedAt.Equal(want) || evs[0].PublishedAt.Location() != time.UTC {
		e.Errorf("PublishedAt = %v, want %v", evs[0].PublishedAt, want)
	}
	if evs[1].PublishedAt != nil {
		e.Errorf("other event PublishedAt = %v, want nil", evs[1].PublishedAt)
	}
	if err := e.st.MarkPublished(e.ctx, "m-unknown", at); !errors.Is(err, ErrNotFound) {
		e.Errorf("MarkPublished(unknown) = %v, want ErrNotFound", err)
	}
}

// testMarkPublishedMany: one statement marks a batch of events; an event
// already marked keeps its first time, unknown ids are skipped, and a
// batch larger than any statement's parameter limit still marks them all.
func testMarkPublishedMany(e *env) {
	key := e.register(sample("pm")).Key
	const n = 1200
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("m-%04d", i)
		e.transition(key, nil, StateSettled, Change{}, &StatusEvent{DedupKey: ids[i], MessageID: ids[i]})
	}
	first := time.Date(2025, 5, 6, 7, 8, 9, 987654321, time.FixedZone("x", -7200))
	if err := e.st.MarkPublished(e.ctx, ids[0], first); err != nil {
		e.Fatalf("MarkPublished: %v", err)
	}
	at := first.Add(time.Hour)
	cases := []struct {
		name string
		ids  []string
		want int
	}{
		{"none", nil, 0},
		{"one already marked", ids[:1], 0},
		{"unknown only", []string{"m-unknown"}, 0},
		{"the rest, with an unknown and a repeat", append(append([]string{"m-unknown", ids[5]}, ids[1:n-1]...), ids[5]), n - 2},
	}
	for _, c := range cases {
		got, err := e.st.MarkPublishedMany(e.ctx, c.ids, at)
		if err != nil || got != c.want {
			e.Errorf("MarkPublishedMany(%s) = %d, %v; want %d", c.name, got, err, c.want)
		}
	}
	evs := e.statuses(key)
	for i, ev := range evs {
		var want *time.Time
		switch {
		case i == 0:
			t := first.UTC().Truncate(time.Microsecond)
			want = &t
		case i < n-1:
			t := at.UTC().Truncate(time.Microsecond)
			want = &t
		}
		if (want == nil) != (ev.PublishedAt == nil) || want != nil && !ev.PublishedAt.Equal(*want) {
			e.Fatalf("event %s PublishedAt = %v, want %v", ev.MessageID, ev.PublishedAt, want)
		}
	}
	unpub, err := e.st.Unpublished(e.ctx, time.Now().Add(time.Hour), OutboxCursor{}, 0)
	if err != nil || len(unpub) != 1 || unpub[0].MessageID != ids[n-1] {
		e.Errorf("Unpublished = %d events, %v; want only %s", len(unpub), err, ids[n-1])
	}
}

// testMarkerCoalescesAndFlushes: marks queued on a Marker are written in
// batches (one MarkPublishedMany each, not one write per event); Flush
// returns once every mark queued before it is in the store, so the relay
// never sees a confirmed event as lost; Close writes what is left.
func testMarkerCoalescesAndFlushes(e *env) {
	key := e.register(sample("mk")).Key
	const n = 300
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("mk-%03d", i)
		e.transition(key, nil, StateSettled, Change{}, &StatusEvent{DedupKey: ids[i], MessageID: ids[i]})
	}
	counting := &countingMarks{Store: e.st}
	m := NewMarker(counting, MarkerOptions{Linger: time.Hour, MaxBatch: 128})
	unpublished := func() int {
		evs, err := e.st.Unpublished(e.ctx, time.Now().Add(time.Hour), OutboxCursor{}, 0)
		if err != nil {
			e.Fatalf("Unpublished: %v", err)
		}
		return len(evs)
	}
	at := time.Now()
	for _, id := range ids[:200] {
		m.Mark(e.ctx, id, at)
	}
	if err := m.Flush(e.ctx); err != nil {
		e.Fatalf("Flush: %v", err)
	}
	if got := unpublished(); got != n-200 {
		e.Errorf("after Flush: %d unpublished, want %d", got, n-200)
	}
	if calls := counting.calls.Load(); calls < 2 || calls > 4 {
		e.Errorf("200 marks (MaxBatch 128) took %d MarkPublishedMany calls, want 2 to 4", calls)
	}
	if single := counting.single.Load(); single != 0 {
		e.Errorf("%d MarkPublished calls, want none", single)
	}
	for _, id := range ids[200:] {
		m.Mark(e.ctx, id, at)
	}
	if err := m.Close(); err != nil {
		e.Fatalf("Close: %v", err)
	}
	if got := unpublished(); got != 0 {
		e.Errorf("after Close: %d unpublished, want 0", got)
	}
	// After Close a mark is written at once.
	e.transition(key, nil, StateSettled, Change{}, &StatusEvent{DedupKey: "late", MessageID: "mk-late"})
	m.Mark(e.ctx, "mk-late", at)
	if got := unpublished(); got != 0 {
		e.Errorf("a mark after Close: %d unpublished, want 0", got)
	}
}

// countingMarks counts the store's mark calls.
type countingMarks struct {
	Store
	calls, single atomic.Int64
}

func (c *countingMarks) MarkPublishedMany(ctx context.Context, ids []string, at time.Time) (int, error) {
	c.calls.Add(1)
	return c.Store.MarkPublishedMany(ctx, ids, at)
}

func (c *countingMarks) MarkPublished(ctx context.Context, id string, at time.Time) error {
	c.single.Add(1)
	return c.Store.MarkPublished(ctx, id, at)
}

func testFind(e *env) {
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(id string, at time.Duration, f func(*Settlement)) {
		s := sample(id)
		f(&s)
		e.clock.Set(base.Add(at))
		e.register(s)
	}
	// Registered out of order: Find sorts by created_at, then request_id.
	add("f3", 3*time.Second, func(s *Settlement) {})
	add("f1", 1*time.Second, func(s *Settlement) { s.OrderID = "o-1" })
	add("f2b", 2*time.Second, func(s *Settlement) { s.OrderID = "o-1"; s.Amount = "7.00" })
	add("f2a", 2*time.Second, func(s *Settlement) { s.OrderID = "o-1"; s.TenderType = "GIFT" })
	add("f0", 0, func(s *Settlement) { s.Provider = "other"; s.OrderID = "o-1" })
	add("f4", 4*time.Second, func(s *Settlement) {
		s.StoreID = "store-2"
		s.OrderID = "o-1"
		s.Currency = "USD"
		s.SettlementType = "CREDIT"
	})
	e.transition(Key{"acme", "f2b"}, nil, StatePending, Change{}, nil)
	e.transition(Key{"acme", "f4"}, nil, StateAcknowledged, Change{}, nil)

	for _, tc := range []struct {
		name string
		c    Correlation
		want []string
	}{
		{"all", Correlation{}, []string{"f0", "f1", "f2a", "f2b", "f3", "f4"}},
		{"provider", Correlation{Provider: "acme"}, []string{"f1", "f2a", "f2b", "f3", "f4"}},
		{"order", Correlation{Provider: "acme", StoreID: "store-1", OrderID: "o-1"}, []string{"f1", "f2a", "f2b"}},
		{"order any store", Correlation{Provider: "acme", OrderID: "o-1"}, []string{"f1", "f2a", "f2b", "f4"}},
		{"tender", Correlation{OrderID: "o-1", TenderType: "GIFT"}, []string{"f2a"}},
		{"amount", Correlation{Provider: "acme", Amount: "7.00"}, []string{"f2b"}},
		{"amount is text", Correlation{Provider: "acme", Amount: "7.0"}, nil},
		{"currency", Correlation{Currency: "USD"}, []string{"f4"}},
		{"settlement type", Correlation{SettlementType: "CREDIT"}, []string{"f4"}},
		{"correlation id", Correlation{Provider: "acme", CorrelationID: "ctx-f3"}, []string{"f3"}},
		{"states", Correlation{Provider: "acme", States: []State{StatePending, StateAcknowledged}}, []string{"f2b", "f4"}},
		{"state", Correlation{OrderID: "o-1", States: []State{StateReceived}}, []string{"f0", "f1", "f2a"}},
		{"nothing", Correlation{Provider: "acme", OrderID: "nope"}, nil},
	} {
		e.Run(tc.name, func(t *testing.T) {
			got, err := e.st.Find(e.ctx, tc.c)
			if err != nil {
				t.Fatalf("Find: %v", err)
			}
			var ids []string
			for _, s := range got {
				ids = append(ids, s.RequestID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("Find(%+v) = %v, want %v", tc.c, ids, tc.want)
			}
		})
	}
	got, err := e.st.Find(e.ctx, Correlation{Provider: "acme", OrderID: "o-1", TenderType: "GIFT"})
	if err != nil || len(got) != 1 {
		e.Fatalf("Find = %v, %v", got, err)
	}
	if s := got[0]; !maps.Equal(s.Headers, sample("").Headers) || s.Amount != "12.50" || !s.CreatedAt.Equal(base.Add(2*time.Second)) {
		e.Errorf("Find row = %+v", s)
	}
}

// hammerLock has workers goroutines take the lock of one order iterations
// times each, from the stores given (round robin), and fails if two holders
// ever overlap. shared is a plain variable written under the lock: with one
// store the race detector checks the in-process lock too.
func hammerLock(e *env, stores []Store, workers, iterations int, plain bool) {
	var active, overlaps, total atomic.Int32
	shared := 0
	var wg sync.WaitGroup
	for w := range workers {
		st := stores[w%len(stores)]
		wg.Go(func() {
			for range iterations {
				unlock, err := st.LockOrder(e.ctx, "acme", "store-1", "order-1")
				if err != nil {
					e.Errorf("LockOrder: %v", err)
					return
				}
				if active.Add(1) != 1 {
					overlaps.Add(1)
				}
				if plain {
					shared++
				}
				time.Sleep(200 * time.Microsecond)
				total.Add(1)
				active.Add(-1)
				unlock()
				unlock() // harmless
			}
		})
	}
	wg.Wait()
	if overlaps.Load() != 0 {
		e.Errorf("%d times two holders had one order lock at once", overlaps.Load())
	}
	if int(total.Load()) != workers*iterations || (plain && shared != workers*iterations) {
		e.Errorf("total = %d shared = %d, want %d", total.Load(), shared, workers*iterations)
	}
}

func testLockOrderSerializes(e *env) {
	hammerLock(e, []Store{e.st}, 8, 20, true)
	if n := e.st.(*sqlStore).locks.size(); n != 0 {
		e.Errorf("%d lock entries left after all unlocked", n)
	}
}

func testLockOrderDifferentOrders(e *env) {
	unlock, err := e.st.LockOrder(e.ctx, "acme", "store-1", "order-1")
	if err != nil {
		e.Fatal(err)
	}
	defer unlock()
	// Other orders (another order id, store or provider) are not blocked.
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, o := range [][3]string{{"acme", "store-1", "order-2"}, {"acme", "store-2", "order-1"}, {"other", "store-1", "order-1"}} {
		wg.Go(func() {
			u, err := e.st.LockOrder(ctx, o[0], o[1], o[2])
			if err != nil {
				e.Errorf("LockOrder(%v) while order-1 is held: %v", o, err)
				return
			}
			time.Sleep(20 * time.Millisecond) // held together
			u()
		})
	}
	wg.Wait()
}

func testLockOrderCancel(e *env) {
	unlock, err := e.st.LockOrder(e.ctx, "acme", "store-1", "order-1")
	if err != nil {
		e.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := e.st.LockOrder(ctx, "acme", "store-1", "order-1"); !errors.Is(err, context.DeadlineExceeded) {
		e.Fatalf("LockOrder while held = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		e.Errorf("cancelled wait took %v", d)
	}
	done, stop := context.WithCancel(e.ctx)
	stop()
	if _, err := e.st.LockOrder(done, "acme", "store-1", "order-2"); !errors.Is(err, context.Canceled) {
		e.Errorf("LockOrder with a cancelled ctx = %v, want Canceled", err)
	}

	// A waiter cancelled while queued does not get the lock later.
	waitCtx, cancelWait := context.WithCancel(e.ctx)
	errc := make(chan error, 1)
	go func() {
		u, err := e.st.LockOrder(waitCtx, "acme", "store-1", "order-1")
		if err == nil {
			u()
		}
		errc <- err
	}()
	time.Sleep(30 * time.Millisecond)
	cancelWait()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		e.Errorf("cancelled waiter = %v, want Canceled", err)
	}
	unlock()

	// Released: it can be taken again, here and from another replica (the
	// cancelled waits left no lock behind).
	ctx2, cancel2 := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel2()
	u, err := e.st.LockOrder(ctx2, "acme", "store-1", "order-1")
	if err != nil {
		e.Fatalf("LockOrder after release: %v", err)
	}
	u()
	if e.backend == "postgres" {
		u, err := e.open().LockOrder(ctx2, "acme", "store-1", "order-1")
		if err != nil {
			e.Fatalf("LockOrder from another replica after release: %v", err)
		}
		u()
	}
	if n := e.st.(*sqlStore).locks.size(); n != 0 {
		e.Errorf("%d lock entries left after all unlocked", n)
	}
}

func testReopen(e *env) {
	key := e.register(sample("k1")).Key
	e.transition(key, []State{StateReceived}, StateWithheld, Change{DeclineReason: ptr("no funds"), Refs: map[string]string{"r": "1"}},
		&StatusEvent{DedupKey: "final", MessageID: "m-k1", SettlementStatus: "R", Body: []byte("<R/>")})
	if err := e.st.MarkPublished(e.ctx, "m-k1", time.Now()); err != nil {
		e.Fatal(err)
	}
	before := e.get(key)
	if err := e.st.Close(); err != nil {
		e.Fatalf("Close: %v", err)
	}

	// Opening again applies no migration twice and finds everything.
	for range 2 {
		st := e.open()
		got, err := st.Get(e.ctx, key)
		if err != nil {
			e.Fatalf("Get after reopen: %v", err)
		}
		if got.State != StateWithheld || got.DeclineReason != "no funds" || got.Refs["r"] != "1" ||
			!got.UpdatedAt.Equal(before.UpdatedAt) || !bytes.Equal(got.Request, before.Request) {
			e.Errorf("after reopen = %+v, want %+v", got, before)
		}
		evs, err := st.Statuses(e.ctx, key)
		if err != nil || len(evs) != 1 || evs[0].PublishedAt == nil {
			e.Errorf("Statuses after reopen = %+v, %v", evs, err)
		}
		if h, err := st.History(e.ctx, key); err != nil || len(h) != 2 {
			e.Errorf("History after reopen = %+v, %v", h, err)
		}
		var versions int
		if err := st.(*sqlStore).db.QueryRowContext(e.ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&versions); err != nil {
			e.Fatal(err)
		}
		ms, _ := loadMigrations(st.(*sqlStore).d.name)
		if versions != len(ms) {
			e.Errorf("schema_migrations has %d rows, want %d", versions, len(ms))
		}
		st.Close()
	}
}

func testConcurrentOpen(e *env) {
	// Two more processes start at once against a fresh database... here,
	// the database e.st already migrated plus a brand new one.
	dsn := e.dsn
	if e.backend == "sqlite" {
		dsn = "sqlite:" + filepath.Join(e.TempDir(), "concurrent.db")
	} else {
		dsn = testenv.PostgresDSN(e.T)
	}
	var wg sync.WaitGroup
	var opened atomic.Int32
	defer func() {
		if opened.Load() == 0 {
			e.Errorf("no concurrent Open succeeded")
		}
	}()
	for range 4 {
		wg.Go(func() {
			st, err := Open(e.ctx, dsn)
			if e.backend == "sqlite" && errors.Is(err, ErrInUse) {
				return // one process owns an SQLite file
			}
			if err != nil {
				e.Errorf("concurrent Open: %v", err)
				return
			}
			opened.Add(1)
			defer st.Close()
			if _, _, err := st.Register(e.ctx, sample("co")); err != nil {
				e.Errorf("Register: %v", err)
			}
		})
	}
	wg.Wait()
}

func testConcurrentTransition(e *env) {
	key := e.register(sample("cc")).Key
	const n = 10
	var wg sync.WaitGroup
	var wins, conflicts atomic.Int32
	start := make(chan struct{})
	// Half the contenders use a second store (a replica) on PostgreSQL; an
	// SQLite file has one owner.
	second := e.st
	if e.backend != "sqlite" {
		second = e.open()
	}
	for i := range n {
		st := e.st
		if i%2 == 1 {
			st = second
		}
		wg.Go(func() {
			<-start
			_, _, err := st.Transition(e.ctx, key, []State{StateReceived}, StateConfirming,
				Change{IncAttempts: true, Note: fmt.Sprint("worker ", i)}, nil)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, ErrStateConflict):
				conflicts.Add(1)
			default:
				e.Errorf("Transition: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != n-1 {
		e.Errorf("wins = %d conflicts = %d, want 1 and %d", wins.Load(), conflicts.Load(), n-1)
	}
	if got := e.get(key); got.State != StateConfirming || got.Attempts != 1 {
		e.Errorf("after the race: %s attempts %d", got.State, got.Attempts)
	}
	if h := e.history(key); len(h) != 2 {
		e.Errorf("History = %s, want 2 lines", states(h))
	}
}

func testTwoReplicas(e *env) {
	a, b := e.st, e.open()
	hammerLock(e, []Store{a, b}, 6, 5, false)

	// b waits while a holds, and honours its ctx.
	unlock, err := a.LockOrder(e.ctx, "acme", "store-1", "order-1")
	if err != nil {
		e.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 150*time.Millisecond)
	defer cancel()
	if _, err := b.LockOrder(ctx, "acme", "store-1", "order-1"); !errors.Is(err, context.DeadlineExceeded) {
		e.Fatalf("replica b while a holds = %v, want DeadlineExceeded", err)
	}
	// b is waiting when a releases: b gets it.
	got := make(chan error, 1)
	go func() {
		u, err := b.LockOrder(e.ctx, "acme", "store-1", "order-1")
		if err == nil {
			u()
		}
		got <- err
	}()
	time.Sleep(50 * time.Millisecond)
	unlock()
	select {
	case err := <-got:
		if err != nil {
			e.Errorf("replica b after a released: %v", err)
		}
	case <-time.After(5 * time.Second):
		e.Errorf("replica b did not get the lock after a released it")
	}
}

// TestOpenErrors checks that a bad STORE_DSN says what to fix.
func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dsn      string
		contains []string
	}{
		{"", []string{"STORE_DSN is empty"}},
		{"mysql://localhost/db", []string{"STORE_DSN", "unsupported scheme", "mysql"}},
		{"sqlite:", []string{"STORE_DSN", "cannot open SQLite", "no file path"}},
		{"sqlite:" + filepath.Join(file, "sub", "x.db"), []string{"STORE_DSN", "cannot open SQLite", "cannot create directory"}},
		{"postgres://user:s3cret@127.0.0.1:1/db?connect_timeout=2", []string{"STORE_DSN", "cannot open PostgreSQL", "127.0.0.1:1"}},
	} {
		st, err := Open(ctx, tc.dsn)
		if err == nil {
			st.Close()
			t.Errorf("Open(%q): no error", tc.dsn)
			continue
		}
		for _, c := range tc.contains {
			if !strings.Contains(err.Error(), c) {
				t.Errorf("Open(%q) = %q, want it to say %q", tc.dsn, err, c)
			}
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%q) = %q: leaks the password", tc.dsn, err)
		}
	}
}

// TestSQLiteSettings checks the durability settings hold on every
// connection, whatever the DSN asks for, for every DSN spelling.
func TestSQLiteSettings(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, dsn := range []string{
		"sqlite:" + filepath.Join(dir, "a", "s.db"),
		"sqlite://" + filepath.Join(dir, "b", "s.db") + "?_pragma=synchronous(OFF)&_journal_mode=DELETE&_txlock=deferred",
		"file:" + filepath.Join(dir, "c", "s.db") + "?_pragma=journal_mode(DELETE)&_pragma=cache_size(-4000)",
		filepath.Join(dir, "d", "s.db"),
	} {
		t.Run(dsn, func(t *testing.T) {
			st, err := Open(ctx, dsn, WithBusyTimeout(7*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			db := st.(*sqlStore).db
			db.SetMaxIdleConns(0) // every query below on a new connection
			for _, p := range []struct{ pragma, want string }{
				{"journal_mode", "wal"}, {"synchronous", "2"}, {"foreign_keys", "1"}, {"busy_timeout", "7000"},
			} {
				var got string
				if err := db.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != p.want {
					t.Errorf("PRAGMA %s = %s, want %s", p.pragma, got, p.want)
				}
			}
			if strings.Contains(dsn, "cache_size") {
				var cs int
				if err := db.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&cs); err != nil || cs != -4000 {
					t.Errorf("PRAGMA cache_size = %d, %v; want the DSN's -4000", cs, err)
				}
			}
			// db is the read-only pool; the writer's connection (which
			// commits) has the same durability settings and is not
			// query_only.
			var ro string
			if err := db.QueryRowContext(ctx, "PRAGMA query_only").Scan(&ro); err != nil || ro != "1" {
				t.Errorf("read pool: PRAGMA query_only = %s, %v; want 1", ro, err)
			}
			if _, err := db.ExecContext(ctx, "DELETE FROM settlements"); err == nil {
				t.Error("the read pool accepted a write")
			}
			err = st.(*sqlStore).w.do(ctx, func(ctx context.Context, q querier) error {
				for _, p := range []struct{ pragma, want string }{
					{"journal_mode", "wal"}, {"synchronous", "2"}, {"foreign_keys", "1"}, {"busy_timeout", "7000"}, {"query_only", "0"},
				} {
					var got string
					if err := q.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(&got); err != nil {
						return err
					}
					if got != p.want {
						t.Errorf("writer: PRAGMA %s = %s, want %s", p.pragma, got, p.want)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	// ":memory:" works (one connection) for tests of other packages.
	st, err := Open(ctx, "sqlite::memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, _, err := st.Register(ctx, sample("m")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, Key{"acme", "m"}); err != nil {
		t.Fatal(err)
	}
}

func TestKeyedMutexFreesEntries(t *testing.T) {
	var k keyedMutex
	ctx := context.Background()
	u1, err := k.lock(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	u2, _ := k.lock(ctx, "b")
	if k.size() != 2 {
		t.Errorf("size = %d, want 2", k.size())
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := k.lock(short, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("lock(held) = %v", err)
	}
	u1()
	u2()
	u1()
	if k.size() != 0 {
		t.Errorf("size = %d after unlocking everything", k.size())
	}
	if OrderLockKey("p", "s", "o") != lockKey("p", "s", "o") || lockKey("p", "s", "o") == lockKey("p", "so", "") {
		t.Errorf("lock keys")
	}
}

// Hole 11: a second opener of an SQLite file (another worker process)
// is refused at once, naming PostgreSQL for replicas; the file can be
// opened again once the first closed it.
func TestSQLiteFileHasOneOwner(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	ctx := context.Background()
	first, err := Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	second, err := Open(ctx, "sqlite:"+path)
	if err == nil {
		second.Close()
		t.Fatal("a second Open of the same SQLite file succeeded: two workers would break per-order serialization")
	}
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "STORE_DSN=postgres://") {
		t.Fatalf("error %q: want ErrInUse naming STORE_DSN=postgres://", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	again.Close()
}

// A read-only open needs an existing database with the schema, and works
// on an SQLite file whose worker stopped (no -wal or -shm left).
func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	missing := "sqlite:" + filepath.Join(dir, "missing.db")
	if st, err := Open(ctx, missing, ReadOnly()); err == nil || !strings.Contains(err.Error(), "read-only") {
		if st != nil {
			st.Close()
		}
		t.Fatalf("read-only Open of a missing file = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); !os.IsNotExist(err) {
		t.Fatal("a read-only Open created the file")
	}
	path := filepath.Join(dir, "stopped.db")
	w, err := Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.Register(ctx, sample("r1")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	ro, err := Open(ctx, "sqlite:"+path, ReadOnly())
	if err != nil {
		t.Fatalf("read-only Open of a stopped worker's file: %v", err)
	}
	if _, err := ro.Get(ctx, Key{"acme", "r1"}); err != nil {
		t.Fatal(err)
	}
	// A worker can start while the reader is open.
	w, err = Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatalf("worker Open beside a reader: %v", err)
	}
	w.Close()
	ro.Close()

	pg := testenv.PostgresDSN(t)
	if st, err := Open(ctx, pg, ReadOnly()); err == nil || !strings.Contains(err.Error(), "no settlement schema") {
		if st != nil {
			st.Close()
		}
		t.Fatalf("read-only Open of an empty PostgreSQL database = %v", err)
	}
}

// Hole 12: a lost PostgreSQL lock session (a failover, an idle timeout, a
// terminated backend) is detected before a provider call, and another
// replica can then take the order.
func TestCheckLockDetectsALostSession(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresDSN(t)
	a, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	unlock, err := a.LockOrder(ctx, "miva", "S1", "O1")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if err := a.CheckLock(ctx, "miva", "S1", "O1"); err != nil {
		t.Fatalf("CheckLock while held: %v", err)
	}
	if err := a.CheckLock(ctx, "miva", "S1", "O2"); !errors.Is(err, ErrLockLost) {
		t.Fatalf("CheckLock of an order never locked: %v, want ErrLockLost", err)
	}
	// Terminate the backend that holds the advisory lock.
	key := OrderLockKey("miva", "S1", "O1")
	admin := b.(*sqlStore).db
	var terminated bool
	if err := admin.QueryRowContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'
		AND classid = $1::bigint::oid AND objid = $2::bigint::oid AND objsubid = 1`,
		int64(uint64(key)>>32), int64(uint64(key)&0xffffffff)).Scan(&terminated); err != nil || !terminated {
		t.Fatalf("terminate the lock holder: %v %v", terminated, err)
	}
	if err := a.CheckLock(ctx, "miva", "S1", "O1"); !errors.Is(err, ErrLockLost) {
		t.Fatalf("CheckLock after the session died: %v, want ErrLockLost", err)
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	unlockB, err := b.LockOrder(lctx, "miva", "S1", "O1")
	if err != nil {
		t.Fatalf("another replica cannot take the order after the session died: %v", err)
	}
	unlockB()
}

func TestCheckLockSQLite(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	unlock, err := st.LockOrder(ctx, "miva", "S1", "O1")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CheckLock(ctx, "miva", "S1", "O1"); err != nil {
		t.Fatalf("CheckLock while held: %v", err)
	}
	unlock()
	if err := st.CheckLock(ctx, "miva", "S1", "O1"); !errors.Is(err, ErrLockLost) {
		t.Fatalf("CheckLock after unlock: %v, want ErrLockLost", err)
	}
}

func testCounts(e *env) {
	if got, err := e.st.Counts(e.ctx); err != nil || len(got) != 0 {
		e.Fatalf("Counts on an empty store = %v, %v", got, err)
	}
	r1 := e.register(sample("r1"))
	e.register(sample("r2"))
	e.register(sample("r3"))
	other := sample("r4")
	other.Provider = "beta"
	r4 := e.register(other)
	e.transition(Key{"acme", "r2"}, nil, StateConfirming, Change{ParkedReason: ptr("provider down")}, nil)
	r3, _ := e.transition(Key{"acme", "r3"}, nil, StateConfirming, Change{}, nil)
	got, err := e.st.Counts(e.ctx)
	if err != nil {
		e.Fatal(err)
	}
	want := []StateCount{
		{Provider: "acme", State: StateConfirming, Count: 2, Parked: 1, OldestUpdate: e.get(Key{"acme", "r2"}).UpdatedAt, OldestUnparked: r3.UpdatedAt,
			OldestUnparkedCreated: r3.CreatedAt},
		{Provider: "acme", State: StateReceived, Count: 1, Parked: 0, OldestUpdate: r1.UpdatedAt, OldestUnparked: r1.UpdatedAt, OldestUnparkedCreated: r1.CreatedAt},
		{Provider: "beta", State: StateReceived, Count: 1, Parked: 0, OldestUpdate: r4.UpdatedAt, OldestUnparked: r4.UpdatedAt, OldestUnparkedCreated: r4.CreatedAt},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		e.Errorf("Counts =\n%v\nwant\n%v", got, want)
	}
	if !got[0].OldestUnparkedCreated.Before(got[0].OldestUnparked) {
		e.Errorf("oldest unparked registration %v: want r3's registration, before its move %v", got[0].OldestUnparkedCreated, got[0].OldestUnparked)
	}
	if !got[0].OldestUpdate.Before(r3.UpdatedAt) || got[0].OldestUpdate.Location() != time.UTC {
		e.Errorf("oldest update %v: want r2's, before r3's %v, in UTC", got[0].OldestUpdate, r3.UpdatedAt)
	}
	// Only the states asked for.
	if got, err := e.st.Counts(e.ctx, StateConfirming, StateSettled); err != nil || fmt.Sprint(got) != fmt.Sprint(want[:1]) {
		e.Errorf("Counts(confirming, settled) = %v, %v; want %v", got, err, want[:1])
	}
	if got, err := e.st.Counts(e.ctx, StateSettled); err != nil || len(got) != 0 {
		e.Errorf("Counts(settled) = %v, %v; want none", got, err)
	}
	// Every one parked: no oldest unparked.
	e.transition(Key{"beta", "r4"}, nil, StateReceived, Change{ParkedReason: ptr("bad request")}, nil)
	if got, err := e.st.Counts(e.ctx); err != nil || len(got) != 3 || got[2].Parked != 1 || !got[2].OldestUnparked.IsZero() {
		e.Errorf("Counts with beta's only settlement parked = %v, %v: want parked 1, no oldest unparked", got, err)
	}
}

// A read-only store reads what a writer (a running worker, which for
// SQLite holds PATH.lock) wrote, and refuses to write.
func testReadOnly(e *env) {
	e.register(sample("r1"))
	e.transition(Key{"acme", "r1"}, nil, StateConfirming, Change{Note: "n"}, nil)
	ro, err := Open(e.ctx, e.dsn, ReadOnly())
	if err != nil {
		e.Fatalf("Open read-only beside a writer: %v", err)
	}
	defer ro.Close()
	if s, err := ro.Get(e.ctx, Key{"acme", "r1"}); err != nil || s.State != StateConfirming {
		e.Fatalf("read-only Get = %v, %v", s.State, err)
	}
	if h, err := ro.History(e.ctx, Key{"acme", "r1"}); err != nil || len(h) != 2 {
		e.Fatalf("read-only History = %v, %v", h, err)
	}
	if c, err := ro.Counts(e.ctx); err != nil || len(c) != 1 {
		e.Fatalf("read-only Counts = %v, %v", c, err)
	}
	// The writer's later changes are seen.
	e.register(sample("r2"))
	if _, err := ro.Get(e.ctx, Key{"acme", "r2"}); err != nil {
		e.Fatalf("read-only Get of a later write: %v", err)
	}
	if _, _, err := ro.Register(e.ctx, sample("r3")); err == nil {
		e.Fatal("a read-only store wrote")
	}
	if _, err := e.st.Get(e.ctx, Key{"acme", "r3"}); !errors.Is(err, ErrNotFound) {
		e.Fatalf("r3 after a refused write: %v", err)
	}
	// The writer keeps writing while a reader is open.
	e.transition(Key{"acme", "r1"}, nil, StateConfirmed, Change{}, nil)
}

// testPurgeBodies: retention empties the bodies of finished, unparked
// settlements older than the cut-off, keeps the record, and keeps an
// unpublished event's body (the outbox needs it).
func testPurgeBodies(e *env) {
	start := e.clock.Now()
	old := e.register(sample("old")).Key
	e.transition(old, nil, StateSettled, Change{}, &StatusEvent{DedupKey: "final", MessageID: "m-old", SettlementStatus: "S", Body: []byte("<s>old</s>")})
	if err := e.st.MarkPublished(e.ctx, "m-old", time.Time{}); err != nil {
		e.Fatal(err)
	}
	unpub := e.register(sample("unpub")).Key
	e.transition(unpub, nil, StateRefused, Change{}, &StatusEvent{DedupKey: "final", MessageID: "m-unpub", SettlementStatus: "R", Body: []byte("<s>unpub</s>")})
	parked := e.register(sample("parked")).Key
	e.transition(parked, nil, StateSettled, Change{ParkedReason: ptr("no valid status")}, nil)
	inflight := e.register(sample("inflight")).Key
	e.transition(inflight, nil, StateSubmitting, Change{}, nil)
	e.clock.Set(start.Add(48 * time.Hour))
	recent := e.register(sample("recent")).Key
	e.transition(recent, nil, StateSettled, Change{}, nil)

	n, err := e.st.PurgeBodies(e.ctx, start.Add(24*time.Hour), 0)
	if err != nil || n != 2 {
		e.Fatalf("PurgeBodies = %d, %v; want 2 (old, unpub)", n, err)
	}
	for key, wantEmpty := range map[Key]bool{old: true, unpub: true, parked: false, inflight: false, recent: false} {
		s, err := e.st.Get(e.ctx, key)
		if err != nil {
			e.Fatal(err)
		}
		if (len(s.Request) == 0) != wantEmpty {
			e.Errorf("%s: request body %q, want emptied=%v", key.RequestID, s.Request, wantEmpty)
		}
		if s.State == "" || s.Amount == "" {
			e.Errorf("%s: the record itself was touched: %+v", key.RequestID, s)
		}
	}
	if evs := e.statuses(old); len(evs) != 1 || len(evs[0].Body) != 0 || evs[0].MessageID != "m-old" {
		e.Errorf("published event of old: %+v, want its body emptied and its message id kept", evs)
	}
	if evs := e.statuses(unpub); len(evs) != 1 || string(evs[0].Body) != "<s>unpub</s>" {
		e.Errorf("unpublished event of unpub: %+v, want its body kept for the outbox", evs)
	}
	if n, err := e.st.PurgeBodies(e.ctx, start.Add(24*time.Hour), 0); err != nil || n != 0 {
		e.Errorf("second PurgeBodies = %d, %v; want 0", n, err)
	}
}

// WithWarmPool opens the order locks' PostgreSQL sessions before Open
// returns (held by their loops), and the statement pool's (idle in it);
// SQLite ignores it.
func TestWarmPool(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresDSN(t)
	st, err := Open(ctx, dsn, WithWarmPool(12))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if s := st.(*sqlStore).lockDB.Stats(); s.OpenConnections != pgLockSessions || s.InUse != pgLockSessions {
		t.Errorf("after Open: %d lock sessions open, %d held; want %d of each", s.OpenConnections, s.InUse, pgLockSessions)
	}
	if s := st.(*sqlStore).db.Stats(); s.OpenConnections != DefaultPoolSize || s.Idle != DefaultPoolSize {
		t.Errorf("after Open: %d statement sessions open, %d idle; want %d of each", s.OpenConnections, s.Idle, DefaultPoolSize)
	}
	// Best effort: a role allowed 3 sessions opens the store all the same.
	role := fmt.Sprintf("warm_%d", time.Now().UnixNano()%1_000_000)
	admin := st.(*sqlStore).db
	if _, err := admin.ExecContext(ctx, `CREATE ROLE `+role+` LOGIN PASSWORD 'pw' CONNECTION LIMIT 3`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // after its database is dropped (cleanups run last first)
		if db, err := sql.Open("pgx", dsn); err == nil {
			_, _ = db.ExecContext(context.Background(), `DROP ROLE IF EXISTS `+role)
			db.Close()
		}
	})
	u, err := url.Parse(testenv.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	// The role owns its database (and so may create the schema there).
	if _, err := admin.ExecContext(ctx, `ALTER DATABASE `+strings.TrimPrefix(u.Path, "/")+` OWNER TO `+role); err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(role, "pw")
	limited, err := Open(ctx, u.String(), WithWarmPool(12))
	if err != nil {
		t.Fatalf("Open with more sessions asked than the server allows: %v", err)
	}
	if a, b := limited.(*sqlStore).db.Stats(), limited.(*sqlStore).lockDB.Stats(); a.OpenConnections+b.OpenConnections > 3 {
		t.Errorf("%d + %d sessions open for a role limited to 3", a.OpenConnections, b.OpenConnections)
	}
	limited.Close()
	lite, err := Open(ctx, "sqlite:"+t.TempDir()+"/s.db", WithWarmPool(12))
	if err != nil {
		t.Fatal(err)
	}
	lite.Close()
}
