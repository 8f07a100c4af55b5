package frisbii

import (
	"fmt"
	"net/http"
	"time"

	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
)

// handleRefund serves POST /v1/refund.
func (s *Sandbox) handleRefund(w http.ResponseWriter, r *http.Request) {
	c := s.begin(w, r, EndpointRefund)
	if c == nil {
		return
	}
	var req CreateRefund
	if err := s.readBody(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	var amount int64
	if req.Amount != nil {
		n, err := parseInt(*req.Amount, "amount")
		if err != nil {
			s.writeError(c, err)
			return
		}
		if n == 0 {
			s.writeError(c, newAPIError(CodeNonPositiveAmount, "amount must be greater than zero"))
			return
		}
		amount = n
	}
	if req.Invoice == "" {
		s.writeError(c, newAPIError(CodeInvalidRequest, "invoice is required"))
		return
	}
	if req.AcquirerReference != nil {
		if err := checkAcquirerReference(*req.AcquirerReference); err != nil {
			s.writeError(c, err)
			return
		}
	}
	fp := fingerprint(req.Invoice, req.Key, amount, req.Text, req.AcquirerReference)

	s.mu.Lock()
	ok, done := s.startLocked(c, refundFlightKey(req.Invoice, req.Key))
	if !ok {
		done()
		s.mu.Unlock()
		return
	}
	now := s.cfg.Now()
	s.tickLocked(now)
	res := s.refundLocked(req, amount, fp, now)
	done()
	res.countLocked(s.countersLocked(EndpointRefund), c.plan.Drop)
	s.mu.Unlock()

	res.answer(s, c, s.log.Info().Str("handle", req.Invoice).Str("key", req.Key).Int64("amount", amount),
		"refund", res.resp.State, res.resp.ErrorState)
}

// refundLocked creates a refund of a settled charge, at most what was
// settled and not yet refunded (or being refunded). A known key and invoice
// with the same content answers the refund as it is now.
func (s *Sandbox) refundLocked(req CreateRefund, amount int64, fp string, now time.Time) refundResult {
	k := refundKey{req.Invoice, req.Key}
	if req.Key != "" {
		if rec, ok := s.refundKeys[k]; ok && s.expired(rec.created, now) {
			delete(s.refundKeys, k) // forgotten (Config.KeyLifetime): the call is new
		} else if ok {
			if rec.fingerprint != fp {
				return refundResult{conflict: true, err: newAPIError(CodeInvalidRequest,
					"idempotency key "+req.Key+" was already used for a different refund request")}
			}
			if rec.refund.entry != nil {
				rec.refund.entry.Replays++
				rec.refund.entry.UpdatedAt = now
			}
			return refundResult{replay: true, resp: rec.refund.Refund, declined: rec.refund.ErrorState != ""}
		}
	}
	ch := s.charges[req.Invoice]
	if ch == nil {
		return refundResult{err: newAPIError(CodeInvoiceNotFound, "no charge with handle "+req.Invoice)}
	}
	if ch.settled == 0 {
		return refundResult{err: newAPIError(CodeInvoiceNotSettled, "the charge has no settled amount to refund")}
	}
	refundable := ch.settled - ch.refunded - ch.refundPending
	if amount == 0 {
		amount = refundable // "if neither is provided the full refundable amount is refunded"
	}
	if amount == 0 || amount > refundable {
		return refundResult{err: newAPIError(CodeRefundAmountTooHigh, fmt.Sprintf(
			"refund amount %d exceeds the refundable amount %d (settled %d, refunded %d, processing %d)",
			amount, refundable, ch.settled, ch.refunded, ch.refundPending))}
	}
	rf := &refund{ch: ch, Refund: Refund{
		ID: s.newIDLocked(), Invoice: ch.seed.Handle, Amount: amount, Currency: ch.seed.Currency,
		Transaction: s.newIDLocked(), Type: "card", Created: timestamp(now), RefTransaction: ch.transaction,
	}}
	script := ch.seed.Refund
	state := RefundRefunded
	if script != nil && !skip(&ch.refundSkip) && consume(&ch.refundLeft) && script.State != "" {
		state = script.State
	}
	rf.State = state
	res := refundResult{}
	switch state {
	case RefundRefunded:
		ch.refunded += amount
		rf.CreditNoteID = "cn-" + rf.ID[:12]
	case RefundProcessing:
		ch.refundPending += amount
		d := DefaultProcessingRecheck
		if script.ProcessingMS > 0 {
			d = time.Duration(script.ProcessingMS) * time.Millisecond
		}
		rf.readyAt = now.Add(d)
		s.processing = append(s.processing, rf)
	case RefundFailed:
		rf.ErrorState = script.ErrorState
		rf.Error = script.Error
		if rf.Error == "" {
			rf.Error = defaultErrors[script.ErrorState]
		}
		rf.AcquirerMessage = "declined (frisbii sandbox script)"
		res.declined = true
	}
	s.refunds[rf.ID] = rf
	res.resp = rf.Refund
	if rf.ErrorState == ErrorStateProcessingError {
		// Nothing moved and the key stays free: a retry with the same key
		// tries again.
		return res
	}
	entry := &Entry{Kind: EntryRefund, Key: req.Key, Amount: amount, State: state, Transaction: rf.Transaction,
		RefundID: rf.ID, ErrorState: rf.ErrorState, Error: rf.Error, CreatedAt: now}
	if req.AcquirerReference != nil {
		entry.AcquirerReference = *req.AcquirerReference
	}
	rf.entry = s.addEntryLocked(ch, entry)
	res.entry = entry
	if req.Key != "" {
		s.refundKeys[k] = &refundRecord{fingerprint: fp, refund: rf, created: now}
	}
	return res
}

// handleGetRefund serves GET /v1/refund/{id}.
func (s *Sandbox) handleGetRefund(w http.ResponseWriter, r *http.Request) {
	c := s.begin(w, r, EndpointRefundGet)
	if c == nil {
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	s.tickLocked(s.cfg.Now())
	rf := s.refunds[id]
	var view Refund
	if rf != nil {
		view = rf.Refund
	}
	s.mu.Unlock()
	if rf == nil {
		s.writeError(c, newAPIError(CodeRefundNotFound, "no refund with id "+id))
		return
	}
	if c.plan.Drop {
		s.dropReply(c)
		return
	}
	kit.WriteJSON(w, http.StatusOK, view)
}

// refundFlightKey names a refund key in flight (keys are per invoice).
func refundFlightKey(invoice, key string) string {
	if key == "" {
		return ""
	}
	return invoice + "\x00" + key
}
