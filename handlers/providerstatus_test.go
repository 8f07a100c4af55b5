package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/money"
	"github.com/settlement-worker/settlement-worker/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	statusQueue   = "q.status.all"
	radialQueue   = "q.Payments.Settlements.Status.radial"
	testStoreID   = "S1"
	testTender    = "VC"
	testOrderID   = "ORD-1"
	testAmount    = "100.00"
	testCurrency  = "USD"
	otherOrderID  = "ORD-404"
	conflictingCC = "cc-A"
)

// stepClock gives every store timestamp its own millisecond, so that "oldest"
// is well defined however fast the test seeds.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Millisecond)
	return c.now
}

// psEnv is one case's infrastructure: a fresh vhost with the status
// exchange, a status queue bound to settlement.status.# and the provider
// status parked queue; a real SQLite store; the handler under test.
type psEnv struct {
	t  *testing.T
	h  *ProviderStatus
	st store.Store
	ch *amqp.Channel
	// corr maps each seeded request id to the correlation id it was
	// registered with (what Radial echoes as ClientContext).
	corr map[string]string
}

func newPSEnv(t *testing.T) *psEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	top := broker.Topology{
		StatusQueues:         []broker.StatusQueue{{Name: statusQueue, BindingKey: "settlement.status.#"}},
		ParkProviderStatuses: []string{"radial"},
	}
	pub, ch := onBroker(ctx, t, top)

	clock := &stepClock{now: time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)}
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "s.db"), store.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return &psEnv{
		t:  t,
		st: st,
		ch: ch,
		h: &ProviderStatus{
			Provider: "radial", Queue: radialQueue, Store: st, Pub: pub,
			Log: zerolog.Nop(),
		},
	}
}

// seedSpec is a settlement registered directly in the store.
type seedSpec struct {
	id     string
	cc     string // the request's own ClientContext ("" for none)
	amount string // default testAmount
	order  string // default testOrderID
	state  store.State
	json   bool   // request stored as JSON
	ct     string // the content type recorded, when not the default
	// legacy registers the settlement as the worker did before correlation
	// ids were unique: CorrelationID = its own ClientContext, else its id.
	legacy bool
}

