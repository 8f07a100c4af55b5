package frisbii

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
)

// Sandbox is an in-memory Frisbii: HTTP handlers, charges, refunds,
// idempotency records and the ledger. It is safe for concurrent use: every
// call is handled atomically under one mutex, so concurrent settles of one
// charge can never exceed its authorization. Create it with NewSandbox and
// release it with Close.
type Sandbox struct {
	cfg Config
	log zerolog.Logger

	mu         sync.Mutex
	charges    map[string]*charge
	refunds    map[string]*refund // by refund id
	processing []*refund          // refunds still processing
	settleKeys map[string]*settleRecord
	refundKeys map[refundKey]*refundRecord
	inFlight   map[flightKey]bool // keys of late commits still waiting
	entries    []*Entry
	entrySeq   int64
	faults     kit.FaultSet[Endpoint, Faults]
	calls      Calls
	rng        *rand.Rand

	closed    chan struct{}
	closeOnce sync.Once
}

// charge is a charge and the money moved against it (minor units).
type charge struct {
	seed          ChargeSeed // with defaults
	state         string
	authorized    int64
	settled       int64
	refunded      int64
	refundPending int64
	orderLines    []OrderLine
	errState      string
	errText       string
	transaction   string
	created       time.Time
	authorizedAt  time.Time
	settledAt     time.Time
	cancelledAt   time.Time
	declineLeft   int // settles the decline script still applies to; −1: all
	refundLeft    int // refunds the refund script still applies to; −1: all
	declineSkip   int // settles to leave as they are before the decline script applies
	refundSkip    int // refunds to leave as they are before the refund script applies
	entries       []*Entry
}

// refund is a refund and its ledger entry.
type refund struct {
	Refund
	ch      *charge
	entry   *Entry // nil for a processing error (no money moved)
	readyAt time.Time
}

// settleRecord remembers the first answer to a settle key (idempotency).
type settleRecord struct {
	handle      string
	fingerprint string
	response    Charge
	entry       *Entry
	created     time.Time
}

// refundKey scopes refund keys to their invoice (Frisbii: "multiple
// requests with the same key and invoice will yield the same result").
type refundKey struct{ invoice, key string }

// refundRecord remembers the refund created for a refund key.
type refundRecord struct {
	fingerprint string
	refund      *refund
	created     time.Time
}

// expired reports whether a key recorded at created is past
// Config.KeyLifetime at now (never when KeyLifetime is zero).
func (s *Sandbox) expired(created, now time.Time) bool {
	return s.cfg.KeyLifetime > 0 && now.Sub(created) >= s.cfg.KeyLifetime
}

// NewSandbox validates cfg and applies its defaults. Call Close when done.
func NewSandbox(cfg Config) (*Sandbox, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	s := &Sandbox{
		cfg:    cfg,
		log:    cfg.Logger.With().Str("component", "frisbii-sandbox").Logger(),
		rng:    kit.NewRand(cfg.RandSeed),
		closed: make(chan struct{}),
	}
	s.resetLocked()
	return s, nil
}

// Config returns the effective configuration (defaults applied).
func (s *Sandbox) Config() Config { return s.cfg }

// Close releases hanging calls. The sandbox keeps answering afterwards
// (without hanging), so it is safe to close it before its HTTP server.
func (s *Sandbox) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	return nil
}

// Reset forgets charges, refunds, idempotency records, the ledger, faults
// and counters.
func (s *Sandbox) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

func (s *Sandbox) resetLocked() {
	s.charges = map[string]*charge{}
	s.refunds = map[string]*refund{}
	s.processing = nil
	s.settleKeys = map[string]*settleRecord{}
	s.refundKeys = map[refundKey]*refundRecord{}
	s.inFlight = map[flightKey]bool{}
	s.entries = nil
	s.entrySeq = 0
	s.faults = kit.NewFaultSet[Endpoint, Faults](EndpointAll, endpoints...)
	s.calls = Calls{}
}

// Handler returns the HTTP handler serving the Frisbii API and the admin
// API under the configured prefix.
func (s *Sandbox) Handler() http.Handler { return s.routes() }

// newIDLocked returns a 32 hex digit id, like Frisbii's transaction ids.
func (s *Sandbox) newIDLocked() string {
	return fmt.Sprintf("%016x%016x", s.rng.Uint64(), s.rng.Uint64())
}

// addEntryLocked appends a ledger entry for ch.
func (s *Sandbox) addEntryLocked(ch *charge, e *Entry) *Entry {
	s.entrySeq++
	e.Seq = s.entrySeq
	e.Handle = ch.seed.Handle
	e.Currency = ch.seed.Currency
	e.UpdatedAt = e.CreatedAt
	s.entries = append(s.entries, e)
	ch.entries = append(ch.entries, e)
	return e
}

// tickLocked completes processing refunds whose time has come.
func (s *Sandbox) tickLocked(now time.Time) {
	keep := s.processing[:0]
	for _, r := range s.processing {
		if now.Before(r.readyAt) {
			keep = append(keep, r)
			continue
		}
		r.State = RefundRefunded
		r.CreditNoteID = "cn-" + r.ID[:12]
		r.ch.refundPending -= r.Amount
		r.ch.refunded += r.Amount
		if r.entry != nil {
			r.entry.State = EntryRefunded
			r.entry.UpdatedAt = now
		}
	}
	for i := len(keep); i < len(s.processing); i++ {
		s.processing[i] = nil
	}
	s.processing = keep
}

// timestamp formats t as Frisbii does (ISO-8601 extended offset date-time).
func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02T15:04:05.000-07:00")
}
