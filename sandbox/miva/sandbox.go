package miva

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"

	"github.com/rs/zerolog"
	"github.com/shopspring/decimal"

	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
)

// Sandbox is an in-memory Miva store: its JSON API endpoint, the orders'
// payment records, a ledger of money movements, fault knobs and call
// counters. It is safe for concurrent use: every function runs under one
// mutex, so concurrent captures can never capture more than available.
// Create it with NewSandbox and release it with Close.
type Sandbox struct {
	cfg Config
	log zerolog.Logger

	mu       sync.Mutex
	orders   map[int64]*order
	byID     map[int64]*record
	nextID   int64
	entries  []Entry
	entrySeq int64
	faults   kit.FaultSet[Endpoint, Faults]
	calls    Calls
	rng      *rand.Rand

	closed    chan struct{}
	closeOnce sync.Once
}

// order is one Miva order and its payment records in id order.
type order struct {
	id       int64
	currency string
	records  []*record
}

// record is a payment record with the sandbox's bookkeeping.
type record struct {
	id, orderID int64
	typ         int
	refnum      string
	amount      decimal.Decimal
	available   decimal.Decimal
	dtstamp     int64
	expires     int64
	payID       int64
	paySecID    int64
	parent      int64
	// saleCaptured is what a type 5 record captured at the sale.
	saleCaptured   decimal.Decimal
	declineCapture string
	declineRefund  string
}

// NewSandbox validates cfg and applies its defaults. Call Close when done.
func NewSandbox(cfg Config) (*Sandbox, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	s := &Sandbox{
		cfg:    cfg,
		log:    cfg.Logger.With().Str("component", "miva-sandbox").Logger(),
		rng:    kit.NewRand(cfg.RandSeed),
		closed: make(chan struct{}),
	}
	s.resetLocked()
	return s, nil
}

// Config returns the effective configuration (defaults applied).
func (s *Sandbox) Config() Config { return s.cfg }

// Close releases hanging calls. The sandbox keeps answering afterwards,
// but hang faults no longer hold connections.
func (s *Sandbox) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	return nil
}

// Reset forgets orders, payment records, ledger, faults and counters.
func (s *Sandbox) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

func (s *Sandbox) resetLocked() {
	s.orders = map[int64]*order{}
	s.byID = map[int64]*record{}
	s.nextID = 1
	s.entries = nil
	s.entrySeq = 0
	s.faults = kit.NewFaultSet[Endpoint, Faults](EndpointAll, endpoints...)
	s.calls = Calls{}
}

// Handler returns the HTTP handler serving the JSON API and the admin API
// under the configured prefix.
func (s *Sandbox) Handler() http.Handler { return s.routes() }

// URL returns the JSON API URL of a sandbox served at base (for example
// an httptest server's URL): base + prefix + endpoint path.
func (s *Sandbox) URL(base string) string { return base + s.cfg.Prefix + s.cfg.EndpointPath }

// wire returns the API view of r.
func (r *record) wire(currency string) PaymentRecord {
	p := PaymentRecord{
		ID:                 r.id,
		OrderID:            r.orderID,
		Type:               r.typ,
		Refnum:             r.refnum,
		Amount:             Num(r.amount),
		FormattedAmount:    formatMoney(r.amount, currency),
		Available:          Num(r.available),
		FormattedAvailable: formatMoney(r.available, currency),
		DTStamp:            strconv.FormatInt(r.dtstamp, 10),
		PayID:              r.payID,
		PaySecID:           r.paySecID,
	}
	if r.expires != 0 {
		p.Expires = strconv.FormatInt(r.expires, 10)
	}
	return p
}

// captured is what a capture record captured (0 for other types).
func (r *record) captured() decimal.Decimal {
	switch r.typ {
	case TypeLegacyCapture, TypeCapture:
		return r.amount
	case TypeAuthCapture:
		return r.saleCaptured
	}
	return decimal.Zero
}

// refundable is what may still be refunded against capture record r.
func (o *order) refundable(r *record) decimal.Decimal {
	left := r.captured()
	for _, c := range o.records {
		if c.parent == r.id && c.typ == TypeRefund {
			left = left.Sub(c.amount)
		}
	}
	return left
}

// totals computes the order's OrderPaymentTotal.
func (o *order) totals() OrderPaymentTotal {
	var auth, capt, rfnd decimal.Decimal
	for _, r := range o.records {
		if isAuth(r.typ) {
			auth = auth.Add(r.amount)
		}
		capt = capt.Add(r.captured())
		if r.typ == TypeRefund {
			rfnd = rfnd.Add(r.amount)
		}
	}
	net := capt.Sub(rfnd)
	c := o.currency
	return OrderPaymentTotal{
		OrderID:   o.id,
		TotalAuth: Num(auth), FormattedTotalAuth: formatMoney(auth, c),
		TotalCapt: Num(capt), FormattedTotalCapt: formatMoney(capt, c),
		TotalRfnd: Num(rfnd), FormattedTotalRfnd: formatMoney(rfnd, c),
		NetCapt: Num(net), FormattedNetCapt: formatMoney(net, c),
	}
}

// state returns the admin view of o.
func (o *order) state(store string) OrderState {
	st := OrderState{StoreCode: store, OrderID: o.id, Currency: o.currency, Records: []RecordState{}, Totals: o.totals()}
	for _, r := range o.records {
		rs := RecordState{PaymentRecord: r.wire(o.currency), ParentID: r.parent}
		if isCapture(r.typ) {
			rs.Refundable = o.refundable(r).StringFixed(exponentOf(o.currency))
		}
		st.Records = append(st.Records, rs)
	}
	return st
}