func (e *psEnv) seed(s seedSpec) store.Settlement {
	e.t.Helper()
	ctx := context.Background()
	if s.amount == "" {
		s.amount = testAmount
	}
	if s.order == "" {
		s.order = testOrderID
	}
	req := &messages.PaymentSettlementRequest{
		RequestID: s.id,
		PaymentContext: &messages.PaymentContext{
			OrderID:                s.order,
			PaymentAccountUniqueID: messages.AccountID{IsToken: "true", Value: "4111110PASeK1111"},
		},
		InvoiceID:      "inv-" + s.id,
		Amount:         messages.Amount{CurrencyCode: testCurrency, Value: s.amount},
		TaxAmount:      &messages.Amount{CurrencyCode: testCurrency, Value: "0.00"},
		SettlementType: messages.SettlementDebit,
		ClientContext:  s.cc,
	}
	body, ct := []byte(nil), ContentTypeXML
	var err error
	if s.json {
		body, err = json.Marshal(req)
		ct = ContentTypeJSON
	} else {
		body, err = messages.Encode(req)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	if s.ct != "" {
		ct = s.ct
	}
	key := store.Key{Provider: "radial", RequestID: s.id}
	corr := correlationID(key, req)
	if s.legacy {
		corr = or(s.cc, s.id)
	}
	if e.corr == nil {
		e.corr = map[string]string{}
	}
	e.corr[s.id] = corr
	m, err := req.Amount.Money()
	if err != nil {
		e.t.Fatal(err)
	}
	_, created, err := e.st.Register(ctx, store.Settlement{
		Key: key, Fingerprint: req.Fingerprint(), StoreID: testStoreID, OrderID: s.order, TenderType: testTender,
		SettlementType: messages.SettlementDebit, Amount: m.String(), Currency: testCurrency,
		ClientContext: s.cc, CorrelationID: corr, Request: body, ContentType: ct,
		Headers: map[string]string{HeaderStoreID: testStoreID, HeaderTenderType: testTender},
	})
	if err != nil || !created {
		e.t.Fatalf("register %s: created %v, %v", s.id, created, err)
	}
	path := map[store.State][]store.State{
		store.StateConfirmed:    {store.StateConfirming, store.StateConfirmed},
		store.StateSubmitting:   {store.StateConfirming, store.StateConfirmed, store.StateSubmitting},
		store.StateAcknowledged: {store.StateConfirming, store.StateConfirmed, store.StateSubmitting, store.StateAcknowledged},
		store.StateSettled:      {store.StateConfirming, store.StateConfirmed, store.StateSubmitting, store.StateAcknowledged, store.StateSettled},
	}[s.state]
	if s.state != store.StateReceived && path == nil {
		e.t.Fatalf("seed: no path to %s", s.state)
	}
	var out store.Settlement
	for _, to := range path {
		if out, _, err = e.st.Transition(ctx, key, nil, to, store.Change{Note: "seed"}, nil); err != nil {
			e.t.Fatalf("seed %s → %s: %v", s.id, to, err)
		}
	}
	return out
}

// statusSpec is a PaymentSettlementStatus as Radial would send it.
type statusSpec struct {
	cc      string
	ccOf    string // when set, cc is the correlation id of this seeded request
	amount  string // default testAmount
	order   string // default testOrderID
	tender  string // default testTender
	store   string // StoreId; default testStoreID
	verdict string // default S
	decline string
	msgID   string // AMQP message_id; "" for none
	raw     string // when set, the body verbatim
}

func (s statusSpec) message(t *testing.T) *message.Message {
	t.Helper()
	body := []byte(s.raw)
	if s.raw == "" {
		st := messages.PaymentSettlementStatus{
			PaymentContext: &messages.PaymentContext{
				OrderID:                or(s.order, testOrderID),
				PaymentAccountUniqueID: messages.AccountID{IsToken: "true", Value: "4111110PASeK1111"},
			},
			TenderType:       or(s.tender, testTender),
			Amount:           messages.Amount{CurrencyCode: testCurrency, Value: or(s.amount, testAmount)},
			SettlementType:   messages.SettlementDebit,
			SettlementStatus: or(s.verdict, messages.StatusSettled),
			DeclineReason:    s.decline,
			ClientContext:    s.cc,
			StoreID:          or(s.store, testStoreID),
		}
		var err error
		if body, err = messages.Encode(st); err != nil {
			t.Fatal(err)
		}
	}
	uuid := s.msgID
	if uuid == "" {
		uuid = fmt.Sprintf("wm-%d", time.Now().UnixNano()) // watermill's own id, not the AMQP one
	}
	m := message.NewMessage(uuid, body)
	m.Metadata.Set(broker.MetaContentType, ContentTypeXML)
	if s.msgID != "" {
		m.Metadata.Set(broker.MetaMessageID, s.msgID)
	}
	m.Metadata.Set("x-delivery-count", "0")
	return m
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// step feeds one status to the handler and says what must follow.
type step struct {
	// seed, when set, registers a settlement before this step.
	seed *seedSpec
	st   statusSpec
	// Either an event for target is published...
	target    string
	wantCC    string // ClientContext of the event (our request's own)
	wantState store.State
	sameAs    int // index of an earlier step whose event must be republished; -1 for a new event
	// ...or the status is parked with a reason containing every
	// "|"-separated part of park.
	park string
}

func (e *psEnv) get(queue string) (amqp.Delivery, bool) {
	e.t.Helper()
	d, ok, err := e.ch.Get(queue, true)
	if err != nil {
		e.t.Fatalf("get %s: %v", queue, err)
	}
	return d, ok
}

func TestProviderStatusCorrelation(t *testing.T) {
	ack := store.StateAcknowledged
	settled := store.StateSettled
	refused := store.StateRefused
	cases := []struct {
		name  string
		seeds []seedSpec
		steps []step
		// final states of every seeded settlement, and their event counts
		wantStates map[string]store.State
		wantEvents map[string]int
	}{
		{
			name: "our correlation id matches exactly that settlement, not an older look-alike",
			seeds: []seedSpec{
				{id: "req-old", cc: "cc-old", state: ack},
				{id: "req-A", cc: "cc-A", state: ack},
			},
			steps:      []step{{st: statusSpec{ccOf: "req-A", msgID: "m1"}, target: "req-A", wantCC: "cc-A", wantState: settled, sameAs: -1}},
			wantStates: map[string]store.State{"req-old": ack, "req-A": settled},
			wantEvents: map[string]int{"req-old": 0, "req-A": 1},
		},
		{
			name: "two settlements with the same ClientContext, order and amount: both settled, one event each",
			seeds: []seedSpec{
				{id: "req-1", cc: "cc-same", state: ack},
				{id: "req-2", cc: "cc-same", state: ack},
			},
			// No message_id: the two statuses differ only by our correlation id.
			steps: []step{
				{st: statusSpec{ccOf: "req-2"}, target: "req-2", wantCC: "cc-same", wantState: settled, sameAs: -1},
				{st: statusSpec{ccOf: "req-1"}, target: "req-1", wantCC: "cc-same", wantState: settled, sameAs: -1},
			},
			wantStates: map[string]store.State{"req-1": settled, "req-2": settled},
			wantEvents: map[string]int{"req-1": 1, "req-2": 1},
		},
		{
			name:       "legacy: ClientContext is our requestId when the request had none",
			seeds:      []seedSpec{{id: "req-A", state: ack, legacy: true}},
			steps:      []step{{st: statusSpec{cc: "req-A", msgID: "m1"}, target: "req-A", wantCC: "", wantState: settled, sameAs: -1}},
			wantStates: map[string]store.State{"req-A": settled},
		},
		{
			name:       "legacy: the request's own ClientContext still matches",
			seeds:      []seedSpec{{id: "req-A", cc: "cc-A", state: ack, legacy: true}, {id: "req-B", cc: "cc-B", state: ack, legacy: true}},
			steps:      []step{{st: statusSpec{cc: "cc-B", msgID: "m1"}, target: "req-B", wantCC: "cc-B", wantState: settled, sameAs: -1}},
			wantStates: map[string]store.State{"req-A": ack, "req-B": settled},
			wantEvents: map[string]int{"req-A": 0, "req-B": 1},
		},
		{
			name:       "legacy: two settlements share the ClientContext: ambiguous, parked",
			seeds:      []seedSpec{{id: "req-z", cc: "cc-same", state: ack, legacy: true}, {id: "req-a", cc: "cc-same", state: ack, legacy: true}},
			steps:      []step{{st: statusSpec{cc: "cc-same", msgID: "m1"}, park: "ambiguous|req-z|req-a"}},
			wantStates: map[string]store.State{"req-z": ack, "req-a": ack},
			wantEvents: map[string]int{"req-z": 0, "req-a": 0},
		},
		{
			name:       "legacy: status without ClientContext matched by fields",
			seeds:      []seedSpec{{id: "req-A", cc: "cc-A", state: ack, legacy: true}, {id: "req-other", cc: "cc-o", order: otherOrderID, state: ack, legacy: true}},
			steps:      []step{{st: statusSpec{msgID: "m1"}, target: "req-A", wantCC: "cc-A", wantState: settled, sameAs: -1}},
			wantStates: map[string]store.State{"req-A": settled, "req-other": ack},
		},
		{
			// We sent req-A our correlation id, which Radial echoes: a
			// status without it is another settlement's.
			name:       "status without ClientContext, the look-alike was sent our correlation id: parked naming it",
			seeds:      []seedSpec{{id: "req-A", cc: "cc-A", state: ack}, {id: "req-other", cc: "cc-o", order: otherOrderID, state: ack}},
			steps:      []step{{st: statusSpec{msgID: "m1"}, park: "no ClientContext|req-A (acknowledged)|not applied"}},
			wantStates: map[string]store.State{"req-A": ack, "req-other": ack},
			wantEvents: map[string]int{"req-A": 0},
		},
		{
			name:       "later status without ClientContext, the finished look-alike was sent our correlation id: parked naming it",
			seeds:      []seedSpec{{id: "req-z", cc: "cc-z", state: settled}},
			steps:      []step{{st: statusSpec{msgID: "m1", verdict: messages.StatusRejected, decline: "chargeback"}, park: "no ClientContext|req-z (settled)|not applied"}},
			wantStates: map[string]store.State{"req-z": settled},
		},
		{
			name: "status without ClientContext beside a legacy look-alike and one sent our correlation id: the legacy one takes it",
			seeds: []seedSpec{{id: "req-L", cc: "cc-L", state: ack, legacy: true}, {id: "req-N", cc: "cc-N", state: ack},
				{id: "req-S", cc: "cc-S", state: store.StateSubmitting}},
			steps:      []step{{st: statusSpec{msgID: "m1"}, target: "req-L", wantCC: "cc-L", wantState: settled, sameAs: -1}},
			wantStates: map[string]store.State{"req-L": settled, "req-N": ack, "req-S": store.StateSubmitting},
			wantEvents: map[string]int{"req-N": 0},
		},
		{
			name:       "amount written differently still matches",
			seeds:      []seedSpec{{id: "req-A", cc: "cc-A", state: ack}},
			steps:      []step{{st: statusSpec{ccOf: "req-A", amount: "100", msgID: "m1"}, target: "req-A", wantCC: "cc-A", wantState: settled, sameAs: -1}},
			wantStates: map[string]store.State{"req-A": settled},
		},
		{
			name: "legacy: fallback match with two acknowledged candidates: ambiguous, parked naming both",
			// req-z is registered first: no "oldest wins" guess.
			seeds:      []seedSpec{{id: "req-z", cc: "cc-z", state: ack, legacy: true}, {id: "req-a", cc: "cc-a", state: ack, legacy: true}},
			steps:      []step{{st: statusSpec{msgID: "m1"}, park: "ambiguous|req-z|req-a"}},
			wantStates: map[string]store.State{"req-z": ack, "req-a": ack},
			wantEvents: map[string]int{"req-z": 0, "req-a": 0},
		},
		{
			// The status carries none of our correlation ids: it may be
			// the first verdict of the acknowledged settlement or the
			// chargeback of the settled one; nothing tells them apart.
			name:  "legacy: status without ClientContext, an acknowledged and a settled look-alike: ambiguous, parked",
			seeds: []seedSpec{{id: "req-s", cc: "cc-s", state: settled, legacy: true}, {id: "req-a", cc: "cc-a", state: ack, legacy: true}},
			steps: []step{{st: statusSpec{msgID: "m1", verdict: messages.StatusRejected, decline: "chargeback"},
				park: "ambiguous|req-a (acknowledged)|req-s (settled)"}},
			wantStates: map[string]store.State{"req-s": settled, "req-a": ack},
			wantEvents: map[string]int{"req-a": 0},
		},
		{
			// The submitting one's call may have reached Radial (its
			// answer lost): its verdict looks the same.
			name:       "legacy: status without ClientContext, an acknowledged and a submitting look-alike: ambiguous, parked",
			seeds:      []seedSpec{{id: "req-b", cc: "cc-b", state: store.StateSubmitting, legacy: true}, {id: "req-a", cc: "cc-a", state: ack, legacy: true}},
			steps:      []step{{st: statusSpec{msgID: "m1"}, park: "ambiguous|req-a (acknowledged)|req-b (submitting)"}},
			wantStates: map[string]store.State{"req-b": store.StateSubmitting, "req-a": ack},
			wantEvents: map[string]int{"req-b": 0, "req-a": 0},
		},
		{
			name:       "legacy: shared ClientContext, an acknowledged and a settled look-alike: ambiguous, parked",
			seeds:      []seedSpec{{id: "req-s", cc: "cc-same", state: settled, legacy: true}, {id: "req-a", cc: "cc-same", state: ack, legacy: true}},
			steps:      []step{{st: statusSpec{cc: "cc-same", msgID: "m1"}, park: "ambiguous|req-a (acknowledged)|req-s (settled)"}},
			wantStates: map[string]store.State{"req-s": settled, "req-a": ack},
			wantEvents: map[string]int{"req-a": 0},
		},
		{
			// Without our correlation ids the second status is req-1's S
			// repeated (Radial re-sends a status body-identical) or
			// req-2's verdict: applied to req-2 it once settled it with no
			// money moved. With them, the two are told apart (the first
			// case of this table).
			name:  "legacy: body-identical status without ClientContext after a look-alike was applied: ambiguous, parked",
			seeds: []seedSpec{{id: "req-1", cc: "cc-1", state: ack, legacy: true}},
			steps: []step{
				{st: statusSpec{}, target: "req-1", wantCC: "cc-1", wantState: settled, sameAs: -1},
				{seed: &seedSpec{id: "req-2", cc: "cc-2", state: ack, legacy: true}, st: statusSpec{}, park: "ambiguous|req-2 (acknowledged)|req-1 (settled)"},
			},
			wantStates: map[string]store.State{"req-1": settled, "req-2": ack},
			wantEvents: map[string]int{"req-1": 1, "req-2": 0},
		},
		{
			name:  "redelivered status (same message_id): same event, no second transition",
			seeds: []seedSpec{{id: "req-A", cc: "cc-A", state: ack}},
			steps: []step{
				{st: statusSpec{ccOf: "req-A", msgID: "m1"}, target: "req-A", wantCC: "cc-A", wantState: settled, sameAs: -1},
				{st: statusSpec{ccOf: "req-A", msgID: "m1"}, target: "req-A", wantCC: "cc-A", wantState: settled, sameAs: 0},
			},
			wantStates: map[string]store.State{"req-A": settled},
			wantEvents: map[string]int{"req-A": 1},
		},
		{
			name:  "redelivered status without message_id: deduplicated",
			seeds: []seedSpec{{id: "req-A", cc: "cc-A", state: ack}},
			steps: []step{
				{st: statusSpec{ccOf: "req-A"}, target: "req-A", wantCC: "cc-A", wantState: settled, sameAs: -1},
				{st: statusSpec{ccOf: "req-A"}, target: "req-A", wantCC: "cc-A", wantState: settled, sameAs: 0},
			},
			wantStates: map[string]store.State{"req-A": settled},
			wantEvents: map[string]int{"req-A": 1},
		},
		{
			name:  "status repeated under a new message_id: the recorded event is republished",
			seeds: []seedSpec{{id: "req-A", cc: "cc-A", state: ack}},
			steps: []step{
				{st: statusSpec{ccOf: "req-A", msgID: "m1"}, target: "req-A", wantCC: "cc-A", wantState: settled, sameAs: -1},
				{st: statusSpec{ccOf: "req-A", msgID: "m2"}, target: "req-A", wantCC: "cc-A", wantState: settled, sameAs: 0},
			},
			wantStates: map[string]store.State{"req-A": settled},
			wantEvents: map[string]int{"req-A": 1},
		},
		{
			name:  "legacy: status without ClientContext repeated under a new message_id: republished",
			seeds: []seedSpec{{id: "req-A", cc: "cc-A", state: ack, legacy: true}},
			steps: []step{
				{st: statusSpec{msgID: "m1"}, target: "req-A", wantCC: "cc-A", wantState: settled, sameAs: -1},
				{st: statusSpec{msgID: "m2"}, target: "req-A", wantCC: "cc-A", wantState: settled, sameAs: 0},
			},
			wantStates: map[string]store.State{"req-A": settled},
			wantEvents: map[string]int{"req-A": 1},
		},
		{
			name:  "chargeback R after S: a further event; its repeat and a late S redelivery are republished",
			seeds: []seedSpec{{id: "req-A", cc: "cc-A", state: ack}},
			steps: []step{
				{st: statusSpec{ccOf: "req-A", msgID: "m1"}, target: "req-A", wantCC: "cc-A", wantState: settled, sameAs: -1},
				{st: statusSpec{ccOf: "req-A", msgID: "m2", verdict: messages.StatusRejected, decline: "chargeback"}, target: "req-A", wantCC: "cc-A", wantState: refused, sameAs: -1},
				{st: statusSpec{ccOf: "req-A", msgID: "m3", verdict: messages.StatusRejected, decline: "chargeback"}, target: "req-A", wantCC: "cc-A", wantState: refused, sameAs: 1},
				{st: statusSpec{ccOf: "req-A", msgID: "m1"}, target: "req-A", wantCC: "cc-A", wantState: refused, sameAs: 0},
			},
			wantStates: map[string]store.State{"req-A": refused},
			wantEvents: map[string]int{"req-A": 2},
		},
		{
			// Radial's S re-sent under a new message_id after the
			// chargeback: it once moved the settlement back to settled
			// and published an S after the R.
			name:  "S repeated under a new message_id after its chargeback R: parked, the R stands",
			seeds: []seedSpec{{id: "req-A", cc: "cc-A", state: ack}},
			steps: []step{
				{st: statusSpec{ccOf: "req-A", msgID: "m1"}, target: "req-A", wantCC: "cc-A", wantState: settled, sameAs: -1},
				{st: statusSpec{ccOf: "req-A", msgID: "m2", verdict: messages.StatusRejected, decline: "chargeback"}, target: "req-A", wantCC: "cc-A", wantState: refused, sameAs: -1},
				{st: statusSpec{ccOf: "req-A", msgID: "m3"}, park: "req-A|refused|not applied"},
			},
			wantStates: map[string]store.State{"req-A": refused},
			wantEvents: map[string]int{"req-A": 2},
		},
		{
			// Two replicas: the S taken by one that died before its
			// commit is redelivered after the other applied the R.
			name:  "S overtaken by the R (redelivered after it): parked, the R stands",
			seeds: []seedSpec{{id: "req-A", cc: "cc-A", state: ack}},
			steps: []step{
				{st: statusSpec{ccOf: "req-A", msgID: "m2", verdict: messages.StatusRejected, decline: "chargeback"}, target: "req-A", wantCC: "cc-A", wantState: refused, sameAs: -1},
				{st: statusSpec{ccOf: "req-A", msgID: "m1"}, park: "req-A|refused|not applied"},
			},
			wantStates: map[string]store.State{"req-A": refused},
			wantEvents: map[string]int{"req-A": 1},
		},
		{
			name:  "legacy: S without ClientContext for the one refused candidate: parked",
			seeds: []seedSpec{{id: "req-A", cc: "cc-A", state: ack, legacy: true}},
			steps: []step{
				{st: statusSpec{ccOf: "req-A", msgID: "m1", verdict: messages.StatusRejected, decline: "declined"}, target: "req-A", wantCC: "cc-A", wantState: refused, sameAs: -1},
				{st: statusSpec{msgID: "m2"}, park: "req-A|refused|not applied"},
			},
			wantStates: map[string]store.State{"req-A": refused},
			wantEvents: map[string]int{"req-A": 1},
		},
		{
			name:       "legacy: later status without ClientContext goes to the one finished candidate",
			seeds:      []seedSpec{{id: "req-z", cc: "cc-z", state: settled, legacy: true}, {id: "req-a", cc: "cc-a", order: otherOrderID, state: settled, legacy: true}},
			steps:      []step{{st: statusSpec{msgID: "m1", verdict: messages.StatusRejected, decline: "chargeback"}, target: "req-z", wantCC: "cc-z", wantState: refused, sameAs: -1}},
			wantStates: map[string]store.State{"req-z": refused, "req-a": settled},
		},
		{
			name:       "legacy: later status without ClientContext, two finished candidates: ambiguous, parked",
			seeds:      []seedSpec{{id: "req-z", cc: "cc-z", state: settled, legacy: true}, {id: "req-a", cc: "cc-a", state: settled, legacy: true}},
			steps:      []step{{st: statusSpec{msgID: "m1", verdict: messages.StatusRejected, decline: "chargeback"}, park: "ambiguous|req-z|req-a"}},
			wantStates: map[string]store.State{"req-z": settled, "req-a": settled},
		},
		{
			name:       "our correlation id with another amount: parked as conflicting",
			seeds:      []seedSpec{{id: "req-A", cc: "cc-A", state: ack}},
			steps:      []step{{st: statusSpec{ccOf: "req-A", amount: "90.00", msgID: "m1"}, park: "conflicting|req-A"}},
			wantStates: map[string]store.State{"req-A": ack},
			wantEvents: map[string]int{"req-A": 0},
		},
		{
			name:       "our correlation id with another order: parked as conflicting",
			seeds:      []seedSpec{{id: "req-A", cc: "cc-A", state: ack}},
			steps:      []step{{st: statusSpec{ccOf: "req-A", order: otherOrderID, msgID: "m1"}, park: "conflicting"}},
			wantStates: map[string]store.State{"req-A": ack},
		},
		{
			name:       "legacy ClientContext of a request with another amount: parked as conflicting",
			seeds:      []seedSpec{{id: "req-A", cc: conflictingCC, state: ack, legacy: true}},
			steps:      []step{{st: statusSpec{cc: conflictingCC, amount: "90.00", msgID: "m1"}, park: "conflicting"}},
			wantStates: map[string]store.State{"req-A": ack},
		},
		{
			name:       "nothing matches: parked",
			seeds:      []seedSpec{{id: "req-A", cc: "cc-A", state: ack}},
			steps:      []step{{st: statusSpec{order: otherOrderID, msgID: "m1"}, park: "no settlement matches"}},
			wantStates: map[string]store.State{"req-A": ack},
		},
		{
			name:       "unknown ClientContext: parked",
			seeds:      []seedSpec{{id: "req-A", cc: "cc-A", state: ack}},
			steps:      []step{{st: statusSpec{cc: "cc-unknown", msgID: "m1"}, park: "no settlement matches"}},
			wantStates: map[string]store.State{"req-A": ack},
		},
		{
			name:  "unparseable XML: parked",
			seeds: []seedSpec{{id: "req-A", cc: "cc-A", state: ack}},
			steps: []step{
				{st: statusSpec{raw: "<PaymentSettlementStatus><oops", msgID: "m1"}, park: "unparseable"},
				{st: statusSpec{raw: "", msgID: "m2", ccOf: "req-A"}, target: "req-A", wantCC: "cc-A", wantState: settled, sameAs: -1},
			},
			wantStates: map[string]store.State{"req-A": settled},
		},
		{
			name:       "invalid status: parked",
			seeds:      []seedSpec{{id: "req-A", cc: "cc-A", state: ack}},
			steps:      []step{{st: statusSpec{ccOf: "req-A", tender: "X", msgID: "m1"}, park: "invalid provider status"}},
			wantStates: map[string]store.State{"req-A": ack},
		},
		{
			name:       "status with our correlation id while still submitting (crash race): applied",
			seeds:      []seedSpec{{id: "req-A", cc: "cc-A", state: store.StateSubmitting}},
			steps:      []step{{st: statusSpec{ccOf: "req-A", msgID: "m1"}, target: "req-A", wantCC: "cc-A", wantState: settled, sameAs: -1}},
			wantStates: map[string]store.State{"req-A": settled},
		},
		{
			name:       "legacy: status without ClientContext for a submitting settlement: parked",
			seeds:      []seedSpec{{id: "req-A", cc: "cc-A", state: store.StateSubmitting, legacy: true}},
			steps:      []step{{st: statusSpec{msgID: "m1"}, park: "submitting|req-A"}},
			wantStates: map[string]store.State{"req-A": store.StateSubmitting},
		},
		{
			name:       "legacy ClientContext for a submitting settlement: parked",
			seeds:      []seedSpec{{id: "req-A", cc: "cc-A", state: store.StateSubmitting, legacy: true}},
			steps:      []step{{st: statusSpec{cc: "cc-A", msgID: "m1"}, park: "submitting"}},
			wantStates: map[string]store.State{"req-A": store.StateSubmitting},
		},
		{
			name:       "status for a settlement never submitted: parked",
			seeds:      []seedSpec{{id: "req-A", cc: "cc-A", state: store.StateConfirmed}},
			steps:      []step{{st: statusSpec{ccOf: "req-A", msgID: "m1"}, park: "not been submitted"}},
			wantStates: map[string]store.State{"req-A": store.StateConfirmed},
		},
		{
			name:       "request stored as JSON: the event still carries its ClientContext",
			seeds:      []seedSpec{{id: "req-A", cc: "cc-json", state: ack, json: true}},
			steps:      []step{{st: statusSpec{ccOf: "req-A", msgID: "m1"}, target: "req-A", wantCC: "cc-json", wantState: settled, sameAs: -1}},
			wantStates: map[string]store.State{"req-A": settled},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newPSEnv(t)
			ctx := context.Background()
			for _, s := range tc.seeds {
				e.seed(s)
			}
			var eventIDs []string
			for i, s := range tc.steps {
				if s.seed != nil {
					e.seed(*s.seed)
				}
				if s.st.ccOf != "" {
					s.st.cc = e.corr[s.st.ccOf]
				}
				in := s.st.message(t)
				if err := e.h.Handle(in); err != nil {
					t.Fatalf("step %d: Handle: %v", i, err)
				}
				if s.park != "" {
					eventIDs = append(eventIDs, "")
					e.checkParked(i, in, s.park)
					continue
				}
				if d, ok := e.get(broker.ProviderStatusParkedQueue("radial")); ok {
					t.Fatalf("step %d: parked: %v", i, d.Headers[HeaderParkedReason])
				}
				id := e.checkEvent(i, s)
				if s.sameAs >= 0 {
					if id != eventIDs[s.sameAs] {
						t.Errorf("step %d: republished event has message id %s, want %s (step %d's)", i, id, eventIDs[s.sameAs], s.sameAs)
					}
				} else {
					for j, prev := range eventIDs {
						if prev == id {
							t.Errorf("step %d: new event reuses message id %s of step %d", i, id, j)
						}
					}
				}
				eventIDs = append(eventIDs, id)
			}
			if d, ok := e.get(statusQueue); ok {
				t.Errorf("unexpected extra event %s for %s", d.MessageId, d.CorrelationId)
			}
			for id, want := range tc.wantStates {
				s, err := e.st.Get(ctx, store.Key{Provider: "radial", RequestID: id})
				if err != nil {
					t.Fatal(err)
				}
				if s.State != want {
					t.Errorf("%s is %s, want %s", id, s.State, want)
				}
			}
			for id, want := range tc.wantEvents {
				evs, err := e.st.Statuses(ctx, store.Key{Provider: "radial", RequestID: id})
				if err != nil {
					t.Fatal(err)
				}
				if len(evs) != want {
					t.Errorf("%s has %d recorded events, want %d", id, len(evs), want)
				}
				for _, ev := range evs {
					if ev.PublishedAt == nil {
						t.Errorf("%s: event %s not marked published", id, ev.MessageID)
					}
				}
				hist, err := e.st.History(ctx, store.Key{Provider: "radial", RequestID: id})
				if err != nil {
					t.Fatal(err)
				}
				finals := 0
				for _, tr := range hist {
					if tr.To == store.StateSettled || tr.To == store.StateRefused {
						finals++
					}
				}
				if finals != want {
					t.Errorf("%s: %d transitions to a verdict, want %d (history %+v)", id, finals, want, hist)
				}
			}
		})
	}
}

// checkEvent checks the one status event published for step i and returns
// its message id.
func (e *psEnv) checkEvent(i int, s step) string {
	t := e.t
	t.Helper()
	d, ok := e.get(statusQueue)
	if !ok {
		t.Fatalf("step %d: no status event published", i)
	}
	if d.CorrelationId != s.target || d.Headers[HeaderRequestID] != s.target {
		t.Errorf("step %d: event correlation id %q / request_id %v, want %q", i, d.CorrelationId, d.Headers[HeaderRequestID], s.target)
	}
	if d.Type != broker.StatusMessageType || d.ContentType != ContentTypeXML || d.MessageId == "" {
		t.Errorf("step %d: event properties: type %q, content type %q, message id %q", i, d.Type, d.ContentType, d.MessageId)
	}
	if d.Exchange != broker.StatusExchange || d.RoutingKey != broker.StatusRoutingKey(testStoreID) {
		t.Errorf("step %d: event published to %s/%s", i, d.Exchange, d.RoutingKey)
	}
	verdict := or(s.st.verdict, messages.StatusSettled)
	if d.Headers[HeaderSettlementStatus] != verdict || d.Headers[HeaderStoreID] != testStoreID ||
		d.Headers[HeaderProvider] != "radial" || d.Headers["order_id"] != testOrderID {
		t.Errorf("step %d: event headers %v", i, d.Headers)
	}
	st, err := messages.DecodeSettlementStatus(d.Body)
	if err != nil {
		t.Fatalf("step %d: event body: %v\n%s", i, err, d.Body)
	}
	if st.ClientContext != s.wantCC {
		t.Errorf("step %d: event ClientContext %q, want our request's %q", i, st.ClientContext, s.wantCC)
	}
	want, _ := money.Parse(testAmount, testCurrency)
	got, err := st.Amount.Money()
	if err != nil || got.Cmp(want) != 0 {
		t.Errorf("step %d: event amount %+v", i, st.Amount)
	}
	if st.SettlementStatus != verdict || st.StoreID != testStoreID || st.TenderType != testTender || st.OrderID() != testOrderID {
		t.Errorf("step %d: event %+v", i, st)
	}
	if verdict == messages.StatusRejected && st.DeclineReason != s.st.decline {
		t.Errorf("step %d: event DeclineReason %q, want %q", i, st.DeclineReason, s.st.decline)
	}
	return d.MessageId
}

// checkParked checks that step i's status was parked, intact, with a
// reason mentioning each "|"-separated part of reason.
func (e *psEnv) checkParked(i int, in *message.Message, reason string) {
	e.t.Helper()
	e.parked(fmt.Sprintf("step %d", i), in, strings.Split(reason, "|"), nil)
}

// parked checks that status in was parked, intact, with a reason that
// mentions every part of want and none of notWant, and returns the reason;
// label begins each error.
func (e *psEnv) parked(label string, in *message.Message, want, notWant []string) string {
	t := e.t
	t.Helper()
	if d, ok := e.get(statusQueue); ok {
		t.Errorf("%s: an event was published (%s) for a parked status", label, d.CorrelationId)
	}
	d, ok := e.get(broker.ProviderStatusParkedQueue("radial"))
	if !ok {
		t.Fatalf("%s: status not parked", label)
	}
	got, _ := d.Headers[HeaderParkedReason].(string)
	for _, part := range want {
		if !strings.Contains(got, part) {
			t.Errorf("%s: parked_reason %q, want it to mention %q", label, got, part)
		}
	}
	for _, part := range notWant {
		if strings.Contains(got, part) {
			t.Errorf("%s: parked_reason %q mentions %q", label, got, part)
		}
	}
	if d.Headers[HeaderParkedFrom] != radialQueue {
		t.Errorf("%s: parked_from_queue %v, want %s", label, d.Headers[HeaderParkedFrom], radialQueue)
	}
	if at, _ := d.Headers[HeaderParkedAt].(string); at == "" {
		t.Errorf("%s: no parked_at", label)
	} else if _, err := time.Parse(time.RFC3339, at); err != nil {
		t.Errorf("%s: parked_at %q: %v", label, at, err)
	}
	if string(d.Body) != string(in.Payload) || d.MessageId != in.UUID {
		t.Errorf("%s: parked copy changed: message id %q (want %q), body %q", label, d.MessageId, in.UUID, d.Body)
	}
	// The consumed status carried x-delivery-count=0 (set in message());
	// the parked queue is a quorum queue, which sets its own on delivery, so
	// only its value can be checked: a republished "0" would be a string.
	if v, ok := d.Headers["x-delivery-count"]; ok {
		if _, isString := v.(string); isString {
			t.Errorf("%s: parked copy republished the consumed x-delivery-count header %q", label, v)
		}
	}
	return got
}

// TestProviderStatusConcurrentIndistinguishable handles statuses for four
// acknowledged settlements of the same order and amount at once (the worker
// runs RADIAL_STATUS_CONCURRENCY handlers), told apart only by our
// correlation ids: each settlement must get exactly its own.
func TestProviderStatusConcurrentIndistinguishable(t *testing.T) {
	e := newPSEnv(t)
	const n = 4
	for i := 0; i < n; i++ {
		e.seed(seedSpec{id: fmt.Sprintf("req-%d", i), cc: fmt.Sprintf("cc-%d", i), state: store.StateAcknowledged})
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		m := statusSpec{cc: e.corr[fmt.Sprintf("req-%d", i)], msgID: fmt.Sprintf("m%d", i)}.message(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- e.h.Handle(m)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Handle: %v", err)
		}
	}
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		d, ok := e.get(statusQueue)
		if !ok {
			t.Fatalf("%d events published, want %d", i, n)
		}
		if seen[d.CorrelationId] {
			t.Errorf("%s got two statuses", d.CorrelationId)
		}
		seen[d.CorrelationId] = true
	}
	for i := 0; i < n; i++ {
		s, err := e.st.Get(context.Background(), store.Key{Provider: "radial", RequestID: fmt.Sprintf("req-%d", i)})
		if err != nil || s.State != store.StateSettled {
			t.Errorf("req-%d: %s, %v; want settled", i, s.State, err)
		}
	}
}

