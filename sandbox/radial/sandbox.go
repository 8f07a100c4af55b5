package radial

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"

	"github.com/rs/zerolog"
	"github.com/shopspring/decimal"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/money"
	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
)

// Sandbox is an in-memory Radial: HTTP handlers, ledger, scheduler of
// settlement statuses and their RabbitMQ publisher. It is safe for
// concurrent use. Create it with NewSandbox and release it with Close.
type Sandbox struct {
	cfg Config
	log zerolog.Logger

	mu        sync.Mutex
	auths     map[authKey]*authz
	entries   []*entry
	byRequest map[string]*entry
	confirms  map[string]*confirmRecord
	faults    kit.FaultSet[Endpoint, Faults]
	calls     Calls
	rng       *rand.Rand
	events    []event
	eventSeq  int64
	entrySeq  int64
	statuses  []*StatusRecord
	outbox    []*StatusRecord
	statusSeq int64
	changed   chan struct{} // closed and replaced on every status change
	started   bool

	wake      chan struct{} // wakes the scheduler
	kick      chan struct{} // wakes the publisher
	closed    chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

type authKey struct{ store, order string }

// authz is an authorization and the money moved against it.
type authz struct {
	script   Authorization
	amount   money.Money
	captured decimal.Decimal
	refunded decimal.Decimal
	auto     bool
	// reauths counts the reauthorizations performed for it: ConfirmFunds
	// requests with PerformReauthorization, each under a new requestId,
	// answered Success.
	reauths int
}

// entry is a ledger entry with what the sandbox needs to answer for it.
type entry struct {
	Entry
	fingerprint string
	req         *messages.PaymentSettlementRequest
	amount      money.Money
}

// confirmRecord remembers a ConfirmFunds answer for requestId dedup.
type confirmRecord struct {
	fingerprint string
	reply       *messages.ConfirmFundsReply
}

// NewSandbox validates cfg, applies its defaults and starts the status
// scheduler. Call Start to publish statuses to RabbitMQ, and Close when done.
func NewSandbox(cfg Config) (*Sandbox, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	s := &Sandbox{
		cfg:     cfg,
		log:     cfg.Logger.With().Str("component", "radial-sandbox").Logger(),
		rng:     kit.NewRand(cfg.RandSeed),
		changed: make(chan struct{}),
		wake:    make(chan struct{}, 1),
		kick:    make(chan struct{}, 1),
		closed:  make(chan struct{}),
	}
	s.resetLocked()
	s.wg.Add(1)
	go s.runScheduler()
	return s, nil
}

// Config returns the effective configuration (defaults applied).
func (s *Sandbox) Config() Config { return s.cfg }

// Close stops the scheduler and the publisher and releases hanging calls.
// It returns an error when Start was called and statuses remain unpublished
// (they are logged, never dropped silently).
func (s *Sandbox) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	s.wg.Wait()
	s.mu.Lock()
	pending, started := len(s.outbox), s.started
	s.mu.Unlock()
	if pending == 0 {
		return nil
	}
	s.log.Warn().Int("pending", pending).Bool("publisher_started", started).Msg("closing with unpublished settlement statuses")
	if started {
		return fmt.Errorf("radial sandbox: %d settlement statuses were not published", pending)
	}
	return nil
}

// Reset forgets authorizations, ledger, dedup records, faults, counters,
// scheduled statuses and published status records. Statuses already emitted
// but not yet published stay in the outbox: Radial never takes one back.
func (s *Sandbox) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
	s.notifyLocked()
}

func (s *Sandbox) resetLocked() {
	s.auths = map[authKey]*authz{}
	s.entries = nil
	s.byRequest = map[string]*entry{}
	s.confirms = map[string]*confirmRecord{}
	s.faults = kit.NewFaultSet[Endpoint, Faults](EndpointAll, endpoints...)
	s.calls = Calls{}
	s.events = nil
	s.statuses = append([]*StatusRecord(nil), s.outbox...)
}

// notifyLocked wakes every waiter; s.mu must be held.
func (s *Sandbox) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Handler returns the HTTP handler serving the Radial API and the admin
// API under the configured prefix.
func (s *Sandbox) Handler() http.Handler { return s.routes() }

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
