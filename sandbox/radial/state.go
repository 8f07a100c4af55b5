package radial

import (
	"errors"
	"fmt"
	"time"

	"github.com/settlement-worker/settlement-worker/money"
)

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
		Authorization:    z.script,
		Captured:         money.Money{Amount: z.captured, Currency: z.amount.Currency}.String(),
		Refunded:         money.Money{Amount: z.refunded, Currency: z.amount.Currency}.String(),
		Auto:             z.auto,
		Reauthorizations: z.reauths,
	}
	st.LaterStatuses = append([]LaterStatus(nil), z.script.LaterStatuses...)
	return st
}

// SetFaults replaces the fault knobs of an endpoint (or of all with
// EndpointAll).
func (s *Sandbox) SetFaults(ep Endpoint, f Faults) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.Set(ep, f, Faults.Validate)
}

// Faults returns the fault knobs as they are now (counters consumed so far
// are subtracted).
func (s *Sandbox) Faults() FaultsState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return FaultsState{Confirm: s.faults.Get(EndpointConfirm), Settle: s.faults.Get(EndpointSettle)}
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
