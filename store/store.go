package store

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
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

// ParkedInvalidEvent starts the parked reason the sweeper records on a
// settlement whose recorded status event is not a valid document
// (handlers' Sweeper.markInvalid, which also puts a copy of its request in
// the parked queue, listed by `parked ls`): that event is never relayed,
// which the operator commands (show) say by this prefix.
const ParkedInvalidEvent = "recorded status event not relayed: "

// Terminal reports whether no provider call may follow this state.
func (s State) Terminal() bool {
	return s == StateWithheld || s == StateSettled || s == StateRefused
}

var (
	// ErrNotFound is returned when no settlement has the key (or, from
	// MarkPublished, no status event has the message id).
	ErrNotFound = errors.New("store: settlement not found")
	// ErrStateConflict is returned by Transition when the settlement is not
	// in one of the expected states (someone else moved it).
	ErrStateConflict = errors.New("store: settlement is not in the expected state")
	// ErrInUse is returned by Open when another process holds the SQLite
	// database: SQLite serves one worker process (replicas use PostgreSQL).
	ErrInUse = errors.New("store: database in use")
	// ErrLockLost is returned by CheckLock when an order lock is no longer
	// held (released, or its PostgreSQL session ended).
	ErrLockLost = errors.New("store: order lock lost")
)

// Key identifies a settlement request.
type Key struct {
	Provider  string
	RequestID string
}

// keyText is key as the store's error texts name it, provider/requestId,
// with a card number in the requestId masked (messages.MaskPANs): a sender
// may put one there by mistake, and these texts reach logs, parked reasons
// and notes. The key itself is stored and compared as sent.
func keyText(key Key) string { return key.Provider + "/" + messages.MaskPANs(key.RequestID) }

// quotedKey is keyText with both parts quoted, for a key that is not
// valid text.
func quotedKey(key Key) string {
	return strconv.Quote(key.Provider) + "/" + strconv.Quote(messages.MaskPANs(key.RequestID))
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
	// ClientContext is the ClientContext of the request as received, its
	// card numbers masked by the settlement handler (this column is not
	// sealed).
	ClientContext string
	// CorrelationID is the ClientContext sent to the provider: unique per
	// settlement (handlers.correlationID; rows recorded by earlier versions
	// keep the request's own ClientContext or requestId). Asynchronous
	// statuses are correlated on it.
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
	// IfRefs, when set, makes the transition compare these refs too: it
	// applies only while each has this value on the settlement ("" for a
	// ref it does not have), else ErrStateConflict and nothing changes. A
	// move within one state (submitting → submitting) is no
	// compare-and-set on the state alone: the refs its caller read tell
	// whether another writer moved it meanwhile.
	IfRefs map[string]string
	// IfAttempts, when positive, makes the transition compare Attempts
	// too: it applies only while the settlement has that many, else
	// ErrStateConflict and nothing changes. Every delivery counts its
	// attempt in the store before it calls the provider, so a delivery
	// recording the answer of its own call compares the count it read
	// (with the call's refs, IfRefs): another delivery's attempt since
	// (its order lock lost with a store session) makes the answer stale.
	IfAttempts int
	// IfNotParked makes the transition apply only while the settlement is
	// not parked (its ParkedReason empty), else ErrStateConflict and
	// nothing changes. The state alone does not show a parking (the
	// sweeper parks a settlement where it is): a caller that decided from
	// a copy of the row it did not read from the store (handlers'
	// in-process row of a settlement it acknowledged) compares it, so that
	// what it does for a parked settlement is not skipped.
	IfNotParked bool
	// Note is kept in the transition history (no card data, no secrets).
	Note string
	// Via are states the settlement passes through on its way to the
	// target, in order, each with its own history line, all in the same
	// transaction: from → Via[0] → … → to, the last line with Note. Use it
	// only where no step in between must be durable on its own (see the
	// state table in package handlers).
	Via []Waypoint
}

// Waypoint is a state passed through within one transition (Change.Via).
type Waypoint struct {
	State State
	Note  string
}

