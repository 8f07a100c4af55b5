package frisbii

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// handleSettle serves POST /v1/charge/{handle}/settle.
func (s *Sandbox) handleSettle(w http.ResponseWriter, r *http.Request) {
	c := s.begin(w, r, EndpointSettle)
	if c == nil {
		return
	}
	var req SettleRequest
	if err := s.readBody(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	in, aerr := parseSettle(req)
	if aerr != nil {
		s.writeError(c, aerr)
		return
	}
	handle := r.PathValue("handle")

	s.mu.Lock()
	ok, done := s.startLocked(c, in.Key)
	if !ok {
		done()
		s.mu.Unlock()
		return
	}
	now := s.cfg.Now()
	s.tickLocked(now)
	res := s.settleLocked(handle, in, fingerprint(handle, in), now)
	done()
	res.countLocked(s.countersLocked(EndpointSettle), c.plan.Drop)
	s.mu.Unlock()

	res.answer(s, c, s.log.Info().Str("handle", handle).Str("key", in.Key).Int64("amount", in.total()),
		"settle", res.resp.State, res.resp.ErrorState)
}

// settleLocked performs a settle. A known key with the same content answers
// the first answer again without moving money (seed 002: "multiple requests
// with the same key will yield the same result"); with other content it is
// refused (sandbox choice: Frisbii's error list has no dedicated code, so
// code 1 "Invalid request"). Only answers that reached a verdict (settled,
// declined) are recorded under the key: a processing error leaves the
// charge unchanged and the key free, so retrying with the same key can
// succeed.
func (s *Sandbox) settleLocked(handle string, in settleInput, fp string, now time.Time) settleResult {
	if in.Key != "" {
		if rec, ok := s.settleKeys[in.Key]; ok && s.expired(rec.created, now) {
			delete(s.settleKeys, in.Key) // forgotten (Config.KeyLifetime): the call is new
		} else if ok {
			if rec.fingerprint != fp {
				return settleResult{conflict: true, err: newAPIError(CodeInvalidRequest,
					"idempotency key "+in.Key+" was already used for a different settle request")}
			}
			if rec.entry != nil {
				rec.entry.Replays++
				rec.entry.UpdatedAt = now
			}
			return settleResult{replay: true, resp: rec.response, declined: rec.response.ErrorState != ""}
		}
	}
	ch := s.charges[handle]
	if ch == nil {
		return settleResult{err: newAPIError(CodeInvoiceNotFound, "no charge with handle "+handle)}
	}
	if err := ch.checkSettle(in); err != nil {
		return settleResult{err: err}
	}
	amount := in.total()
	if amount == 0 {
		// "A subsequent settle with no amount will settle the remaining
		// amount up to the authorized amount."
		amount = ch.remaining()
	}
	if amount > ch.remaining() {
		return settleResult{err: newAPIError(CodeAmountTooHigh, fmt.Sprintf(
			"settle amount %d exceeds the amount left to settle (%d of %d authorized)", amount, ch.remaining(), ch.authorized))}
	}
	entry := &Entry{Kind: EntrySettle, Key: in.Key, Amount: amount, OrderLines: len(in.Lines), CreatedAt: now}
	if in.AcquirerReference != nil {
		entry.AcquirerReference = *in.AcquirerReference
	}
	if d := ch.seed.Decline; d != nil && !skip(&ch.declineSkip) && consume(&ch.declineLeft) {
		return s.declineLocked(ch, in, fp, d, entry, now)
	}
	ch.settled += amount
	ch.state = StateSettled
	if ch.settledAt.IsZero() {
		ch.settledAt = now
	}
	ch.transaction = s.newIDLocked()
	ch.errState, ch.errText = "", ""
	ch.applyOrderLines(in, amount, s.newIDLocked()[:12], now)
	entry.State, entry.Transaction = EntrySettled, ch.transaction
	s.addEntryLocked(ch, entry)
	res := settleResult{resp: ch.view(), entry: entry}
	s.rememberSettleLocked(in.Key, handle, fp, res.resp, entry, now)
	return res
}

// checkSettle refuses settles the charge's state does not allow. Multiple
// settles are allowed on a settled charge while money is left (Frisbii:
// "Multiple settles can be performed up to the authorized amount ... For
// multiple settles the state is already settled").
func (ch *charge) checkSettle(in settleInput) *apiError {
	switch ch.state {
	case StateAuthorized:
		return nil
	case StateSettled:
		if ch.remaining() <= 0 {
			return newAPIError(CodeInvoiceSettled, "the charge is fully settled")
		}
		return nil
	case StateCancelled:
		return newAPIError(CodeInvoiceCancelled, "the charge was cancelled")
	default:
		return newAPIError(CodeMustBeAuthorized, "the charge is "+ch.state+"; only an authorized charge can be settled")
	}
}

// declineLocked answers a scripted decline with HTTP 200 and the charge's
// error_state and error.
func (s *Sandbox) declineLocked(ch *charge, in settleInput, fp string, d *Decline, entry *Entry, now time.Time) settleResult {
	text := d.Error
	if text == "" {
		text = defaultErrors[d.ErrorState]
	}
	ch.errState, ch.errText = d.ErrorState, text
	if d.ErrorState == ErrorStateProcessingError {
		// State left unchanged, no money moved, key not consumed.
		return settleResult{resp: ch.view(), declined: true}
	}
	if d.ErrorState == ErrorStateHardDeclined && ch.settled == 0 {
		ch.state = StateFailed
	}
	ch.transaction = s.newIDLocked()
	entry.State, entry.Transaction = EntryFailed, ch.transaction
	entry.ErrorState, entry.Error = d.ErrorState, text
	s.addEntryLocked(ch, entry)
	res := settleResult{resp: ch.view(), entry: entry, declined: true}
	s.rememberSettleLocked(in.Key, ch.seed.Handle, fp, res.resp, entry, now)
	return res
}

func (s *Sandbox) rememberSettleLocked(key, handle, fp string, resp Charge, e *Entry, now time.Time) {
	if key == "" {
		return
	}
	s.settleKeys[key] = &settleRecord{handle: handle, fingerprint: fp, response: resp, entry: e, created: now}
}

// applyOrderLines updates the charge's order lines: "If order lines are
// provided the first settle will change the order lines and subsequent
// settles will add the order lines provided." An amount with ordertext is
// treated as one line (sandbox choice).
func (ch *charge) applyOrderLines(in settleInput, amount int64, idPrefix string, now time.Time) {
	var lines []OrderLine
	for i, l := range in.Lines {
		lines = append(lines, OrderLine{
			ID: fmt.Sprintf("ol-%s-%d", idPrefix, i), OrderText: l.Text, Amount: l.Total, Vat: json.Number(l.Vat),
			Quantity: l.Quantity, Origin: "ondemand", Timestamp: timestamp(now), UnitAmount: l.Unit, AmountDefinedInclVat: l.InclVat,
		})
	}
	if len(lines) == 0 {
		text := in.OrderText
		if text == "" && len(ch.orderLines) > 0 {
			text = ch.orderLines[0].OrderText
		}
		lines = []OrderLine{{
			ID: "ol-" + idPrefix, OrderText: text, Amount: amount, Vat: json.Number("0"), Quantity: 1,
			Origin: "ondemand", Timestamp: timestamp(now), UnitAmount: amount, AmountDefinedInclVat: true,
		}}
	}
	if ch.settled == amount { // first settle
		ch.orderLines = lines
		return
	}
	ch.orderLines = append(ch.orderLines, lines...)
}
