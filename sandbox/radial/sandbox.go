package radial

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/shopspring/decimal"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/money"
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
	faults    map[Endpoint]*Faults
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
	seed := cfg.RandSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	s := &Sandbox{
		cfg:     cfg,
		log:     cfg.Logger.With().Str("component", "radial-sandbox").Logger(),
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
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
	s.faults = map[Endpoint]*Faults{EndpointConfirm: {}, EndpointSettle: {}}
	s.calls = Calls{}
	s.events = nil
	s.statuses = append([]*StatusRecord(nil), s.outbox...)
}

// Authorize creates or replaces the script of an authorization; money
// already captured or refunded against it is kept.
func (s *Sandbox) Authorize(a Authorization) (AuthorizationState, error) {
	if err := a.Validate(); err != nil {
		return AuthorizationState{}, err
	}
	m, err := money.Parse(a.Amount, a.Currency)
	if err != nil {
		return AuthorizationState{}, fmt.Errorf("authorization amount: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := authKey{a.StoreID, a.OrderID}
	z := s.auths[k]
	if z == nil {
		z = &authz{}
		s.auths[k] = z
	}
	z.script, z.amount, z.auto = a, m, false
	return z.state(), nil
}

// AuthorizationState returns an authorization and its balances.
func (s *Sandbox) AuthorizationState(storeID, orderID string) (AuthorizationState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.auths[authKey{storeID, orderID}]
	if z == nil {
		return AuthorizationState{}, false
	}
	return z.state(), true
}

// Authorizations returns every authorization, sorted by store and order.
func (s *Sandbox) Authorizations() []AuthorizationState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]AuthorizationState, 0, len(s.auths))
	for _, z := range s.auths {
		out = append(out, z.state())
	}
	sortStates(out)
	return out
}

func (z *authz) state() AuthorizationState {
	st := AuthorizationState{
		Authorization: z.script,
		Captured:      money.Money{Amount: z.captured, Currency: z.amount.Currency}.String(),
		Refunded:      money.Money{Amount: z.refunded, Currency: z.amount.Currency}.String(),
		Auto:          z.auto,
	}
	st.LaterStatuses = append([]LaterStatus(nil), z.script.LaterStatuses...)
	return st
}

// SetFaults replaces the fault knobs of an endpoint (or of all with
// EndpointAll).
func (s *Sandbox) SetFaults(ep Endpoint, f Faults) error {
	if !ep.valid() {
		return fmt.Errorf("faults: unknown endpoint %q (confirm, settle or all)", ep)
	}
	if err := f.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range []Endpoint{EndpointConfirm, EndpointSettle} {
		if ep == EndpointAll || ep == e {
			c := f
			s.faults[e] = &c
		}
	}
	return nil
}

// Faults returns the fault knobs as they are now (counters consumed so far
// are subtracted).
func (s *Sandbox) Faults() FaultsState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return FaultsState{Confirm: *s.faults[EndpointConfirm], Settle: *s.faults[EndpointSettle]}
}

// Calls returns the call counters.
func (s *Sandbox) Calls() Calls {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Ledger returns a copy of every ledger entry in sequence order.
func (s *Sandbox) Ledger() []Entry { return s.LedgerFiltered(LedgerFilter{}) }

// LedgerFiltered returns the ledger entries that match f.
func (s *Sandbox) LedgerFiltered(f LedgerFilter) []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Entry{}
	for _, e := range s.entries {
		if f.match(&e.Entry) {
			out = append(out, e.snapshot())
		}
	}
	return out
}

func (e *entry) snapshot() Entry {
	c := e.Entry
	c.History = append([]EntryStatus(nil), e.History...)
	if e.DecidedAt != nil {
		t := *e.DecidedAt
		c.DecidedAt = &t
	}
	return c
}

// Statuses returns every status emitted since the last Reset, in order.
func (s *Sandbox) Statuses() []StatusRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statusesLocked()
}

func (s *Sandbox) statusesLocked() []StatusRecord {
	out := make([]StatusRecord, len(s.statuses))
	for i, r := range s.statuses {
		out[i] = *r
		if r.PublishedAt != nil {
			t := *r.PublishedAt
			out[i].PublishedAt = &t
		}
	}
	return out
}

// Pending returns the number of statuses emitted but not yet published.
func (s *Sandbox) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.outbox)
}

// ErrWaitTimeout is returned by WaitStatuses and WaitPublished.
var ErrWaitTimeout = errors.New("radial sandbox: timed out waiting for statuses")

// WaitStatuses waits until at least n statuses have been emitted (decided),
// whether or not they were published, and returns them all.
func (s *Sandbox) WaitStatuses(n int, timeout time.Duration) ([]StatusRecord, error) {
	return s.wait(timeout, func() bool { return len(s.statuses) >= n })
}

// WaitPublished waits until at least n statuses have been confirmed by the
// broker, and returns every status emitted.
func (s *Sandbox) WaitPublished(n int, timeout time.Duration) ([]StatusRecord, error) {
	return s.wait(timeout, func() bool {
		c := 0
		for _, r := range s.statuses {
			if r.Published {
				c++
			}
		}
		return c >= n
	})
}

func (s *Sandbox) wait(timeout time.Duration, done func() bool) ([]StatusRecord, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ok, ch := done(), s.changed
		recs := s.statusesLocked()
		s.mu.Unlock()
		if ok {
			return recs, nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			return recs, fmt.Errorf("%w (after %s, %d emitted)", ErrWaitTimeout, timeout, len(recs))
		case <-s.closed:
			return recs, errors.New("radial sandbox: closed while waiting for statuses")
		}
	}
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
