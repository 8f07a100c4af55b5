package radial

import (
	"cmp"
	"slices"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/money"
)

// event is a status to decide at due: the first verdict of an entry, or a
// scripted later status.
type event struct {
	due     time.Time
	seq     int64
	entry   *entry
	verdict bool   // first verdict, decided by the ledger arithmetic
	status  string // later status (when !verdict)
	reason  string
}

// scheduleLocked queues ev in due order (ties in creation order).
func (s *Sandbox) scheduleLocked(ev event) {
	s.eventSeq++
	ev.seq = s.eventSeq
	i, _ := slices.BinarySearchFunc(s.events, ev, func(a, b event) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	s.events = slices.Insert(s.events, i, ev)
	signal(s.wake)
}

// runScheduler fires due events until the sandbox closes.
func (s *Sandbox) runScheduler() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		now := time.Now()
		for len(s.events) > 0 && !s.events[0].due.After(now) {
			ev := s.events[0]
			s.events = s.events[1:]
			s.fireLocked(ev, now)
		}
		wait := time.Hour
		if len(s.events) > 0 {
			wait = s.events[0].due.Sub(now)
		}
		s.mu.Unlock()
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-s.wake:
		case <-s.closed:
			return
		}
	}
}

func (s *Sandbox) fireLocked(ev event, now time.Time) {
	e := ev.entry
	if ev.verdict {
		status, reason := s.decideLocked(e)
		s.recordStatusLocked(e, status, reason, now)
		if status == messages.StatusSettled && e.Type == messages.SettlementDebit {
			if z := s.auths[authKey{e.StoreID, e.OrderID}]; z != nil {
				for _, l := range z.script.LaterStatuses {
					s.scheduleLocked(event{
						due:    now.Add(time.Duration(l.AfterMS) * time.Millisecond),
						entry:  e,
						status: l.Status,
						reason: l.DeclineReason,
					})
				}
			}
		}
		return
	}
	s.transitionLocked(e, ev.status)
	s.recordStatusLocked(e, ev.status, ev.reason, now)
}

// decideLocked settles or rejects an accepted entry and moves the money.
func (s *Sandbox) decideLocked(e *entry) (status, reason string) {
	k := authKey{e.StoreID, e.OrderID}
	z := s.auths[k]
	debit := e.Type == messages.SettlementDebit
	if z == nil {
		switch {
		case !debit:
			return messages.StatusRejected, ReasonInsufficientCapture
		case !*s.cfg.AutoAuthorize:
			return messages.StatusRejected, ReasonNoAuthorization
		}
		z = s.autoAuthorizeLocked(k, e.amount)
	}
	if z.script.SettleVerdict == messages.StatusRejected {
		reason := z.script.DeclineReason
		if reason == "" {
			reason = ReasonScriptedDecline
		}
		return messages.StatusRejected, reason
	}
	if z.amount.Currency != e.amount.Currency {
		return messages.StatusRejected, ReasonCurrencyMismatch
	}
	if debit {
		remaining := z.amount.Amount.Sub(z.captured)
		if e.amount.Amount.GreaterThan(remaining) {
			return messages.StatusRejected, ReasonInsufficientAuthorization
		}
		z.captured = z.captured.Add(e.amount.Amount)
		return messages.StatusSettled, ""
	}
	refundable := z.captured.Sub(z.refunded)
	if e.amount.Amount.GreaterThan(refundable) {
		return messages.StatusRejected, ReasonInsufficientCapture
	}
	z.refunded = z.refunded.Add(e.amount.Amount)
	return messages.StatusSettled, ""
}

// transitionLocked moves money for a later status: R after S reverses the
// settlement (chargeback), S after R applies it.
func (s *Sandbox) transitionLocked(e *entry, status string) {
	z := s.auths[authKey{e.StoreID, e.OrderID}]
	if z == nil || e.State == status || z.amount.Currency != e.amount.Currency {
		return
	}
	sign := e.amount.Amount
	if status == messages.StatusRejected {
		if e.State != messages.StatusSettled {
			return
		}
		sign = sign.Neg()
	}
	if e.Type == messages.SettlementDebit {
		z.captured = z.captured.Add(sign)
	} else {
		z.refunded = z.refunded.Add(sign)
	}
}

func (s *Sandbox) autoAuthorizeLocked(k authKey, m money.Money) *authz {
	z := &authz{
		script: Authorization{StoreID: k.store, OrderID: k.order, Amount: m.String(), Currency: m.Currency},
		amount: m,
		auto:   true,
	}
	s.auths[k] = z
	return z
}

// recordStatusLocked updates the entry and emits its status message.
func (s *Sandbox) recordStatusLocked(e *entry, status, reason string, now time.Time) {
	e.State, e.DeclineReason, e.UpdatedAt = status, reason, now
	if e.DecidedAt == nil {
		t := now
		e.DecidedAt = &t
	}
	e.History = append(e.History, EntryStatus{Status: status, DeclineReason: reason, At: now})
	s.emitLocked(e, status, reason, now)
}
