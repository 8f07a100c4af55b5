package handlers

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// inProcessRig is a Radial-like settlement handler (its calls answered
// Accepted) and its status handler in one process, sharing Requests as the
// worker wires them; the status handler's store counts its reads. other is
// another replica's store on the same database (on SQLite, which one
// process owns, the same store).
type inProcessRig struct {
	*rig
	ps    *ProviderStatus
	reads *readCounter
	other store.Store
	// sent is the request each settlement's call sent, by requestId.
	sent map[string]*providers.Request
}

// inProcessBackends are the stores the in-process row is tested on.
var inProcessBackends = []string{"sqlite", "postgres"}

func newInProcessRig(t *testing.T, backend string) *inProcessRig {
	t.Helper()
	p := newScripted("radial", providers.Facts{Idempotent: true, StatusDeadline: time.Hour})
	p.accept = true
	base := newRig(t, p)
	other := base.st
	if backend == "postgres" {
		dsn := testenv.PostgresDSN(t)
		open := func() store.Store {
			st, err := store.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			return st
		}
		base.st, other = open(), open()
		base.h.Store = base.st
	}
	r := &inProcessRig{rig: base, other: other, sent: map[string]*providers.Request{}}
	p.onSettle = func(req *providers.Request) { r.sent[req.RequestID] = req }
	reqs := NewRequests(8)
	r.h.Requests = reqs
	r.reads = &readCounter{Store: r.st}
	r.ps = &ProviderStatus{Provider: "radial", Queue: "q.status.radial", Store: r.reads, Pub: r.pub, Log: zerolog.Nop(), Requests: reqs}
	return r
}

// otherReplica is the status handler of another replica: no row of this
// process's calls.
func (r *inProcessRig) otherReplica() *ProviderStatus {
	return &ProviderStatus{Provider: "radial", Queue: "q.status.radial", Store: r.other, Pub: r.pub, Log: zerolog.Nop()}
}

// acknowledge runs request id through the settlement handler to
// acknowledged, nothing published.
func (r *inProcessRig) acknowledge(t *testing.T, id string) {
	t.Helper()
	r.deliver(t, requestMsg(t, id, messages.SettlementDebit, nil))
	if ms := r.pub.take(); len(ms) != 0 {
		t.Fatalf("acknowledging %s published %d messages, want none", id, len(ms))
	}
	if s := r.get(t, id); s.State != store.StateAcknowledged {
		t.Fatalf("%s is %s, want acknowledged", id, s.State)
	}
}

// status is Radial's status for the call of request id, as it would send
// it (our correlation id as ClientContext), changed by edit when set.
func (r *inProcessRig) status(t *testing.T, id, verdict, decline, msgID string, edit func(*messages.PaymentSettlementStatus)) *message.Message {
	t.Helper()
	req := r.sent[id]
	if req == nil {
		t.Fatalf("no call sent for %s", id)
	}
	st := statusFor(req.Message, req.StoreID, req.TenderType, verdict, decline)
	st.ClientContext = correlationID(store.Key{Provider: "radial", RequestID: id}, nil)
	if edit != nil {
		edit(&st)
	}
	body, err := messages.Encode(st)
	if err != nil {
		t.Fatal(err)
	}
	m := message.NewMessage(msgID, body)
	m.Metadata.Set(broker.MetaContentType, ContentTypeXML)
	m.Metadata.Set(broker.MetaMessageID, msgID)
	return m
}

// handle feeds a status to the status handler and returns what it
// published and how many Finds it made.
func (r *inProcessRig) handle(t *testing.T, msg *message.Message) ([]sentMsg, int64) {
	t.Helper()
	before := r.reads.finds.Load()
	if err := r.ps.HandleSafely(msg); err != nil {
		t.Fatalf("status handler: %v", err)
	}
	return r.pub.take(), r.reads.finds.Load() - before
}