// TestCorrelationID checks the ClientContext the worker sends: unique per
// settlement even when requests share their own ClientContext, stable for
// a resubmission, short and plain enough for Radial's ClientContext.
func TestCorrelationID(t *testing.T) {
	shared := &messages.PaymentSettlementRequest{ClientContext: "cc-same"}
	cases := []struct {
		name string
		a, b store.Key
		same bool
	}{
		{"same request resubmitted", store.Key{Provider: "radial", RequestID: "r1"}, store.Key{Provider: "radial", RequestID: "r1"}, true},
		{"two requests sharing a ClientContext", store.Key{Provider: "radial", RequestID: "r1"}, store.Key{Provider: "radial", RequestID: "r2"}, false},
		{"same requestId, other provider", store.Key{Provider: "radial", RequestID: "r1"}, store.Key{Provider: "other", RequestID: "r1"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := correlationID(tc.a, shared), correlationID(tc.b, shared)
			if (a == b) != tc.same {
				t.Errorf("correlationID(%v) = %q, correlationID(%v) = %q; same = %v, want %v", tc.a, a, tc.b, b, a == b, tc.same)
			}
			for _, id := range []string{a, b} {
				if len(id) > 40 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
					t.Errorf("correlation id %q: want at most 40 characters of [a-z0-9-]", id)
				}
			}
		})
	}
}

