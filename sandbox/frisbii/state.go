package frisbii

import "sort"

// SeedCharge creates or replaces a charge (its money, refunds and ledger
// entries are forgotten; idempotency records of other charges are kept).
func (s *Sandbox) SeedCharge(seed ChargeSeed) (ChargeInfo, error) {
	if err := seed.Validate(); err != nil {
		return ChargeInfo{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.newChargeLocked(seed, s.cfg.Now())
	s.charges[ch.seed.Handle] = ch
	return ch.info(), nil
}

// ChargeInfo returns a charge with its balances and transactions.
func (s *Sandbox) ChargeInfo(handle string) (ChargeInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tickLocked(s.cfg.Now())
	ch := s.charges[handle]
	if ch == nil {
		return ChargeInfo{}, false
	}
	return ch.info(), true
}

// Charges returns every charge, sorted by handle.
func (s *Sandbox) Charges() []ChargeInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tickLocked(s.cfg.Now())
	out := make([]ChargeInfo, 0, len(s.charges))
	for _, ch := range s.charges {
		out = append(out, ch.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Handle < out[j].Handle })
	return out
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
	return FaultsState{
		Charge:    s.faults.Get(EndpointCharge),
		Settle:    s.faults.Get(EndpointSettle),
		Refund:    s.faults.Get(EndpointRefund),
		RefundGet: s.faults.Get(EndpointRefundGet),
	}
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
	s.tickLocked(s.cfg.Now())
	out := []Entry{}
	for _, e := range s.entries {
		if f.match(e) {
			out = append(out, *e)
		}
	}
	return out
}
