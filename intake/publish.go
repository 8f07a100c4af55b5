package intake

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
)

// Publisher publishes a message and returns only once the broker confirmed
// it (routed and persisted). *broker.Publisher satisfies it.
type Publisher interface {
	Publish(ctx context.Context, exchange, key string, msg *message.Message) error
}

// Header names and content type of request messages. They are the worker's
// (handlers.HeaderStoreID, ...; a test keeps them equal), repeated here so
// that the intake does not import the settlement pipeline.
const (
	headerStoreID            = "store_id"
	headerTenderType         = "tender_type"
	headerOriginalAuthAmount = "original_authorization_amount"
	// headerIntakeSource says which endpoint accepted the request
	// ("retailops" or "radial-webhook"); informational.
	headerIntakeSource = "intake_source"
	contentTypeXML     = "application/xml"
)

// outgoing is one settlement request ready to publish.
type outgoing struct {
	req        *messages.PaymentSettlementRequest
	provider   string
	storeID    string
	tenderType string
	authAmount string // original_authorization_amount header, optional
	source     string
}

// message encodes the request as the worker expects it: XML body, content
// type application/xml, persistent (broker.Marshaler always sets it),
// message_id = requestId, headers store_id, tender_type and, when known,
// original_authorization_amount.
func (o outgoing) message() (*message.Message, error) {
	body, err := messages.Encode(o.req)
	if err != nil {
		return nil, fmt.Errorf("encode request %s: %w", o.req.RequestID, err)
	}
	msg := message.NewMessage(o.req.RequestID, body)
	msg.Metadata.Set(broker.MetaContentType, contentTypeXML)
	msg.Metadata.Set(broker.MetaMessageID, o.req.RequestID)
	msg.Metadata.Set(broker.MetaTimestamp, broker.ReadyAt(time.Now()))
	msg.Metadata.Set(headerStoreID, o.storeID)
	if o.tenderType != "" {
		msg.Metadata.Set(headerTenderType, o.tenderType)
	}
	if o.authAmount != "" {
		msg.Metadata.Set(headerOriginalAuthAmount, o.authAmount)
	}
	msg.Metadata.Set(headerIntakeSource, o.source)
	return msg, nil
}

// oversized says why req is refused when its encoding is larger than
// MaxRequestBytes (the worker would park it unread), or returns "".
func (s *Server) oversized(req *messages.PaymentSettlementRequest) string {
	body, err := messages.Encode(req)
	if err != nil {
		return "cannot be encoded: " + err.Error()
	}
	if n := int64(len(body)); s.cfg.MaxRequestBytes > 0 && n > s.cfg.MaxRequestBytes {
		return fmt.Sprintf("is %d bytes once encoded, above MAX_REQUEST_BYTES (%d): the worker would park it unsettled; send less (fewer shipments, shorter texts)", n, s.cfg.MaxRequestBytes)
	}
	return ""
}

// publishAll publishes every request to the intake exchange with routing key
// settlement.request.<provider> and waits for all confirms, at most
// concurrency at a time. It returns nil only when every one was confirmed;
// the caller answers the HTTP client only after it returns.
//
// The context is detached from the HTTP request's (a client hanging up
// must not abort half a batch) and bounded by timeout instead. When it
// ends, publishAll returns at once with an error for every request not
// confirmed, without waiting for their publishes to return: the AMQP
// client ignores the context while it writes a message, and a broker that
// stopped reading the connection (connection.blocked: a memory or disk
// alarm) keeps that write blocked until the alarm clears. Such a publish
// finishes in the background; the client, told 503, retries with the same
// requestIds, which the worker settles once.
func publishAll(ctx context.Context, pub Publisher, out []outgoing, concurrency int) error {
	sem := make(chan struct{}, max(concurrency, 1))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		// returned[i]: the publish of out[i] returned (errs has its error).
		returned = make([]bool, len(out))
	)
	msgs := make([]*message.Message, len(out))
	for i, o := range out {
		msg, err := o.message()
		if err != nil {
			return err
		}
		msgs[i] = msg
	}
	// abandon is the error once ctx ended: every error so far, and one for
	// each request whose publish has not returned.
	abandon := func() error {
		mu.Lock()
		defer mu.Unlock()
		all := slices.Clone(errs)
		for i, o := range out {
			if !returned[i] {
				all = append(all, fmt.Errorf("publish request %s: not confirmed in time: %w", o.req.RequestID, ctx.Err()))
			}
		}
		return errors.Join(all...)
	}
	for i, o := range out {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return abandon()
		}
		wg.Add(1)
		go func(i int, o outgoing, msg *message.Message) {
			defer wg.Done()
			defer func() { <-sem }()
			err := pub.Publish(ctx, broker.IntakeExchange, broker.RequestRoutingKey(o.provider), msg)
			mu.Lock()
			defer mu.Unlock()
			returned[i] = true
			if err != nil {
				errs = append(errs, fmt.Errorf("publish request %s: %w", o.req.RequestID, err))
			}
		}(i, o, msgs[i])
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		select {
		case <-done: // every publish returned as ctx ended
		default:
			return abandon()
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return errors.Join(errs...)
}
