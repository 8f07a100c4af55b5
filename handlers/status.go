package handlers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
	"github.com/settlement-worker/settlement-worker/tracing"
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
// from its headers, and the verdict. It echoes the request's values as they
// are, valid or not, and never invents one; encodeStatus then decides
// whether the document may be published.
func statusFor(req *messages.PaymentSettlementRequest, storeID, tenderType, verdict, reason string) messages.PaymentSettlementStatus {
	st := messages.PaymentSettlementStatus{
		TenderType:       tenderType,
		SettlementType:   req.SettlementType,
		SettlementStatus: verdict,
		ClientContext:    req.ClientContext,
		StoreID:          storeID,
		Amount:           req.Amount,
	}
	// Each context the request has is echoed, so that a request with both
	// (or neither) yields a status the schema refuses instead of one in
	// which the worker picked a context for the order system.
	if req.PaymentContext != nil {
		pc := *req.PaymentContext
		st.PaymentContext = &pc
	}
	if req.PaymentContextBase != nil {
		pcb := *req.PaymentContextBase
		st.PaymentContextBase = &pcb
	}
	if verdict == messages.StatusRejected {
		st.DeclineReason = reason
	}
	return st
}

// InvalidStatusError is a PaymentSettlementStatus the worker built or
// recorded that breaks Radial's schema (messages.ValidateStatusDocument).
// Such a document is never recorded, published or delivered: the caller
// parks what it was handling with Error as the reason.
type InvalidStatusError struct {
	// RequestID is the settlement the status was for.
	RequestID string
	// Err is the validator's verdict (messages.ValidationErrors).
	Err error
}

// Error says what is wrong and that nothing was published.
func (e *InvalidStatusError) Error() string {
	return fmt.Sprintf("no PaymentSettlementStatus published for request %s: the status would not be valid against Radial's schema (%v)", messages.MaskPANs(e.RequestID), e.Err)
}

// Unwrap returns the validator's verdict.
func (e *InvalidStatusError) Unwrap() error { return e.Err }

// PurgedStatusError is the error of publishing again a recorded status
// event whose body retention emptied (BODY_RETENTION, store.PurgeBodies):
// the event was published, then purged, and nothing is published now.
type PurgedStatusError struct {
	// RequestID is the settlement the status was for.
	RequestID string
	// MessageID is the event's AMQP message_id.
	MessageID string
	// SettlementStatus is the event's verdict (S or R).
	SettlementStatus string
}

// Error says what happened; it is no parse error.
func (e *PurgedStatusError) Error() string {
	return fmt.Sprintf("the PaymentSettlementStatus %s of request %s (message_id %s) was published, then its body was purged after the retention period (BODY_RETENTION): it cannot be published again",
		e.SettlementStatus, messages.MaskPANs(e.RequestID), e.MessageID)
}

// validateStatusDocument is messages.ValidateStatusDocument (a variable
// so that tests can count the documents parsed): the check of a recorded
// body read back from the store.
var validateStatusDocument = messages.ValidateStatusDocument

// encodeStatus encodes a status the worker built and checks it as
// messages.ValidateStatusDocument would check the document, without
// parsing it (messages.EncodeStatus); an invalid one is an
// *InvalidStatusError.
func encodeStatus(requestID string, st messages.PaymentSettlementStatus) ([]byte, error) {
	body, err := messages.EncodeStatus(&st)
	switch {
	case body == nil:
		return nil, fmt.Errorf("encode status for %s: %w", messages.MaskPANs(requestID), err)
	case err != nil:
		return nil, &InvalidStatusError{RequestID: requestID, Err: err}
	}
	return body, nil
}

// statusProblems lists why no valid PaymentSettlementStatus can report req
// under these headers: the problems of the status that would answer it
// (its R refusal has the same values, plus a DeclineReason). None means
// every verdict on req can be published. The status is checked as a value
// (messages.CheckStatus), not encoded.
func statusProblems(req *messages.PaymentSettlementRequest, storeID, tenderType string) []string {
	st := statusFor(req, storeID, tenderType, messages.StatusRejected, "refused")
	err := messages.CheckStatus(&st)
	if err == nil {
		return nil
	}
	var verrs messages.ValidationErrors
	if !errors.As(err, &verrs) {
		return []string{err.Error()}
	}
	out := make([]string, len(verrs))
	for i, v := range verrs {
		out[i] = v.Error()
	}
	return out
}

// newStatusEvent encodes a status as an event to record in the store. A
// status that is not valid against the schema is refused with an
// *InvalidStatusError: it is never recorded, so never published.
func newStatusEvent(key store.Key, dedup string, st messages.PaymentSettlementStatus) (*store.StatusEvent, error) {
	body, err := encodeStatus(key.RequestID, st)
	if err != nil {
		return nil, err
	}
	return &store.StatusEvent{
		Key:              key,
		DedupKey:         dedup,
		MessageID:        eventMessageID(key, dedup),
		SettlementStatus: st.SettlementStatus,
		Body:             body,
	}, nil
}