// wantEvent checks that ms is our one status event, with verdict, for the
// order system's own ClientContext.
func wantEvent(t *testing.T, ms []sentMsg, verdict string) {
	t.Helper()
	ev := only(t, ms, statusQ)
	if got := ev.Metadata.Get(HeaderSettlementStatus); got != verdict {
		t.Errorf("published %q, want %q", got, verdict)
	}
	st, err := messages.DecodeSettlementStatus(ev.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if st.ClientContext != testRequest().ClientContext {
		t.Errorf("our event's ClientContext %q, want the order system's %q", st.ClientContext, testRequest().ClientContext)
	}
}

// A status answering this process's own call (its correlation id, store
// and money those of the settlement the settlement handler just recorded
// acknowledged) is applied from that row, without looking the settlement
// up (issue 9: the look-up was 8.5 % of the worker's CPU); an S and an R
// alike, and once only: a repeat, or a chargeback after the S, looks it up
// as before.
func TestOwnStatusIsAppliedWithoutALookUp(t *testing.T) {
	for _, c := range []struct {
		verdict, decline string
		want             store.State
	}{
		{messages.StatusSettled, "", store.StateSettled},
		{messages.StatusRejected, "card expired", store.StateRefused},
	} {
		t.Run(c.verdict, func(t *testing.T) {
			r := newInProcessRig(t, "sqlite")
			r.acknowledge(t, "req-1")
			ms, finds := r.handle(t, r.status(t, "req-1", c.verdict, c.decline, "radial-1", nil))
			wantEvent(t, ms, c.verdict)
			if finds != 0 {
				t.Errorf("%d Finds for a status answering this process's own call, want 0", finds)
			}
			s := r.get(t, "req-1")
			if s.State != c.want || s.DeclineReason != c.decline {
				t.Errorf("req-1 is %s (%q), want %s (%q)", s.State, s.DeclineReason, c.want, c.decline)
			}
			if last := r.lastHistory(t, s.Key); last.From != store.StateAcknowledged || last.To != c.want || last.Note != "provider status "+c.verdict {
				t.Errorf("last history line %+v, want acknowledged → %s, %q", last, c.want, "provider status "+c.verdict)
			}

			// The same status again under a new message id: a repeat,
			// republished, nothing recorded.
			ms, finds = r.handle(t, r.status(t, "req-1", c.verdict, c.decline, "radial-2", nil))
			wantEvent(t, ms, c.verdict)
			if finds == 0 {
				t.Error("a repeated status was applied without a look-up: the in-process row must be used once")
			}
			if evs, _ := r.st.Statuses(context.Background(), s.Key); len(evs) != 1 {
				t.Errorf("%d events after a repeat, want 1", len(evs))
			}
		})
	}
}

// The sweeper can park an acknowledged settlement (no status within the
// provider's deadline) without moving its state. A status answering this
// process's call arriving after that must still be applied as a status
// for a parked settlement ("..., after it was parked", the parking
// cleared), not from the row as acknowledged before the parking: the move
// from that row compares the parking (store.Change.IfNotParked), and on
// the conflict the settlement is looked up.
func TestOwnStatusAfterTheSweeperParkedKeepsTheParkedNote(t *testing.T) {
	for _, backend := range inProcessBackends {
		t.Run(backend, func(t *testing.T) { ownStatusAfterParking(t, backend) })
	}
}

func ownStatusAfterParking(t *testing.T, backend string) {
	r := newInProcessRig(t, backend)
	r.acknowledge(t, "req-1")
	// Another replica's sweeper, on PostgreSQL. A round that could not
	// take the sweep lock within its 200ms (a loaded machine, the lock
	// session still opening) is skipped: swept again.
	w := r.sweeper(2 * time.Hour)
	w.Store = r.other
	rep, err := w.Sweep(context.Background())
	for try := 0; err == nil && rep.Parked == 0 && try < 20; try++ {
		rep, err = w.Sweep(context.Background())
	}
	if err != nil || rep.Parked != 1 {
		t.Fatalf("sweep %+v, %v: want req-1 parked", rep, err)
	}
	r.pub.take() // its parked copy
	if s := r.get(t, "req-1"); s.State != store.StateAcknowledged || s.ParkedReason == "" {
		t.Fatalf("req-1 is %s, parked %q: want acknowledged and parked", s.State, s.ParkedReason)
	}
	ms, finds := r.handle(t, r.status(t, "req-1", messages.StatusSettled, "", "radial-1", nil))
	wantEvent(t, ms, messages.StatusSettled)
	s := r.get(t, "req-1")
	if s.State != store.StateSettled || s.ParkedReason != "" {
		t.Errorf("req-1 is %s, parked %q: want settled, its parking cleared", s.State, truncate(s.ParkedReason, 60))
	}
	if last := r.lastHistory(t, s.Key); last.To != store.StateSettled || last.Note != "provider status S, after it was parked" {
		t.Errorf("last history line %q (→ %s), want %q: the status was applied from the row as it was before the parking",
			last.Note, last.To, "provider status S, after it was parked")
	}
	if finds == 0 {
		t.Error("no look-up for a settlement parked since this process acknowledged it")
	}
}

// The in-process row is a copy: whatever moved the settlement since (a
// status another replica applied, a reconciliation), or a status that does
// not name it exactly, must not be applied from it. Each such status is
// handled as before this process kept rows: looked up, and applied,
// republished or parked from what the store holds. On PostgreSQL the other
// replica's writes are on another store.
func TestStatusNotMatchingTheInProcessRowTakesTheLookUp(t *testing.T) {
	for _, backend := range inProcessBackends {
		t.Run(backend, func(t *testing.T) { statusNotMatchingTheRow(t, backend) })
	}
}

func statusNotMatchingTheRow(t *testing.T, backend string) {
	ctx := context.Background()
	cases := []struct {
		name string
		// before runs after req-1 is acknowledged, before the status.
		before  func(t *testing.T, r *inProcessRig)
		verdict string
		decline string
		edit    func(*messages.PaymentSettlementStatus)
		// Either our event is published with this verdict, or the
		// status is parked with a reason containing park.
		wantEvent  string
		park       string
		wantState  store.State
		wantEvents int
	}{
		{
			name: "another replica applied the S: a chargeback R is a later status",
			before: func(t *testing.T, r *inProcessRig) {
				if err := r.otherReplica().HandleSafely(r.status(t, "req-1", messages.StatusSettled, "", "radial-1", nil)); err != nil {
					t.Fatal(err)
				}
				r.pub.take()
			},
			verdict: messages.StatusRejected, decline: "chargeback",
			wantEvent: messages.StatusRejected, wantState: store.StateRefused, wantEvents: 2,
		},
		{
			name: "another replica applied the S: the same S again is republished",
			before: func(t *testing.T, r *inProcessRig) {
				if err := r.otherReplica().HandleSafely(r.status(t, "req-1", messages.StatusSettled, "", "radial-1", nil)); err != nil {
					t.Fatal(err)
				}
				r.pub.take()
			},
			verdict:   messages.StatusSettled,
			wantEvent: messages.StatusSettled, wantState: store.StateSettled, wantEvents: 1,
		},
		{
			name: "refused meanwhile by another path: an S is not applied over it",
			before: func(t *testing.T, r *inProcessRig) {
				reason := "refused by a person"
				if _, _, err := r.other.Transition(ctx, store.Key{Provider: "radial", RequestID: "req-1"}, []store.State{store.StateAcknowledged},
					store.StateRefused, store.Change{DeclineReason: &reason, Note: "reconciled"}, nil); err != nil {
					t.Fatal(err)
				}
			},
			verdict: messages.StatusSettled,
			park:    "which is refused", wantState: store.StateRefused,
		},
		{
			name:    "another amount: conflicting, parked",
			verdict: messages.StatusSettled,
			edit:    func(st *messages.PaymentSettlementStatus) { st.Amount.Value = "90.00" },
			park:    "conflicting", wantState: store.StateAcknowledged,
		},
		{
			name:    "another store: no settlement of that store, parked naming ours",
			verdict: messages.StatusSettled,
			edit:    func(st *messages.PaymentSettlementStatus) { st.StoreID = "STORE2" },
			park:    "req-1", wantState: store.StateAcknowledged,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newInProcessRig(t, backend)
			r.acknowledge(t, "req-1")
			if c.before != nil {
				c.before(t, r)
			}
			ms, finds := r.handle(t, r.status(t, "req-1", c.verdict, c.decline, "radial-2", c.edit))
			if c.park != "" {
				parked := only(t, ms, broker.ProviderStatusParkedQueue("radial"))
				if reason := parked.Metadata.Get(HeaderParkedReason); !strings.Contains(reason, c.park) {
					t.Errorf("parked %q, want it to say %q", reason, c.park)
				}
			} else {
				wantEvent(t, ms, c.wantEvent)
			}
			if finds == 0 {
				t.Error("handled from the in-process row without a look-up")
			}
			key := store.Key{Provider: "radial", RequestID: "req-1"}
			if s := r.get(t, "req-1"); s.State != c.wantState {
				t.Errorf("req-1 is %s, want %s", s.State, c.wantState)
			}
			if evs, _ := r.st.Statuses(ctx, key); len(evs) != c.wantEvents {
				t.Errorf("%d events, want %d", len(evs), c.wantEvents)
			}
		})
	}
}

