package paysafe

import (
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
)

// Authorize creates or replaces an authorization (its id defaults to a new
// UUID). Settlements already made against it are kept: the new amount
// must cover them.
func (s *Sandbox) Authorize(a Authorization) (AuthorizationState, error) {
	if a.ID == "" {
		a.ID = uuid.NewString()
	}
	if err := a.Validate(); err != nil {
		return AuthorizationState{}, err
	}
	if a.Status == "" {
		a.Status = StatusCompleted
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	acct := s.accountLocked(a.AccountID, true)
	z := acct.auths[a.ID]
	if z == nil {
		z = &authz{txnTime: time.Now().UTC()}
		acct.auths[a.ID] = z
	} else {
		held := z.script.Amount - z.availableToSettle()
		if a.Amount < held {
			return AuthorizationState{}, fmt.Errorf("authorization %s/%s: amount %d is below the %d already settled", a.AccountID, a.ID, a.Amount, held)
		}
		if a.Currency != z.script.Currency && len(z.settlements) > 0 {
			return AuthorizationState{}, fmt.Errorf("authorization %s/%s: currency cannot change once settled", a.AccountID, a.ID)
		}
	}
	z.script = a
	return z.state(), nil
}

// AuthorizationState returns an authorization and what remains of it.
func (s *Sandbox) AuthorizationState(accountID, authID string) (AuthorizationState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accountLocked(accountID, false); a != nil {
		if z := a.auths[authID]; z != nil {
			return z.state(), true
		}
	}
	return AuthorizationState{}, false
}

// Authorizations returns every authorization, sorted by account and id.
func (s *Sandbox) Authorizations() []AuthorizationState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []AuthorizationState{}
	for _, a := range s.accounts {
		for _, z := range a.auths {
			out = append(out, z.state())
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].AccountID != out[j].AccountID {
			return out[i].AccountID < out[j].AccountID
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// RunBatch batches now: every RECEIVED, PENDING or PROCESSING settlement
// and refund becomes COMPLETED, or FAILED when its authorization scripts
// it.
func (s *Sandbox) RunBatch() BatchResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.batchLocked()
}

// CancelSettlement cancels a settlement not batched yet, as PUT
// .../settlements/{id} {"status":"CANCELLED"} does.
func (s *Sandbox) CancelSettlement(accountID, id string) (Entry, error) {
	return s.cancel(accountID, KindSettlement, id)
}

// CancelRefund cancels a refund not batched yet.
func (s *Sandbox) CancelRefund(accountID, id string) (Entry, error) {
	return s.cancel(accountID, KindRefund, id)
}

func (s *Sandbox) cancel(accountID, kind, id string) (Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, rf := s.cancelLocked(accountID, kind, id)
	if rf != nil {
		return Entry{}, fmt.Errorf("paysafe sandbox: cancel %s %s: %s %s", kind, id, rf.code, rf.message)
	}
	return e.snapshot(), nil
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
	return s.faults.All()
}

// Calls returns the call counters.
func (s *Sandbox) Calls() Calls {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Ledger returns a copy of every ledger entry in creation order.
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
	return c
}

func (s *Sandbox) countersLocked(ep Endpoint) *EndpointCalls {
	switch ep {
	case EndpointAuth:
		return &s.calls.Auth
	case EndpointSettle:
		return &s.calls.Settle
	case EndpointRefund:
		return &s.calls.Refund
	case EndpointGet:
		return &s.calls.Get
	case EndpointLookup:
		return &s.calls.Lookup
	default:
		return &s.calls.Cancel
	}
}

func (s *Sandbox) count(ep Endpoint, f func(*EndpointCalls)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.countersLocked(ep))
}