// eventOut publishes recorded status events and marks them published: the
// publisher, the store and (in the worker) the Marker every handler that
// publishes status events holds.
type eventOut struct {
	pub   Publisher
	st    store.Store
	marks *store.Marker
}

// publish publishes a recorded event read back from the store (a
// duplicate's republish, a repeated provider status, the outbox relay) to
// the status exchange with confirms and, once the broker confirmed it,
// marks it published (markDone). It checks the recorded body first: an
// event that is not a valid PaymentSettlementStatus (recorded by a version
// that did not check, or altered in the database) is not published; the
// error is an *InvalidStatusError.
func (o eventOut) publish(ctx context.Context, s store.Settlement, ev store.StatusEvent) error {
	if len(ev.Body) == 0 && ev.PublishedAt != nil {
		return &PurgedStatusError{RequestID: s.RequestID, MessageID: ev.MessageID, SettlementStatus: ev.SettlementStatus}
	}
	if err := validateStatusDocument(ev.Body); err != nil {
		return &InvalidStatusError{RequestID: s.RequestID, Err: err}
	}
	return o.publishChecked(ctx, s, ev)
}

// publishRecorded publishes rec, the event the store returned for built
// (Store.Transition with the event newStatusEvent built and validated). The
// hot path's only check: when rec carries that very document (the same
// bytes) it is published without being parsed again; any other body (an
// event the settlement already had under the same DedupKey) goes through
// publish's check.
func (o eventOut) publishRecorded(ctx context.Context, s store.Settlement, built *store.StatusEvent, rec store.StatusEvent) error {
	if built == nil || !bytes.Equal(rec.Body, built.Body) {
		return o.publish(ctx, s, rec)
	}
	return o.publishChecked(ctx, s, rec)
}

// publishChecked publishes an event whose body is a valid
// PaymentSettlementStatus (checked by its caller) and marks it published.
func (o eventOut) publishChecked(ctx context.Context, s store.Settlement, ev store.StatusEvent) error {
	msg := message.NewMessage(ev.MessageID, ev.Body)
	msg.Metadata.Set(broker.MetaContentType, ContentTypeXML)
	msg.Metadata.Set(broker.MetaType, broker.StatusMessageType)
	msg.Metadata.Set(broker.MetaMessageID, ev.MessageID)
	if len(s.RequestID) <= broker.MaxShortString {
		// An AMQP short string: a longer requestId (an invalid request
		// refused with R) is in the request_id header only.
		msg.Metadata.Set(broker.MetaCorrelationID, s.RequestID)
	}
	msg.Metadata.Set(broker.MetaTimestamp, ev.CreatedAt.UTC().Format(time.RFC3339Nano))
	msg.Metadata.Set(HeaderRequestID, s.RequestID)
	msg.Metadata.Set(HeaderStoreID, s.StoreID)
	msg.Metadata.Set(HeaderProvider, s.Provider)
	msg.Metadata.Set(HeaderSettlementStatus, ev.SettlementStatus)
	if ev.Seq > 0 {
		msg.Metadata.Set(HeaderStatusSeq, strconv.Itoa(ev.Seq))
	}
	msg.Metadata.Set("order_id", s.OrderID)
	ctx, span := tracing.Start(ctx, "publish status", trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.String("messaging.message.id", ev.MessageID), attribute.String("settlement.status", ev.SettlementStatus)))
	tracing.Inject(ctx, msg) // the order system's trace goes on through our event
	err := o.pub.Publish(ctx, broker.StatusExchange, broker.StatusRoutingKey(s.StoreID), msg)
	tracing.End(span, err)
	if err != nil {
		return fmt.Errorf("publish status %s of %s: %w", ev.MessageID, messages.MaskPANs(s.RequestID), err)
	}
	o.markDone(ctx, ev.MessageID)
	return nil
}

// markDone records that the broker confirmed the event messageID. With a
// Marker (the worker) the mark is queued and written with others in one
// statement, off the handler's path; without one (tests, tools) it is
// written at once. Either way nothing depends on it but the outbox relay:
// an event confirmed but not (yet) marked, or whose mark is lost in a
// crash or a failed write, is relayed again after OUTBOX_RELAY_AFTER with
// the same message_id, which subscribers dedupe — at least once, as for a
// crash between the confirm and the mark (CrashAfterStatusPublish). The
// relay of this process flushes the Marker before reading the outbox
// (Sweeper.relay).
func (o eventOut) markDone(ctx context.Context, messageID string) {
	now := time.Now().UTC()
	if o.marks != nil {
		o.marks.Mark(ctx, messageID, now)
		return
	}
	// The event is out; a failed mark only makes the relay publish it again.
	_ = o.st.MarkPublished(ctx, messageID, now)
}