// duringCall runs request id through the settlement handler while status
// (made for its call) is handled by ps in the middle of the provider's
// call, before the settlement handler records acknowledged (Radial's
// sandbox at 0 ms answers that fast). It returns what the status handler
// published, its Finds, and what the settlement handler published after.
func (r *inProcessRig) duringCall(t *testing.T, ps *ProviderStatus, id, verdict, decline string) (status []sentMsg, finds int64, after []sentMsg) {
	t.Helper()
	done := make(chan error, 1)
	r.p.onSettle = func(req *providers.Request) {
		r.sent[req.RequestID] = req
		msg := r.status(t, req.RequestID, verdict, decline, "radial-1", nil)
		before := r.reads.finds.Load()
		// In a goroutine: under the order lock (the look-up path's
		// fallback) it would wait for this delivery to end.
		go func() { done <- ps.HandleSafely(msg) }()
		select {
		case err := <-done:
			done <- err
			status = r.pub.take()
		case <-time.After(5 * time.Second):
		}
		finds = r.reads.finds.Load() - before
	}
	r.deliver(t, requestMsg(t, id, messages.SettlementDebit, nil))
	if err := <-done; err != nil {
		t.Fatalf("status handler: %v", err)
	}
	return status, finds, r.pub.take()
}

// A status that comes while the settlement handler's call is in flight,
// before it recorded acknowledged (with Radial's sandbox at 0 ms, most of
// them: issue 9's profile still showed the look-up at ~4 % of the worker's
// CPU), answers this process's own call: it is applied from the row kept
// when the call was recorded (submitting), without a look-up, and its
// event is the look-up path's, byte for byte. The settlement handler's
// acknowledged write then loses to the verdict (verdictFirst) and ends
// there: nothing more published, nothing parked, its outcome counted
// acknowledged as before, no row kept; a chargeback after it is a later
// status, looked up. On PostgreSQL the look-up path is another replica's,
// on another store.
func TestStatusDuringTheCallIsAppliedWithoutALookUp(t *testing.T) {
	for _, backend := range inProcessBackends {
		t.Run(backend, func(t *testing.T) { statusDuringTheCall(t, backend) })
	}
}