// TestProviderStatusRepeatAfterRetentionIsNotANewEvent: a chargeback R
// repeated under a new message_id after BODY_RETENTION emptied the bodies
// of the recorded events. Its DeclineReason could no longer be compared
// with the purged R's, so it was recorded and published as a further R. It
// is a repeat of the latest verdict (the settlement keeps the R's
// DeclineReason): like any duplicate after retention, parked, not
// republished, and no event is added.
func TestProviderStatusRepeatAfterRetentionIsNotANewEvent(t *testing.T) {
	e := newPSEnv(t)
	e.seed(seedSpec{id: "req-A", cc: "cc-A", state: store.StateAcknowledged})
	cc := e.corr["req-A"]
	ctx := context.Background()
	for _, s := range []statusSpec{
		{cc: cc, msgID: "m1"},
		{cc: cc, msgID: "m2", verdict: messages.StatusRejected, decline: "chargeback"},
	} {
		if err := e.h.Handle(s.message(t)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := e.st.PurgeBodies(ctx, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), 10); err != nil || n != 1 {
		t.Fatalf("PurgeBodies = %d, %v; want the one settlement", n, err)
	}
	for e.drain(statusQueue) {
	}
	if err := e.h.Handle(statusSpec{cc: cc, msgID: "m3", verdict: messages.StatusRejected, decline: "chargeback"}.message(t)); err != nil {
		t.Fatal(err)
	}
	key := store.Key{Provider: "radial", RequestID: "req-A"}
	evs, err := e.st.Statuses(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Errorf("%d events after the repeated chargeback, want 2 (S, R)", len(evs))
	}
	if _, ok := e.get(statusQueue); ok {
		t.Error("an event was published for a repeat of the purged R")
	}
	if _, ok := e.get(broker.ProviderStatusParkedQueue("radial")); !ok {
		t.Error("the repeat was not parked")
	}
}

// drain takes one message off queue, reporting whether there was one.
func (e *psEnv) drain(queue string) bool {
	_, ok := e.get(queue)
	return ok
}