// StatusEvent is one PaymentSettlementStatus published (or to be published)
// for a settlement.
type StatusEvent struct {
	Key
	// Seq numbers a settlement's events from 1.
	Seq int
	// DedupKey makes recording idempotent: recording an event whose DedupKey
	// the settlement already has returns the existing event. An event
	// recorded without one is never deduplicated (its MessageID is stored as
	// its DedupKey).
	DedupKey string
	// MessageID is the AMQP message_id; it never changes for an event. The
	// store generates one (a random UUID) when it is empty.
	MessageID string
	// SettlementStatus is S or R.
	SettlementStatus string
	// Body is the PaymentSettlementStatus XML.
	Body        []byte
	CreatedAt   time.Time
	PublishedAt *time.Time
}

// OutboxCursor is an unpublished status event's place in the outbox's
// order (created_at, then provider, request id and seq): Unpublished
// continues after it. The zero OutboxCursor is before every event.
type OutboxCursor struct {
	CreatedAt time.Time
	Key
	Seq int
}

// IsZero reports whether c is the zero cursor (from the oldest event).
func (c OutboxCursor) IsZero() bool { return c == OutboxCursor{} }

// Cursor is ev's place in the outbox's order.
func (ev StatusEvent) Cursor() OutboxCursor {
	return OutboxCursor{CreatedAt: ev.CreatedAt, Key: ev.Key, Seq: ev.Seq}
}

// StaleCursor is a settlement's place in Stale's order (updated_at, then
// provider and request id): Stale continues after it. The zero StaleCursor
// is before every settlement.
type StaleCursor struct {
	UpdatedAt time.Time
	Key
}

// IsZero reports whether c is the zero cursor (from the oldest).
func (c StaleCursor) IsZero() bool { return c == StaleCursor{} }

// Cursor is s's place in Stale's order.
func (s Settlement) Cursor() StaleCursor { return StaleCursor{UpdatedAt: s.UpdatedAt, Key: s.Key} }

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
	// Amount is compared as text: pass the canonical form
	// (money.Money.String()), as Register stored it.
	Amount        string
	Currency      string
	CorrelationID string
	// States limits the candidates to these states (any when empty).
	States []State
}

// StateCount is how many settlements of a provider are in a state.
type StateCount struct {
	Provider string
	State    State
	Count    int
	// Parked is how many of them are parked.
	Parked int
	// OldestUpdate is the earliest UpdatedAt among them.
	OldestUpdate time.Time
	// OldestUnparked is the earliest UpdatedAt among those not parked (zero
	// when all are parked): how long the oldest one nobody was told about
	// has waited.
	OldestUnparked time.Time
	// OldestUnparkedCreated is the earliest CreatedAt among those not
	// parked (zero when all are parked): how long ago the oldest one was
	// registered, which a settlement's own steps never reset (a pending
	// settlement's poll loop records it every STUCK_AFTER/2).
	OldestUnparkedCreated time.Time
}

