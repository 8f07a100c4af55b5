package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/messages"
)

// prepared is a batch ready to POST.
type prepared struct {
	list messages.PaymentSettlementStatusList
	ids  []string // message ids of list's statuses, same order
	dups int      // duplicates dropped (same message_id, or already delivered)
}

// flush delivers one batch and then acks all of its messages with one
// multiple-ack (the batch holds every unacked delivery of the channel).
// Undecodable messages are parked first; duplicates are sent once.
func (d *Deliverer) flush(ctx context.Context, ch *amqp.Channel, batch []amqp.Delivery, closed <-chan *amqp.Error, park *parker) error {
	p, err := d.prepare(ctx, batch, park)
	if err != nil {
		return err
	}
	log := d.log.With().Int("messages", len(batch)).Int("statuses", len(p.ids)).Int("duplicates", p.dups).Logger()
	if len(p.ids) > 0 {
		body, err := messages.Encode(p.list)
		if err != nil {
			return fmt.Errorf("encode status list: %w", err)
		}
		// Every status was checked; the list is checked as it goes out.
		if err := messages.ValidateStatusDocument(body); err != nil {
			return fmt.Errorf("status list of %d statuses is not a valid PaymentSettlementStatusList, not POSTed: %w", len(p.ids), err)
		}
		if err := d.deliver(ctx, body, batchKey(p.ids), closed); err != nil {
			return err
		}
		// Remembered before the ack: if the ack is lost, the redelivered
		// copies are recognised and acked without a second POST.
		d.recent.add(p.ids...)
	}
	if err := ch.Ack(batch[len(batch)-1].DeliveryTag, true); err != nil {
		return fmt.Errorf("ack batch: %w", err)
	}
	d.Metrics.finished("delivered", len(p.ids))
	d.Metrics.finished("duplicate", p.dups)
	log.Info().Msg("status batch delivered and acked")
	return nil
}

// prepare decodes the batch's statuses, dropping duplicates (same AMQP
// message_id — stable across republication, README — or, without one, the
// same body) and parking what cannot be decoded or is not a valid
// PaymentSettlementStatus (messages.ValidateStatusDocument).
func (d *Deliverer) prepare(ctx context.Context, batch []amqp.Delivery, park *parker) (prepared, error) {
	var p prepared
	seen := map[string]bool{}
	for _, dl := range batch {
		id := messageID(dl)
		if seen[id] || d.recent.has(id) {
			p.dups++
			continue
		}
		reason := ""
		st, err := messages.DecodeSettlementStatus(dl.Body)
		if err != nil {
			reason = "not a PaymentSettlementStatus, cannot be delivered in a PaymentSettlementStatusList: " + err.Error()
		} else if verr := messages.ValidateStatusDocument(dl.Body); verr != nil {
			// Only valid documents go into a list: a client validating
			// against Radial's schema would refuse the whole batch.
			reason = "not a valid PaymentSettlementStatus (Radial's schema), not delivered in a PaymentSettlementStatusList: " + verr.Error()
		}
		if reason != "" {
			reason = parkedReason(reason)
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			perr := park.park(pctx, dl, reason)
			cancel()
			if perr != nil {
				return p, fmt.Errorf("park status message %s: %w", id, perr)
			}
			d.log.Warn().Str("message_id", id).Str("parked_queue", d.cfg.ParkedQueue).Str("reason", reason).Msg("status message parked")
			d.Metrics.finished("parked", 1)
			continue
		}
		seen[id] = true
		p.list.Statuses = append(p.list.Statuses, *st)
		p.ids = append(p.ids, id)
	}
	return p, nil
}

// deliver POSTs body until the webhook answers 2xx, waiting with
// exponential backoff between attempts. It gives up only when ctx ends
// (Close) or the consumer channel closes — the messages are then still
// unacked and will be redelivered.
func (d *Deliverer) deliver(ctx context.Context, body []byte, key string, closed <-chan *amqp.Error) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = d.cfg.RetryInitial, d.cfg.RetryMax
	b.Reset()
	for attempt := 1; ; attempt++ {
		err := d.post(ctx, body, key)
		d.Metrics.posted(err)
		if err == nil {
			if attempt > 1 {
				d.log.Info().Int("attempt", attempt).Str("batch", key).Msg("webhook accepted the batch after retries")
			}
			return nil
		}
		wait := b.NextBackOff()
		d.log.Warn().Err(err).Int("attempt", attempt).Dur("retry_in", wait).Str("batch", key).
			Msg("webhook did not accept the batch; keeping its messages unacked and retrying")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e := <-closed:
			return fmt.Errorf("consumer channel closed while retrying: %v", e)
		case <-time.After(wait):
		}
	}
}

// maxParkedReason bounds a parked_reason, as the worker's handlers bound
// theirs: a status broken many times over (the validator names every
// problem) would otherwise make a header larger than the broker's frame,
// which the broker refuses by closing the connection — the park fails, the
// status comes back first, and the queue behind it waits forever.
const maxParkedReason = 2000

// parkedReason is reason with its card numbers masked (a validator quotes
// what it refuses), cut to maxParkedReason bytes after the masking.
func parkedReason(reason string) string {
	return maskedCut(reason, maxParkedReason)
}

// maskedCut is s with its card numbers masked (messages.MaskPANs), then
// cut to n bytes, never inside a character, and marked cut with "…":
// masked before the cut, which could leave a card number's first digits
// no mask recognizes.
func maskedCut(s string, n int) string {
	s = messages.MaskPANs(s)
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// messageID is the AMQP message_id, or a hash of the body when absent.
func messageID(dl amqp.Delivery) string {
	if id := strings.TrimSpace(dl.MessageId); id != "" {
		return id
	}
	sum := sha256.Sum256(dl.Body)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// batchKey identifies a batch's content: the same statuses give the same
// key on every retry (sent as Idempotency-Key).
func batchKey(ids []string) string {
	sum := sha256.Sum256([]byte(strings.Join(ids, "\n")))
	return hex.EncodeToString(sum[:16])
}

// errStatus is a non-2xx answer of the webhook.
var errStatus = errors.New("webhook answered a non-2xx status")
