package paysafe

import (
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
)

// Sandbox is an in-memory Paysafe Card Payments API: HTTP handlers,
// authorizations, a ledger of settlements and refunds, and the batch clock.
// It is safe for concurrent use. Create it with NewSandbox and release it
// with Close.
type Sandbox struct {
	cfg Config
	log zerolog.Logger

	mu       sync.Mutex
	accounts map[string]*account
	entries  []*entry
	entrySeq int64
	faults   kit.FaultSet[Endpoint, Faults]
	calls    Calls
	rng      *rand.Rand

	closed    chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// account is one merchant account: its authorizations and transactions.
type account struct {
	id          string
	auths       map[string]*authz
	settlements map[string]*entry
	refunds     map[string]*entry
}

// authz is an authorization and what was settled against it.
type authz struct {
	script      Authorization
	txnTime     time.Time
	settlements []*entry
}

// entry is a ledger entry with its links to the authorization and to the
// settlement (refunds) or refunds (settlements).
type entry struct {
	Entry
	auth       *authz
	settlement *entry
	refunds    []*entry
}

// NewSandbox validates cfg, applies its defaults and starts the batch clock
// (unless BatchInterval is negative). Call Close when done.
func NewSandbox(cfg Config) (*Sandbox, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	s := &Sandbox{
		cfg:    cfg,
		log:    cfg.Logger.With().Str("component", "paysafe-sandbox").Logger(),
		rng:    kit.NewRand(cfg.RandSeed),
		closed: make(chan struct{}),
	}
	s.resetLocked()
	if cfg.BatchInterval > 0 {
		s.wg.Add(1)
		go s.runBatchClock(cfg.BatchInterval)
	}
	return s, nil
}

// Config returns the effective configuration (defaults applied).
func (s *Sandbox) Config() Config { return s.cfg }

// Close stops the batch clock and releases hanging calls.
func (s *Sandbox) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	s.wg.Wait()
	return nil
}

// Reset forgets authorizations, the ledger, faults and counters.
func (s *Sandbox) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

func (s *Sandbox) resetLocked() {
	s.accounts = map[string]*account{}
	s.entries = nil
	s.faults = kit.NewFaultSet[Endpoint, Faults](EndpointAll, endpoints...)
	s.calls = Calls{}
}

// Handler returns the HTTP handler serving the Card Payments API and the
// admin API under the configured prefix.
func (s *Sandbox) Handler() http.Handler { return s.routes() }

// runBatchClock runs a batch every interval until the sandbox closes.
func (s *Sandbox) runBatchClock(interval time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if r := s.RunBatch(); r.Completed+r.Failed > 0 {
				s.log.Info().Int("completed", r.Completed).Int("failed", r.Failed).Msg("batch")
			}
		case <-s.closed:
			return
		}
	}
}

// accountLocked returns the account, creating it when create is true.
func (s *Sandbox) accountLocked(id string, create bool) *account {
	a := s.accounts[id]
	if a == nil && create {
		a = &account{id: id, auths: map[string]*authz{}, settlements: map[string]*entry{}, refunds: map[string]*entry{}}
		s.accounts[id] = a
	}
	return a
}
