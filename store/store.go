// Package store is the durable memory of the settlement pipeline: one row per
// settlement request (keyed by provider and requestId) holding the pipeline's
// position, the provider's references and every status event published for it.
//
// The pipeline writes a transition before and after each provider call, so a
// crash at any point leaves a row that says exactly how far the request got:
//
//	received ─► confirming ─► confirmed ─► submitting ─► acknowledged ─► settled | refused
//	    │            └──────► withheld (funds not available: R, no debit)
//	    └─(credit)────────────────────────► submitting ─► pending ─► settled | refused
//
// Terminal states (withheld, settled, refused) carry their status events; a
// redelivered request in a terminal state republishes them (same message_id)
// and never reaches the provider again. Parking is a flag, not a state: a parked
// request keeps its position so that a replay resumes where it stopped.
//
// Two implementations share one SQL schema: SQLite (modernc.org/sqlite, the
// embedded default, one process) and PostgreSQL (pgx, for replicas sharing
// state). Open picks one from the DSN.
package store

import (
	"context"
	"errors"
	"time"
)

// State is a settlement's position in the pipeline.
type State string

// Pipeline states. See the package documentation for the transitions.
const (
	StateReceived     State = "received"
	StateConfirming   State = "confirming"
	StateConfirmed    State = "confirmed"
	StateWithheld     State = "withheld"
	StateSubmitting   State = "submitting"
	StateAcknowledged State = "acknowledged"
	StatePending      State = "pending"
	StateSettled      State = "settled"
	StateRefused      State = "refused"
)

// Terminal reports whether no provider call may follow this state.
func (s State) Terminal() bool {
	return s == StateWithheld || s == StateSettled || s == StateRefused
}

var (
	// ErrNotFound is returned when no settlement has the key.
	ErrNotFound = errors.New("store: settlement not found")
	// ErrStateConflict is returned by Transition when the settlement is not
	// in one of the expected states (someone else moved it).
	ErrStateConflict = errors.New("store: settlement is not in the expected state")
)

// Key identifies a settlement request.
type Key struct {
	Provider  string
	RequestID string
}

// Settlement is one settlement request and how far it got.
type Settlement struct {
	Key
	// Fingerprint is a hash of the request's content; the same requestId
	// with another fingerprint is a different request reusing the id.
	Fingerprint    string
	StoreID        string
	OrderID        string
	TenderType     string
	SettlementType string
	// Amount is the canonical decimal text (money.Money.String()).
	Amount   string
	Currency string
	// ClientContext is the ClientContext of the request as received.
	ClientContext string
	// CorrelationID is the ClientContext sent to the provider (the request's
	// own, or the requestId when the request had none); asynchronous statuses
	// are correlated on it.
	CorrelationID string
	State         State
	// Attempts counts pipeline runs that reached a provider call.
	Attempts int
	// Refs are the provider's references (settlement id, payment record...).
	Refs map[string]string
	// DeclineReason is set for withheld and refused settlements.
	DeclineReason string
	// ParkedReason is non-empty while the request is parked.
	ParkedReason string
	// Request is the request body as received and ContentType its type;
	// Headers are its AMQP headers. Statuses are rebuilt from them.
	Request     []byte
	ContentType string
	Headers     map[string]string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Change is applied together with a transition.
type Change struct {
	// Refs are merged into the settlement's refs.
	Refs map[string]string
	// DeclineReason, when non-nil, replaces the decline reason.
	DeclineReason *string
	// ParkedReason, when non-nil, replaces the parked reason ("" unparks).
	ParkedReason *string
	// IncAttempts adds one to Attempts.
	IncAttempts bool
	// Note is kept in the transition history (no card data, no secrets).
	Note string
}

// StatusEvent is one PaymentSettlementStatus published (or to be published)
// for a settlement.
type StatusEvent struct {
	Key
	// Seq numbers a settlement's events from 1.
	Seq int
	// DedupKey makes recording idempotent: recording an event whose DedupKey
	// the settlement already has returns the existing event.
	DedupKey string
	// MessageID is the AMQP message_id; it never changes for an event.
	MessageID string
	// SettlementStatus is S or R.
	SettlementStatus string
	// Body is the PaymentSettlementStatus XML.
	Body        []byte
	CreatedAt   time.Time
	PublishedAt *time.Time
}

// Transition is one line of a settlement's history.
type Transition struct {
	Key
	From State
	To   State
	Note string
	At   time.Time
}

// Correlation selects the settlements an asynchronous provider status may
// belong to. Empty fields do not filter.
type Correlation struct {
	Provider       string
	StoreID        string
	OrderID        string
	TenderType     string
	SettlementType string
	Amount         string
	Currency       string
	CorrelationID  string
	// States limits the candidates to these states (any when empty).
	States []State
}

// Store is the durable settlement store.
type Store interface {
	// Register inserts s in state received if its key is new (created=true)
	// and otherwise returns the stored settlement unchanged.
	Register(ctx context.Context, s Settlement) (stored Settlement, created bool, err error)
	// Get returns a settlement or ErrNotFound.
	Get(ctx context.Context, key Key) (Settlement, error)
	// Transition moves a settlement from one of the states in from (any state
	// when from is empty) to state to, applies ch, appends to the history and,
	// when status is non-nil, records that status event, all in one
	// transaction. It returns ErrStateConflict if the settlement is elsewhere.
	// The returned event is the recorded one (or the existing one with the
	// same DedupKey).
	Transition(ctx context.Context, key Key, from []State, to State, ch Change, status *StatusEvent) (Settlement, *StatusEvent, error)
	// Statuses returns a settlement's status events in Seq order.
	Statuses(ctx context.Context, key Key) ([]StatusEvent, error)
	// MarkPublished records that an event was confirmed by the broker.
	MarkPublished(ctx context.Context, messageID string, at time.Time) error
	// History returns a settlement's transitions, oldest first.
	History(ctx context.Context, key Key) ([]Transition, error)
	// Find returns settlements matching c, oldest first.
	Find(ctx context.Context, c Correlation) ([]Settlement, error)
	// LockOrder serializes work on one order: it blocks until no other holder
	// (in this process, or in any replica sharing a PostgreSQL store) has the
	// lock, or ctx ends. The returned function releases it.
	LockOrder(ctx context.Context, provider, storeID, orderID string) (unlock func(), err error)
	// Ping checks the database is reachable (readiness).
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}
