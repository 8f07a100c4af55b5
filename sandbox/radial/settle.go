package radial

import (
	"net/http"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/money"
)

// handleSettle serves POST .../payments/settlement/create/{TenderType}.xml.
func (s *Sandbox) handleSettle(w http.ResponseWriter, r *http.Request) {
	const ep = EndpointSettle
	c, plan, ok := s.begin(w, r, ep)
	if !ok {
		return
	}
	req, amount, fp, ok := settleRequest.read(s, w, r, ep, c)
	if !ok {
		return
	}

	s.mu.Lock()
	e, dup, conflict := s.settleLocked(c, req, amount, fp, plan.Drop)
	s.countDedupLocked(ep, dup, conflict)
	s.mu.Unlock()

	if conflict {
		s.writeXML(w, http.StatusBadRequest, fault(FaultDuplicateRequestID, "requestId "+req.RequestID+" was already used for a different PaymentSettlementRequest"))
		return
	}
	s.log.Info().Str("request_id", req.RequestID).Str("store_id", c.store).Str("tender_type", c.tender).
		Str("order_id", req.OrderID()).Str("account", accountOf(req.PaymentContext)).
		Str("type", req.SettlementType).Str("amount", amount.String()).Str("currency", amount.Currency).
		Int64("seq", e.Seq).Bool("duplicate", dup).Bool("reply_dropped", plan.Drop).Msg("settlement create")
	if plan.Drop {
		s.dropReply(w, ep)
		return
	}
	s.writeXML(w, http.StatusOK, &messages.AckReply{Received: &struct{}{}})
}

// settleLocked records a new settlement and schedules its status, or finds
// the entry of a repeated requestId (which moves no money and schedules
// nothing). conflict is true for a known requestId with other content.
func (s *Sandbox) settleLocked(c apiCall, req *messages.PaymentSettlementRequest, amount money.Money, fp string, dropped bool) (e *entry, dup, conflict bool) {
	if old, ok := s.byRequest[req.RequestID]; ok {
		if old.fingerprint != fp {
			return old, false, true
		}
		old.DuplicateHits++
		return old, true, false
	}
	now := time.Now()
	s.entrySeq++
	e = &entry{
		Entry: Entry{
			Seq:           s.entrySeq,
			RequestID:     req.RequestID,
			StoreID:       c.store,
			OrderID:       req.OrderID(),
			TenderType:    c.tender,
			Type:          req.SettlementType,
			Amount:        amount.String(),
			Currency:      amount.Currency,
			ClientContext: req.ClientContext,
			State:         StateAccepted,
			ReplyDropped:  dropped,
			CreatedAt:     now,
			UpdatedAt:     now,
		},
		fingerprint: fp,
		req:         req,
		amount:      amount,
	}
	s.entries = append(s.entries, e)
	s.byRequest[req.RequestID] = e
	s.scheduleLocked(event{due: now.Add(s.cfg.StatusDelay), entry: e, verdict: true})
	return e, false, false
}