func statusDuringTheCall(t *testing.T, backend string) {
	ctx := context.Background()
	key := store.Key{Provider: "radial", RequestID: "req-1"}
	for _, c := range []struct {
		verdict, decline string
		want             store.State
	}{
		{messages.StatusSettled, "", store.StateSettled},
		{messages.StatusRejected, "card expired", store.StateRefused},
	} {
		t.Run(c.verdict, func(t *testing.T) {
			type result struct {
				ev      sentMsg
				rec     store.StatusEvent
				finds   int64
				s       store.Settlement
				notes   []string
				metrics *Metrics
				r       *inProcessRig
			}
			run := func(own bool) result {
				r := newInProcessRig(t, backend)
				m := NewMetrics(prometheus.NewRegistry())
				r.h.Metrics = m
				ps := r.ps
				if !own {
					ps = r.otherReplica()
					r.reads = &readCounter{Store: r.other}
					ps.Store = r.reads
				}
				status, finds, after := r.duringCall(t, ps, "req-1", c.verdict, c.decline)
				wantEvent(t, status, c.verdict)
				if len(after) != 0 {
					t.Errorf("the settlement handler published %d messages after the status (first to %s), want none", len(after), after[0].key)
				}
				s := r.get(t, "req-1")
				if s.State != c.want || s.ParkedReason != "" || s.DeclineReason != c.decline {
					t.Errorf("req-1 is %s, parked %q, declined %q; want %s, not parked, %q", s.State, s.ParkedReason, s.DeclineReason, c.want, c.decline)
				}
				evs, err := r.st.Statuses(ctx, key)
				if err != nil || len(evs) != 1 {
					t.Fatalf("events %v, %v: want one", evs, err)
				}
				notes := r.historyNotes(t, key)
				for o, want := range map[string]float64{"acknowledged": 1, "parked": 0, string(c.want): 0} {
					if v := testutil.ToFloat64(m.outcomes.WithLabelValues("radial", o)); v != want {
						t.Errorf("settlement handler's outcome %q counted %v, want %v", o, v, want)
					}
				}
				return result{ev: status[0], rec: evs[0], finds: finds, s: s, notes: notes, metrics: m, r: r}
			}
			own, looked := run(true), run(false)
			if own.finds != 0 || looked.finds == 0 {
				t.Errorf("Finds: %d from the row, %d looked up; want 0 and some", own.finds, looked.finds)
			}
			if own.ev.key != looked.ev.key || string(own.ev.msg.Payload) != string(looked.ev.msg.Payload) {
				t.Errorf("from the row: %s %s\nlooked up: %s %s", own.ev.key, own.ev.msg.Payload, looked.ev.key, looked.ev.msg.Payload)
			}
			delete(own.ev.msg.Metadata, broker.MetaTimestamp)
			delete(looked.ev.msg.Metadata, broker.MetaTimestamp)
			if !reflect.DeepEqual(own.ev.msg.Metadata, looked.ev.msg.Metadata) {
				t.Errorf("headers from the row %v, looked up %v", own.ev.msg.Metadata, looked.ev.msg.Metadata)
			}
			if own.rec.MessageID != looked.rec.MessageID || own.rec.DedupKey != looked.rec.DedupKey || string(own.rec.Body) != string(looked.rec.Body) ||
				(own.rec.PublishedAt == nil) != (looked.rec.PublishedAt == nil) {
				t.Errorf("event recorded from the row %+v, looked up %+v", own.rec, looked.rec)
			}
			if !reflect.DeepEqual(own.notes, looked.notes) || own.s.Attempts != looked.s.Attempts {
				t.Errorf("history from the row %q (attempts %d), looked up %q (attempts %d)", own.notes, own.s.Attempts, looked.notes, looked.s.Attempts)
			}

			r := own.r
			if row, _, ok := r.h.Requests.awaitedRow(correlationID(key, nil), func(store.Settlement) bool { return true }); ok {
				t.Fatalf("a row was kept for a settlement whose acknowledged write lost to its verdict: %s", row.State)
			}
			ms, finds := r.handle(t, r.status(t, "req-1", messages.StatusRejected, "chargeback", "radial-2", nil))
			if c.verdict == messages.StatusSettled {
				wantEvent(t, ms, messages.StatusRejected)
				if s := r.get(t, "req-1"); s.State != store.StateRefused {
					t.Errorf("req-1 is %s after the chargeback, want refused", s.State)
				}
			}
			if finds == 0 {
				t.Error("a later status was applied without a look-up")
			}
		})
	}
}

