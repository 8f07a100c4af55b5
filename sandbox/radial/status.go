package radial

import (
	"time"

	"github.com/google/uuid"

	"github.com/settlement-worker/settlement-worker/messages"
)

// statusMessage builds the PaymentSettlementStatus Radial sends for e: the
// request's payment context (whichever it had), the URL's TenderType and
// StoreId, the amount and type, the status and the ClientContext echo.
func statusMessage(e *entry, status, reason string) *messages.PaymentSettlementStatus {
	m := &messages.PaymentSettlementStatus{
		TenderType:       e.TenderType,
		Amount:           e.req.Amount,
		SettlementType:   e.req.SettlementType,
		SettlementStatus: status,
		ClientContext:    e.req.ClientContext,
		StoreID:          e.StoreID,
	}
	if status == messages.StatusRejected {
		m.DeclineReason = reason
	}
	if pc := e.req.PaymentContext; pc != nil {
		c := *pc
		m.PaymentContext = &c
	} else if pb := e.req.PaymentContextBase; pb != nil {
		c := *pb
		m.PaymentContextBase = &c
	}
	return m
}

// emitLocked puts a status in the outbox for the publisher, repeated
// under new message_ids when the order's script asks for it (RepeatStatus).
func (s *Sandbox) emitLocked(e *entry, status, reason string, now time.Time) {
	body, err := messages.Encode(statusMessage(e, status, reason))
	if err != nil {
		// The request was decoded and validated, so this is a bug; keep the
		// record visible rather than dropping the status.
		s.log.Error().Err(err).Int64("entry_seq", e.Seq).Msg("encoding settlement status")
	}
	repeats := 0
	if z := s.auths[authKey{e.StoreID, e.OrderID}]; z != nil {
		repeats = z.script.RepeatStatus
	}
	for i := 0; i <= repeats; i++ {
		s.statusSeq++
		r := &StatusRecord{
			Seq:              s.statusSeq,
			EntrySeq:         e.Seq,
			RequestID:        e.RequestID,
			OrderID:          e.OrderID,
			MessageID:        uuid.NewString(),
			SettlementStatus: status,
			DeclineReason:    reason,
			Body:             body,
			EmittedAt:        now,
		}
		s.statuses = append(s.statuses, r)
		s.outbox = append(s.outbox, r)
		s.log.Info().Str("request_id", e.RequestID).Str("order_id", e.OrderID).Str("store_id", e.StoreID).
			Str("status", status).Str("decline_reason", reason).Str("message_id", r.MessageID).Int("repeat", i).Msg("settlement status emitted")
	}
	s.notifyLocked()
	signal(s.kick)
}
