package ops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
)

// PublishOptions say what Publish sends.
type PublishOptions struct {
	// File holds the request, XML or JSON: the content type comes from the
	// extension (.xml, .json), else from the first character.
	File     string
	Provider string
	// StoreID and TenderType become the store_id and tender_type headers.
	StoreID    string
	TenderType string
	// Headers are more headers (original_authorization_amount, a
	// provider's own); StoreID and TenderType override a store_id or
	// tender_type among them.
	Headers map[string]string
	// Wait, when positive, waits that long for the request's status event
	// and prints it.
	Wait time.Duration
	// RequireTenderType says the provider demands the tender_type header
	// (2–4 characters; providers.Facts): without it the worker refuses the
	// request.
	RequireTenderType bool
	// Force publishes a request the worker will refuse (it fails
	// validation): the worker records status R for its requestId for good
	// and sends R to the order system. Without it such a request is not
	// published.
	Force bool
}

// Publish sends a settlement request as the order system does: to the
// intake exchange with the provider's routing key, persistent and
// mandatory, with publisher confirms. With o.Wait it first binds a
// temporary exclusive queue to the status exchange (the store's routing
// key), so that the status cannot be missed, and prints the first status
// event whose request_id is the request's.
func Publish(ctx context.Context, e Env, o PublishOptions) error {
	body, err := readRequestFile(o.File)
	if err != nil {
		return err
	}
	ct, err := contentTypeOf(o.File, body)
	if err != nil {
		return err
	}
	req, err := decodeRequest(ct, body)
	if err != nil {
		return fmt.Errorf("%s is not a settlement request the worker can read (%s): %w", o.File, ct, err)
	}
	if verr := req.Validate(); verr != nil {
		if !o.Force {
			return fmt.Errorf("%s: the worker would refuse it (status R for requestId %s, for good): %w; nothing published (--force publishes it anyway)",
				o.File, dash(messages.MaskPANs(req.RequestID)), verr)
		}
		fmt.Fprintf(e.errw(), "warning: the worker will refuse this request (status R): %v\n", verr)
	}
	// The worker trims the header and wants 2 to 4 characters.
	if n := utf8.RuneCountInString(strings.TrimSpace(o.TenderType)); o.RequireTenderType && (n < 2 || n > 4) {
		if !o.Force {
			return fmt.Errorf("provider %s requires the tender type (--tender, 2 to 4 characters, got %q): the worker would refuse requestId %s (status R, for good); nothing published (--force publishes it anyway)",
				o.Provider, o.TenderType, dash(messages.MaskPANs(req.RequestID)))
		}
		fmt.Fprintf(e.errw(), "warning: the worker will refuse this request (status R): provider %s requires the tender type\n", o.Provider)
	}
	if req.RequestID == "" {
		fmt.Fprintln(e.errw(), "warning: the request has no requestId: it cannot be replayed or deduplicated")
	}
	conn, err := e.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	var statuses <-chan amqp.Delivery
	if o.Wait > 0 {
		if statuses, err = statusQueue(ch, broker.StatusRoutingKey(o.StoreID)); err != nil {
			return err
		}
	}
	if err := ch.Confirm(false); err != nil {
		return err
	}
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))
	h := amqp.Table{}
	for k, v := range o.Headers {
		h[k] = v
	}
	// StoreID and TenderType win: --wait listens on the store's key.
	h[headerStoreID] = o.StoreID
	if o.TenderType != "" {
		h[headerTenderType] = o.TenderType
	}
	id := req.RequestID
	if id == "" {
		id = uuid.NewString()
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	dc, err := ch.PublishWithDeferredConfirmWithContext(cctx, broker.IntakeExchange, broker.RequestRoutingKey(o.Provider), true, false, amqp.Publishing{
		ContentType: ct, DeliveryMode: amqp.Persistent, MessageId: id, Timestamp: e.now(),
		AppId: "settlement-worker publish", Headers: h, Body: body,
	})
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	acked, err := dc.WaitContext(cctx)
	if err != nil {
		return fmt.Errorf("publish: waiting for the broker's confirm: %w", err)
	}
	if !acked {
		return errors.New("publish: the broker refused the request (nack): is the request queue full?")
	}
	select {
	case r := <-returns:
		return fmt.Errorf("publish: unroutable (%d %s): no queue is bound to %s with %s; has the worker run with provider %s?",
			r.ReplyCode, r.ReplyText, broker.IntakeExchange, broker.RequestRoutingKey(o.Provider), o.Provider)
	default:
	}
	fmt.Fprintf(e.out(), "published request %s (order %s, %s) to %s with routing key %s\n",
		dash(messages.MaskPANs(req.RequestID)), dash(messages.MaskPANs(req.OrderID())), ct, broker.IntakeExchange, broker.RequestRoutingKey(o.Provider))
	if o.Wait <= 0 {
		return nil
	}
	timer := time.NewTimer(o.Wait)
	defer timer.Stop()
	for {
		select {
		case d, ok := <-statuses:
			if !ok {
				return errors.New("the broker closed the status queue")
			}
			_ = d.Ack(false)
			if broker.Stringify(d.Headers[headerRequestID]) == req.RequestID || (req.RequestID != "" && d.CorrelationId == req.RequestID) {
				if p := broker.Stringify(d.Headers[headerProvider]); p == "" || p == o.Provider {
					fmt.Fprintln(e.out(), statusLine(d, e.now()))
					return nil
				}
			}
		case <-timer.C:
			return fmt.Errorf("no status event for %s within %s: it may still be in flight (settlement-worker show %s)",
				dash(messages.MaskPANs(req.RequestID)), o.Wait, messages.MaskPANs(req.RequestID))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// MaxPublishBytes is the largest request file Publish reads (the worker
// parks a request above its MAX_REQUEST_BYTES, 1 MiB by default, anyway).
const MaxPublishBytes = 16 << 20

// readRequestFile reads file, at most MaxPublishBytes: a file with no end
// (a FIFO nobody closes, a device) would be read forever otherwise.
func readRequestFile(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	body, err := io.ReadAll(io.LimitReader(f, MaxPublishBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if len(body) > MaxPublishBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes: no settlement request is that large; nothing published", file, MaxPublishBytes)
	}
	return body, nil
}

// contentTypeOf picks XML or JSON from the file's extension, else its
// first non-blank character.
func contentTypeOf(file string, body []byte) (string, error) {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".xml":
		return contentTypeXML, nil
	case ".json":
		return contentTypeJSON, nil
	}
	switch t := bytes.TrimSpace(body); {
	case bytes.HasPrefix(t, []byte("<")):
		return contentTypeXML, nil
	case bytes.HasPrefix(t, []byte("{")):
		return contentTypeJSON, nil
	}
	return "", fmt.Errorf("%s: cannot tell XML from JSON (name it .xml or .json)", file)
}

// Bounds of the temporary status queue of tail and publish --wait: an
// output nobody reads (a pager that stopped) must not make the command,
// nor the broker, hold every status event published meanwhile.
const (
	// statusPrefetch is how many events the command holds unacked.
	statusPrefetch = 64
	// statusQueueMax and statusQueueMaxBytes bound the queue on the
	// broker: beyond them its oldest events are dropped (from this
	// temporary queue only).
	statusQueueMax      = 10000
	statusQueueMaxBytes = 64 << 20
)

// statusQueue declares a temporary exclusive, auto-delete queue bound to
// the status exchange with key, and consumes it with a prefetch of
// statusPrefetch: the caller acks each delivery.
func statusQueue(ch *amqp.Channel, key string) (<-chan amqp.Delivery, error) {
	q, err := ch.QueueDeclare("", false, true, true, false, amqp.Table{"x-queue-type": "classic",
		"x-max-length": int64(statusQueueMax), "x-max-length-bytes": int64(statusQueueMaxBytes), "x-overflow": "drop-head"})
	if err != nil {
		return nil, fmt.Errorf("declare a temporary status queue: %w", err)
	}
	if err := ch.QueueBind(q.Name, key, broker.StatusExchange, false, nil); err != nil {
		if broker.IsNotFound(err) {
			return nil, fmt.Errorf("exchange %s does not exist: has the worker run on this broker? %w", broker.StatusExchange, err)
		}
		return nil, fmt.Errorf("bind the temporary status queue: %w", err)
	}
	if err := ch.Qos(statusPrefetch, 0, false); err != nil {
		return nil, fmt.Errorf("set the prefetch of the temporary status queue: %w", err)
	}
	ds, err := ch.Consume(q.Name, "", false, true, false, false, nil)
	if err != nil {
		return nil, fmt.Errorf("consume the temporary status queue: %w", err)
	}
	return ds, nil
}