// The in-process row keeps no request body: our event is made from the
// request this process decoded. It must be the event the look-up path
// publishes for the same status, byte for byte and header for header (the
// order system's own ClientContext and payment context back), with the
// same event recorded, published and marked.
func TestOwnStatusPublishesTheLookUpsEvent(t *testing.T) {
	for _, c := range []struct{ verdict, decline string }{
		{messages.StatusSettled, ""},
		{messages.StatusRejected, "card expired"},
	} {
		t.Run(c.verdict, func(t *testing.T) {
			ctx := context.Background()
			key := store.Key{Provider: "radial", RequestID: "req-1"}
			run := func(own bool) (sentMsg, store.StatusEvent, int64) {
				r := newInProcessRig(t, "sqlite")
				r.acknowledge(t, "req-1")
				ps := r.ps
				if !own {
					ps = r.otherReplica()
					ps.Store = r.reads
				}
				before := r.reads.finds.Load()
				if err := ps.HandleSafely(r.status(t, "req-1", c.verdict, c.decline, "radial-1", nil)); err != nil {
					t.Fatal(err)
				}
				ms := r.pub.take()
				wantEvent(t, ms, c.verdict)
				evs, err := r.st.Statuses(ctx, key)
				if err != nil || len(evs) != 1 {
					t.Fatalf("events %v, %v: want one", evs, err)
				}
				return ms[0], evs[0], r.reads.finds.Load() - before
			}
			own, ownEv, ownFinds := run(true)
			looked, lookedEv, lookedFinds := run(false)
			if ownFinds != 0 || lookedFinds == 0 {
				t.Fatalf("Finds: %d from the row, %d looked up; want 0 and some", ownFinds, lookedFinds)
			}
			if own.key != looked.key || string(own.msg.Payload) != string(looked.msg.Payload) {
				t.Errorf("from the row: %s %s\nlooked up: %s %s", own.key, own.msg.Payload, looked.key, looked.msg.Payload)
			}
			// The publish time differs, as between any two publishes.
			delete(own.msg.Metadata, broker.MetaTimestamp)
			delete(looked.msg.Metadata, broker.MetaTimestamp)
			if !reflect.DeepEqual(own.msg.Metadata, looked.msg.Metadata) {
				t.Errorf("headers from the row %v, looked up %v", own.msg.Metadata, looked.msg.Metadata)
			}
			if ownEv.MessageID != lookedEv.MessageID || ownEv.DedupKey != lookedEv.DedupKey || string(ownEv.Body) != string(lookedEv.Body) ||
				(ownEv.PublishedAt == nil) != (lookedEv.PublishedAt == nil) {
				t.Errorf("event recorded from the row %+v, looked up %+v", ownEv, lookedEv)
			}
		})
	}
}