// Store is the durable settlement store.
type Store interface {
	// Register inserts s in state received if its key is new (created=true)
	// and otherwise returns the stored settlement unchanged. A new settlement
	// starts clean: s's State, Attempts, Refs, DeclineReason, ParkedReason and
	// times are not used. Its history starts with "" → received. Free text
	// is cleaned and an identifier that is not valid text refused
	// (ErrInvalidText): see the package documentation's Text.
	Register(ctx context.Context, s Settlement) (stored Settlement, created bool, err error)
	// RegisterMoving is Register and, for a new settlement only, in the same
	// transaction, Transition(key, [received], to, ch, nil): one write for
	// two steps that need not be durable apart. Its history is "" →
	// received, then the transition's line(s). A known key is returned
	// unchanged (created=false), as by Register.
	RegisterMoving(ctx context.Context, s Settlement, to State, ch Change) (stored Settlement, created bool, err error)
	// Get returns a settlement or ErrNotFound.
	Get(ctx context.Context, key Key) (Settlement, error)
	// Transition moves a settlement from one of the states in from (any state
	// when from is empty) to state to, applies ch, appends to the history and,
	// when status is non-nil, records that status event, all in one
	// transaction. It returns ErrNotFound for an unknown key and
	// ErrStateConflict if the settlement is elsewhere (both possibly wrapped:
	// test with errors.Is), and then changes nothing. The returned settlement
	// is the updated one; the returned event is the recorded one (or the
	// existing one with the same DedupKey; status.Key, Seq, CreatedAt and
	// PublishedAt are set by the store). ch's free text is stored cleaned
	// and a status event identifier that is not valid text refused
	// (ErrInvalidText): see the package documentation's Text. With an
	// encrypted store (Encrypted), a committed transition is never
	// reported as failed for a body it cannot open: the settlement is
	// returned with an empty Request (and without a sealed header value
	// it cannot open); only a status event that cannot be
	// opened (one recorded before under the same DedupKey) gives the
	// settlement, no event and an error wrapping ErrUnreadable.
	Transition(ctx context.Context, key Key, from []State, to State, ch Change, status *StatusEvent) (Settlement, *StatusEvent, error)
	// Statuses returns a settlement's status events in Seq order (none for
	// an unknown key). With an encrypted store, one event whose body cannot
	// be opened fails the read (ErrUnreadable).
	Statuses(ctx context.Context, key Key) ([]StatusEvent, error)
	// MarkPublished records that an event was confirmed by the broker. The
	// first confirmation's time is kept; an unknown messageID is an error
	// wrapping ErrNotFound.
	MarkPublished(ctx context.Context, messageID string, at time.Time) error
	// MarkPublishedMany is MarkPublished for a batch, in one statement:
	// every event with one of messageIDs not yet marked gets at; events
	// already marked keep their first time and unknown ids are skipped. It
	// returns how many events it marked. Marker batches the handlers'
	// marks with it.
	MarkPublishedMany(ctx context.Context, messageIDs []string, at time.Time) (int, error)
	// History returns a settlement's transitions, oldest first (none for an
	// unknown key).
	History(ctx context.Context, key Key) ([]Transition, error)
	// Find returns settlements matching c, oldest first (created_at, then
	// request id). With an encrypted store, one settlement whose request
	// body cannot be opened fails the whole read (ErrUnreadable): a caller
	// correlating a status or looking for an order's other settlements
	// must not miss one.
	Find(ctx context.Context, c Correlation) ([]Settlement, error)
	// LockOrder serializes work on one order: it blocks until no other holder
	// (in this process, or in any replica sharing a PostgreSQL store) has the
	// lock, or ctx ends (then it returns ctx's error, wrapped). The returned
	// function releases it; calling it again does nothing.
	LockOrder(ctx context.Context, provider, storeID, orderID string) (unlock func(), err error)
	// Stale returns the settlements of providers (any when empty) in one
	// of states that are not parked and were last updated before before,
	// and come after after in their order (StaleCursor; the zero cursor:
	// from the oldest), oldest update first, at most limit (all when
	// limit <= 0): the limit counts only the providers asked for. With an encrypted store, a settlement whose
	// request body cannot be opened is left out: the others are returned
	// with an *UnreadableError naming it (any other error comes with no
	// rows).
	Stale(ctx context.Context, providers []string, states []State, before time.Time, after StaleCursor, limit int) ([]Settlement, error)
	// Unpublished returns the status events never marked published that
	// were recorded before before and come after after in the outbox's
	// order (OutboxCursor; the zero cursor: from the oldest), oldest
	// first, at most limit (all when limit <= 0): the transactional
	// outbox, read a page at a time. With an encrypted store, an event
	// whose body cannot be opened is left out: the others are returned
	// with an *UnreadableError naming it (any other error comes with no
	// rows).
	Unpublished(ctx context.Context, before time.Time, after OutboxCursor, limit int) ([]StatusEvent, error)
	// PurgeBodies empties the request and published status event bodies
	// of finished, unparked settlements last updated before before (at
	// most limit; all when <= 0) and returns how many (retention).
	PurgeBodies(ctx context.Context, before time.Time, limit int) (int, error)
	// Counts returns the number of settlements per provider and state (with
	// how many are parked and the oldest update), ordered by provider and
	// state, for operators; only of states when any are given (all states
	// scan the table, the non-final ones use an index).
	Counts(ctx context.Context, states ...State) ([]StateCount, error)
	// CheckLock returns nil only while this store still holds the order's
	// lock taken with LockOrder; else an error wrapping ErrLockLost.
	CheckLock(ctx context.Context, provider, storeID, orderID string) error
	// SharedNow is the time on the clock every replica of the database
	// shares (PostgreSQL's clock_timestamp()); shared is false for a store
	// no other process writes (SQLite: its host's clock is the only one).
	// The settlement pipeline counts a settle window on it (replicas'
	// clocks may differ by minutes).
	SharedNow(ctx context.Context) (at time.Time, shared bool, err error)
	// Ping checks the database is reachable (readiness).
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}
