package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
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
	sent []sent   // list's statuses, same order, for recentIDs
	dups int      // duplicates dropped (same message_id, already delivered, or superseded)
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
		d.recent.add(p.sent...)
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
// same body) and superseded statuses (an earlier status_seq of a settlement
// whose later status was delivered, or comes earlier in this batch: an S
// republished after its chargeback R is never delivered after it), and
// parking what cannot be decoded or is not a valid PaymentSettlementStatus
// (messages.ValidateStatusDocument).
func (d *Deliverer) prepare(ctx context.Context, batch []amqp.Delivery, park *parker) (prepared, error) {
	var p prepared
	seen := map[string]bool{}
	latest := map[string]int{} // highest seq of each settlement in this batch
	for _, dl := range batch {
		id := messageID(dl)
		if seen[id] || d.recent.has(id) {
			p.dups++
			continue
		}
		settlement, seq := settlementSeq(dl)
		if settlement != "" && (seq < latest[settlement] || d.recent.superseded(settlement, seq)) {
			p.dups++
			// The settlement names the sender's requestId, which may hold a
			// card number: masked here, compared as sent.
			d.log.Warn().Str("message_id", messages.MaskPANs(id)).Str("settlement", messages.MaskPANs(settlement)).Int("status_seq", seq).
				Msg("status not delivered: a later status of its settlement was delivered already (an earlier one republished, or moved back from the parked queue)")
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
				return p, fmt.Errorf("park status message %s: %w", messages.MaskPANs(id), perr)
			}
			d.log.Warn().Str("message_id", messages.MaskPANs(id)).Str("parked_queue", d.cfg.ParkedQueue).Str("reason", reason).Msg("status message parked")
			d.Metrics.finished("parked", 1)
			continue
		}
		seen[id] = true
		if settlement != "" {
			latest[settlement] = max(latest[settlement], seq)
		}
		p.list.Statuses = append(p.list.Statuses, *st)
		p.ids = append(p.ids, id)
		p.sent = append(p.sent, sent{id: id, settlement: settlement, seq: seq})
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

// settlementSeq is the status's settlement (its provider and request_id
// headers) and status_seq, the worker's number of the event among its
// settlement's; "" and 0 when the message lacks them (a worker before
// status_seq): such a status is deduplicated by message_id only.
func settlementSeq(dl amqp.Delivery) (string, int) {
	provider, request := headerText(dl, "provider"), headerText(dl, "request_id")
	seq, err := strconv.Atoi(headerText(dl, "status_seq"))
	if provider == "" || request == "" || err != nil || seq <= 0 {
		return "", 0
	}
	return provider + "/" + request, seq
}

// headerText is the header k as text ("" when absent or not text).
func headerText(dl amqp.Delivery, k string) string {
	switch v := dl.Headers[k].(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return ""
}

// batchKey identifies a batch's content: the same statuses give the same
// key on every retry (sent as Idempotency-Key).
func batchKey(ids []string) string {
	sum := sha256.Sum256([]byte(strings.Join(ids, "\n")))
	return hex.EncodeToString(sum[:16])
}

// errStatus is a non-2xx answer of the webhook.
var errStatus = errors.New("webhook answered a non-2xx status")