// A row kept, then the settlement parked and its parking cleared again (a
// replay that resumed it; its correlation id is made from its key, so it
// keeps it, whatever its attempts), then Radial's status for the call:
// Radial's status carries nothing that tells one call from another, so
// the look-up would apply it to the settlement awaiting its verdict, and
// so does the row, as for an unparked settlement (the parking is no longer
// there to note). A status applied from the row is never one the look-up
// would have handled otherwise.
func TestOwnStatusAfterAParkingClearedIsAppliedAsTheLookUpWould(t *testing.T) {
	ctx := context.Background()
	for _, backend := range inProcessBackends {
		t.Run(backend, func(t *testing.T) {
			run := func(own bool) (store.Settlement, string) {
				r := newInProcessRig(t, backend)
				r.acknowledge(t, "req-1")
				key := store.Key{Provider: "radial", RequestID: "req-1"}
				reason, none := "no provider status within its deadline", ""
				if _, _, err := r.other.Transition(ctx, key, []store.State{store.StateAcknowledged}, store.StateAcknowledged,
					store.Change{ParkedReason: &reason, Note: "parked by the sweeper"}, nil); err != nil {
					t.Fatal(err)
				}
				if _, _, err := r.other.Transition(ctx, key, []store.State{store.StateAcknowledged}, store.StateSubmitting,
					store.Change{ParkedReason: &none, IncAttempts: true, Note: "replayed after parking"}, nil); err != nil {
					t.Fatal(err)
				}
				ps := r.ps
				if !own {
					ps = r.otherReplica()
				}
				before := r.reads.finds.Load()
				if err := ps.HandleSafely(r.status(t, "req-1", messages.StatusSettled, "", "radial-1", nil)); err != nil {
					t.Fatal(err)
				}
				if own && r.reads.finds.Load() != before {
					t.Error("the row was not used")
				}
				wantEvent(t, r.pub.take(), messages.StatusSettled)
				return r.get(t, "req-1"), r.lastHistory(t, key).Note
			}
			fromRow, rowNote := run(true)
			lookedUp, lookedNote := run(false)
			if fromRow.State != lookedUp.State || fromRow.ParkedReason != lookedUp.ParkedReason || rowNote != lookedNote ||
				fromRow.Attempts != lookedUp.Attempts {
				t.Errorf("from the row: %s, parked %q, attempts %d, %q; looked up: %s, parked %q, attempts %d, %q",
					fromRow.State, fromRow.ParkedReason, fromRow.Attempts, rowNote, lookedUp.State, lookedUp.ParkedReason, lookedUp.Attempts, lookedNote)
			}
		})
	}
}

