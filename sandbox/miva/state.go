package miva

import (
	"github.com/shopspring/decimal"

	"fmt"
	"sort"
)

// SeedOrder creates or replaces an order and its payment records. Record
// ids must be unique in the sandbox (the replaced order's ids are free
// again); records without one get the next free id. Refunds seeded against
// a capture may not exceed what it captured.
func (s *Sandbox) SeedOrder(seed OrderSeed) (OrderState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ord, err := seed.build(s.cfg.Currency, s.cfg.Now().Unix())
	if err != nil {
		return OrderState{}, err
	}
	for _, r := range ord.records {
		if old := s.byID[r.id]; r.id != 0 && old != nil && old.orderID != ord.id {
			return OrderState{}, fmt.Errorf("order %d: payment record id %d belongs to order %d", ord.id, r.id, old.orderID)
		}
	}
	for _, r := range ord.records {
		if r.typ == TypeRefund {
			p := findRecord(ord, r.parent)
			if ord.refundableExcept(p, r).LessThan(r.amount) {
				return OrderState{}, fmt.Errorf("order %d: refund %d exceeds what record %d captured", ord.id, r.id, p.id)
			}
		}
	}
	if old := s.orders[ord.id]; old != nil {
		for _, r := range old.records {
			delete(s.byID, r.id)
		}
	}
	maxID := s.nextID - 1
	for _, r := range s.byID {
		maxID = max(maxID, r.id)
	}
	for _, r := range ord.records {
		maxID = max(maxID, r.id)
	}
	for _, r := range ord.records {
		if r.id == 0 {
			maxID++
			r.id = maxID
		}
		s.byID[r.id] = r
	}
	s.nextID = maxID + 1
	sort.SliceStable(ord.records, func(i, j int) bool { return ord.records[i].id < ord.records[j].id })
	s.orders[ord.id] = ord
	s.log.Info().Int64("order_id", ord.id).Int("records", len(ord.records)).Msg("order seeded")
	return ord.state(s.cfg.StoreCode), nil
}

// refundableExcept is refundable(p) ignoring refund r and later ones
// (seed validation: refunds are checked in seed order).
func (o *order) refundableExcept(p, r *record) decimal.Decimal {
	left := p.captured()
	for _, c := range o.records {
		if c == r {
			break
		}
		if c.parent == p.id && c.typ == TypeRefund {
			left = left.Sub(c.amount)
		}
	}
	return left
}

func findRecord(o *order, id int64) *record {
	for _, r := range o.records {
		if r.id == id {
			return r
		}
	}
	return nil
}

// Order returns an order with its payment records and totals.
func (s *Sandbox) Order(orderID int64) (OrderState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[orderID]
	if o == nil {
		return OrderState{}, false
	}
	return o.state(s.cfg.StoreCode), true
}

// Orders returns every order, by order id.
func (s *Sandbox) Orders() []OrderState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]OrderState, 0, len(s.orders))
	for _, o := range s.orders {
		out = append(out, o.state(s.cfg.StoreCode))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OrderID < out[j].OrderID })
	return out
}

// Payments returns an order's payment records exactly as
// OrderPaymentList_Load answers them (nil when the order is unknown).
func (s *Sandbox) Payments(orderID int64) []PaymentRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[orderID]
	if o == nil {
		return nil
	}
	return o.list()
}

func (o *order) list() []PaymentRecord {
	out := make([]PaymentRecord, 0, len(o.records))
	for _, r := range o.records {
		out = append(out, r.wire(o.currency))
	}
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
		List: s.faults.Get(EndpointList), Capture: s.faults.Get(EndpointCapture),
		Refund: s.faults.Get(EndpointRefund), Void: s.faults.Get(EndpointVoid),
	}
}

// Calls returns the call counters.
func (s *Sandbox) Calls() Calls {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Ledger returns every ledger entry in sequence order.
func (s *Sandbox) Ledger() []Entry { return s.LedgerFiltered(LedgerFilter{}) }

// LedgerFiltered returns the ledger entries that match f.
func (s *Sandbox) LedgerFiltered(f LedgerFilter) []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Entry{}
	for i := range s.entries {
		if f.match(&s.entries[i]) {
			out = append(out, s.entries[i])
		}
	}
	return out
}

// countersLocked returns the counters of ep (Other for "").
func (s *Sandbox) countersLocked(ep Endpoint) *EndpointCalls {
	switch ep {
	case EndpointList:
		return &s.calls.List
	case EndpointCapture:
		return &s.calls.Capture
	case EndpointRefund:
		return &s.calls.Refund
	case EndpointVoid:
		return &s.calls.Void
	}
	return &s.calls.Other
}

func (s *Sandbox) count(ep Endpoint, f func(*EndpointCalls)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.countersLocked(ep))
}
