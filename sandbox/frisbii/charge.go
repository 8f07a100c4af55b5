package frisbii

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
)

// handleGetCharge serves GET /v1/charge/{handle}.
func (s *Sandbox) handleGetCharge(w http.ResponseWriter, r *http.Request) {
	c := s.begin(w, r, EndpointCharge)
	if c == nil {
		return
	}
	handle := r.PathValue("handle")
	s.mu.Lock()
	s.tickLocked(s.cfg.Now())
	ch := s.charges[handle]
	var view Charge
	if ch != nil {
		view = ch.view()
	}
	s.mu.Unlock()
	if ch == nil {
		s.writeError(c, newAPIError(CodeInvoiceNotFound, "no charge with handle "+handle))
		return
	}
	if c.plan.Drop {
		s.dropReply(c)
		return
	}
	kit.WriteJSON(w, http.StatusOK, view)
}

// newCharge builds a charge from a validated seed.
func (s *Sandbox) newChargeLocked(seed ChargeSeed, now time.Time) *charge {
	seed = seed.WithDefaults()
	ch := &charge{
		seed:         seed,
		state:        seed.State,
		authorized:   seed.Amount,
		settled:      seed.SettledAmount,
		created:      now,
		authorizedAt: now,
		declineLeft:  scriptCount(seed.Decline != nil, countOf(seed.Decline)),
		refundLeft:   scriptCount(seed.Refund != nil, refundCountOf(seed.Refund)),
		declineSkip:  afterOf(seed.Decline),
		refundSkip:   refundAfterOf(seed.Refund),
	}
	text := seed.OrderText
	if text == "" {
		text = "Order " + seed.Handle
	}
	ch.orderLines = []OrderLine{{
		ID: "ol-" + s.newIDLocked()[:12], OrderText: text, Amount: seed.Amount, Vat: json.Number("0"),
		Quantity: 1, Origin: "ondemand", Timestamp: timestamp(now), UnitAmount: seed.Amount, AmountDefinedInclVat: true,
	}}
	switch seed.State {
	case StateSettled:
		ch.settledAt = now
		ch.transaction = s.newIDLocked()
	case StateFailed:
		ch.errState, ch.errText = seed.ErrorState, seed.Error
	case StateCancelled:
		ch.cancelledAt = now
	case StatePending:
		ch.authorizedAt = time.Time{}
	}
	return ch
}

func countOf(d *Decline) int {
	if d == nil {
		return 0
	}
	return d.Count
}

func afterOf(d *Decline) int {
	if d == nil {
		return 0
	}
	return d.After
}

func refundAfterOf(r *RefundScript) int {
	if r == nil {
		return 0
	}
	return r.After
}

// skip uses one of the calls a script leaves as they are (After); false
// when none is left.
func skip(left *int) bool {
	if *left > 0 {
		*left--
		return true
	}
	return false
}

func refundCountOf(r *RefundScript) int {
	if r == nil {
		return 0
	}
	return r.Count
}

// scriptCount turns a script's Count into a counter: −1 applies to every
// call, 0 to none.
func scriptCount(present bool, n int) int {
	switch {
	case !present:
		return 0
	case n == 0:
		return -1
	default:
		return n
	}
}

// consume uses one application of a script counter.
func consume(left *int) bool {
	switch {
	case *left < 0:
		return true
	case *left > 0:
		*left--
		return true
	}
	return false
}

// remaining is what can still be settled.
func (ch *charge) remaining() int64 { return ch.authorized - ch.settled }

// view is Frisbii's charge object for ch.
func (ch *charge) view() Charge {
	amount := ch.authorized
	if ch.settled > 0 {
		// "If partial settles are performed amount represents the total
		// settled amount."
		amount = ch.settled
	}
	v := Charge{
		Handle:           ch.seed.Handle,
		State:            ch.state,
		Customer:         ch.seed.Customer,
		Amount:           amount,
		Currency:         ch.seed.Currency,
		Authorized:       timestamp(ch.authorizedAt),
		Settled:          timestamp(ch.settledAt),
		Cancelled:        timestamp(ch.cancelledAt),
		Created:          timestamp(ch.created),
		Transaction:      ch.transaction,
		Error:            ch.errText,
		ErrorState:       ch.errState,
		Source:           ChargeSrc{Type: "card"},
		OrderLines:       append([]OrderLine(nil), ch.orderLines...),
		RefundedAmount:   ch.refunded,
		AuthorizedAmount: ch.authorized,
	}
	if ch.authorizedAt.IsZero() {
		v.AuthorizedAmount = 0
	}
	return v
}

// info is the admin view of ch.
func (ch *charge) info() ChargeInfo {
	ci := ChargeInfo{
		Charge:          ch.view(),
		SettledAmount:   ch.settled,
		RemainingAmount: ch.remaining(),
		PendingRefunds:  ch.refundPending,
		Transactions:    make([]Entry, len(ch.entries)),
	}
	for i, e := range ch.entries {
		ci.Transactions[i] = *e
	}
	return ci
}
