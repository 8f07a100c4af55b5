package handlers

import (
	"context"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// Publisher publishes a message and returns once the broker confirmed it.
type Publisher interface {
	Publish(ctx context.Context, exchange, key string, msg *message.Message) error
}

// eventNamespace derives status message ids: the same (provider, request,
// dedup key) always yields the same message_id, so a republished event can be
// dropped by subscribers that already have it.
var eventNamespace = uuid.MustParse("6f1c7a4e-2b1d-4b8e-9a52-3d0c2f7e9b11")

func eventMessageID(key store.Key, dedup string) string {
	return uuid.NewSHA1(eventNamespace, []byte(key.Provider+"\x00"+key.RequestID+"\x00"+dedup)).String()
}

// statusFor builds our PaymentSettlementStatus for a request: the request's
// payment context, amount, type and ClientContext, the store and tender type
// from its headers, and the verdict.
func statusFor(req *messages.PaymentSettlementRequest, storeID, tenderType, verdict, reason string) messages.PaymentSettlementStatus {
	st := messages.PaymentSettlementStatus{
		TenderType:       tenderType,
		SettlementType:   req.SettlementType,
		SettlementStatus: verdict,
		ClientContext:    req.ClientContext,
		StoreID:          storeID,
		Amount:           req.Amount,
	}
	switch {
	case req.PaymentContext != nil:
		pc := *req.PaymentContext
		st.PaymentContext = &pc
	case req.PaymentContextBase != nil:
		pcb := *req.PaymentContextBase
		st.PaymentContextBase = &pcb
	}
	if verdict == messages.StatusRejected {
		st.DeclineReason = reason
	}
	return st
}

// newStatusEvent encodes a status as an event to record in the store.
func newStatusEvent(key store.Key, dedup string, st messages.PaymentSettlementStatus) (*store.StatusEvent, error) {
	body, err := messages.Encode(st)
	if err != nil {
		return nil, fmt.Errorf("encode status for %s: %w", key.RequestID, err)
	}
	return &store.StatusEvent{
		Key:              key,
		DedupKey:         dedup,
		MessageID:        eventMessageID(key, dedup),
		SettlementStatus: st.SettlementStatus,
		Body:             body,
	}, nil
}

// publishStatus publishes a recorded event to the status exchange with
// confirms and marks it published.
func publishStatus(ctx context.Context, pub Publisher, st store.Store, s store.Settlement, ev store.StatusEvent) error {
	msg := message.NewMessage(ev.MessageID, ev.Body)
	msg.Metadata.Set(broker.MetaContentType, ContentTypeXML)
	msg.Metadata.Set(broker.MetaType, broker.StatusMessageType)
	msg.Metadata.Set(broker.MetaMessageID, ev.MessageID)
	msg.Metadata.Set(broker.MetaCorrelationID, s.RequestID)
	msg.Metadata.Set(broker.MetaTimestamp, ev.CreatedAt.UTC().Format(time.RFC3339Nano))
	msg.Metadata.Set(HeaderRequestID, s.RequestID)
	msg.Metadata.Set(HeaderStoreID, s.StoreID)
	msg.Metadata.Set(HeaderProvider, s.Provider)
	msg.Metadata.Set(HeaderSettlementStatus, ev.SettlementStatus)
	msg.Metadata.Set("order_id", s.OrderID)
	if err := pub.Publish(ctx, broker.StatusExchange, broker.StatusRoutingKey(s.StoreID), msg); err != nil {
		return fmt.Errorf("publish status %s of %s: %w", ev.MessageID, s.RequestID, err)
	}
	// MarkPublished stays synchronous, although nothing after it needs it:
	// a late or lost mark only makes the sweeper relay the event again after
	// OUTBOX_RELAY_AFTER, with the same message_id, which subscribers
	// dedupe (the same holds for a crash between the confirm and this
	// commit). With SQLite's group commit it costs one UPDATE inside a
	// shared batch (under 1% of the worker's CPU), and waiting for it
	// keeps "the handler returned" meaning "the outbox no longer holds the
	// event", which the handler tests rely on.
	if err := st.MarkPublished(ctx, ev.MessageID, time.Now().UTC()); err != nil {
		// The event is out; failing here would only republish it.
		return nil
	}
	return nil
}