// The row kept when the call is recorded stays when the call fails: a
// timeout or an error a proxy may give after forwarding it (the call may
// have reached Radial), an answer that it was not sent (a proxy's 503 may
// follow a call that went through). Radial's status for that call, coming
// later, is applied from the row as the look-up would apply it: the
// settlement still awaits its verdict, and the correlation id is made
// from its key, the same for every call. A call refused at once finished
// the settlement (finished states are never left): a status after it is
// handled from the store, as the look-up path handles it. Each case is
// run with this process's status handler and with another replica's (the
// look-up path), which must end in the same state, parking, attempts,
// history and published messages.
func TestOwnStatusAfterAFailedCallIsAppliedAsTheLookUpWould(t *testing.T) {
	key := store.Key{Provider: "radial", RequestID: "req-1"}
	for _, c := range []struct {
		name    string
		fail    error
		fromRow bool // applied without a look-up
	}{
		{"timed out", providers.TransientError("", "timeout", context.DeadlineExceeded), true},
		{"answered not sent", providers.NotSentError("", "503 from a proxy", nil), true},
		{"refused at once", providers.PermanentError("", "card refused", nil), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			type result struct {
				s     store.Settlement
				notes []string
				sent  []string
				finds int64
			}
			run := func(own bool) result {
				r := newInProcessRig(t, "sqlite")
				r.p.settleErrs = []error{c.fail}
				r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
				r.pub.take() // its retry copy, or our R
				ps := r.ps
				if !own {
					ps = r.otherReplica()
					ps.Store = r.reads
				}
				before := r.reads.finds.Load()
				if err := ps.HandleSafely(r.status(t, "req-1", messages.StatusSettled, "", "radial-1", nil)); err != nil {
					t.Fatal(err)
				}
				var sent []string
				for _, m := range r.pub.take() {
					sent = append(sent, m.key+" "+string(m.msg.Payload))
				}
				notes := r.historyNotes(t, key)
				return result{s: r.get(t, "req-1"), notes: notes, sent: sent, finds: r.reads.finds.Load() - before}
			}
			own, looked := run(true), run(false)
			if (own.finds == 0) != c.fromRow || looked.finds == 0 {
				t.Errorf("Finds: %d from this process, %d looked up; want from the row: %v", own.finds, looked.finds, c.fromRow)
			}
			if own.s.State != looked.s.State || own.s.ParkedReason != looked.s.ParkedReason || own.s.Attempts != looked.s.Attempts ||
				!reflect.DeepEqual(own.notes, looked.notes) || !reflect.DeepEqual(own.sent, looked.sent) {
				t.Errorf("this process: %s, parked %q, attempts %d, %q, sent %q\nlooked up: %s, parked %q, attempts %d, %q, sent %q",
					own.s.State, own.s.ParkedReason, own.s.Attempts, own.notes, own.sent,
					looked.s.State, looked.s.ParkedReason, looked.s.Attempts, looked.notes, looked.sent)
			}
			if len(own.sent) == 0 {
				t.Error("the status published nothing")
			}
		})
	}
}

// A row kept when the call was recorded, the call timed out, then the
// settlement parked where it is (the sweeper: no status within its
// deadline, or a stale call; another replica's on PostgreSQL): Radial's
// status for the call must be recorded as one for a parked settlement
// ("..., after it was parked", the parking cleared), not from the row as
// it was before the parking: the row's move compares the parking, and on
// the conflict the settlement is looked up.
func TestStatusAfterTheCalledRowWasParkedKeepsTheParkedNote(t *testing.T) {
	ctx := context.Background()
	key := store.Key{Provider: "radial", RequestID: "req-1"}
	for _, backend := range inProcessBackends {
		t.Run(backend, func(t *testing.T) {
			r := newInProcessRig(t, backend)
			r.p.settleErrs = []error{providers.TransientError("", "timeout", context.DeadlineExceeded)}
			r.deliver(t, requestMsg(t, "req-1", messages.SettlementDebit, nil))
			r.pub.take() // its retry copy
			reason := "the settle call got no answer within its deadline"
			if _, _, err := r.other.Transition(ctx, key, []store.State{store.StateSubmitting}, store.StateSubmitting,
				store.Change{ParkedReason: &reason, Note: "parked by the sweeper"}, nil); err != nil {
				t.Fatal(err)
			}
			ms, finds := r.handle(t, r.status(t, "req-1", messages.StatusSettled, "", "radial-1", nil))
			wantEvent(t, ms, messages.StatusSettled)
			if finds == 0 {
				t.Error("no look-up for a settlement parked since this process recorded its call")
			}
			s := r.get(t, "req-1")
			if s.State != store.StateSettled || s.ParkedReason != "" {
				t.Errorf("req-1 is %s, parked %q: want settled, its parking cleared", s.State, s.ParkedReason)
			}
			if last := r.lastHistory(t, key); last.From != store.StateSubmitting || last.Note != "provider status S, after it was parked" {
				t.Errorf("last history line %s → %s %q, want submitting → settled %q", last.From, last.To, last.Note, "provider status S, after it was parked")
			}
		})
	}
}

// lastHistory is the last line of the settlement's history.
func (r *inProcessRig) lastHistory(t *testing.T, key store.Key) store.Transition {
	t.Helper()
	hist, err := r.st.History(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return hist[len(hist)-1]
}

// historyNotes is the settlement's history as "from>to note" lines.
func (r *inProcessRig) historyNotes(t *testing.T, key store.Key) []string {
	t.Helper()
	hist, err := r.st.History(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	for _, h := range hist {
		notes = append(notes, string(h.From)+">"+string(h.To)+" "+h.Note)
	}
	return notes
}
