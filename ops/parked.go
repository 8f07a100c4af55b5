package ops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
)

// Headers the worker sets on parked messages (handlers/headers.go; the
// values are the AMQP contract, repeated here so that the operator
// commands do not import the pipeline).
const (
	headerParkedReason   = "parked_reason"
	headerParkedAt       = "parked_at"
	headerParkedAttempts = "parked_attempts"
	headerParkedFrom     = "parked_from_queue"
	headerAttempt        = "settlement_attempt"
	headerStoreID        = "store_id"
	headerTenderType     = "tender_type"
	headerRequestID      = "request_id"
	headerProvider       = "provider"
	headerStatus         = "settlement_status"
	headerOrderID        = "order_id"

	contentTypeXML  = "application/xml"
	contentTypeJSON = "application/json"
)

// ParkedMessage describes a parked request without its body.
type ParkedMessage struct {
	Provider  string `json:"provider"`
	RequestID string `json:"request_id"`
	OrderID   string `json:"order_id,omitempty"`
	StoreID   string `json:"store_id,omitempty"`
	Reason    string `json:"reason"`
	// Attempts made before parking (0: unknown or none).
	Attempts int `json:"attempts,omitempty"`
	// ParkedAt is nil when the message says nothing of it.
	ParkedAt  *time.Time `json:"parked_at,omitempty"`
	From      string     `json:"parked_from_queue,omitempty"`
	MessageID string     `json:"message_id,omitempty"`
	// Kind is "provider status" for a provider's asynchronous status
	// parked for a person (broker.ProviderStatusParkedQueue), empty for a
	// request. RequestID is then its message_id.
	Kind string `json:"kind,omitempty"`
}

// masked is m as the commands print it: a card number in its requestId or
// message_id masked (messages.MaskPANs), as in its store_id and order id.
// Filter matches the ids as sent, before this.
func (m ParkedMessage) masked() ParkedMessage {
	m.RequestID, m.MessageID = messages.MaskPANs(m.RequestID), messages.MaskPANs(m.MessageID)
	return m
}

// replayMAC signs replayed copies with the worker's keys
// (STORE_ENCRYPTION_KEY, broker.HeaderReplayMAC), nil without keys: a
// worker with keys resumes a parked settlement only for a signed copy.
func replayMAC(e Env) func([]byte) string {
	if e.Keys == nil {
		return nil
	}
	return e.Keys.MAC
}

// kindProviderStatus marks a parked provider status.
const kindProviderStatus = "provider status"

// describeParkedStatus reads a parked provider status: the order from its
// body (never kept), the rest from the headers the worker set.
func describeParkedStatus(provider string, d amqp.Delivery) ParkedMessage {
	m := describeParked(provider, d)
	m.Kind = kindProviderStatus
	if st, err := messages.DecodeSettlementStatus(d.Body); err == nil {
		m.OrderID = messages.MaskPANs(st.OrderID())
	}
	return m
}

// Filter selects parked messages. Empty fields select everything.
type Filter struct {
	// Providers whose parked queues are read (Env.Providers when empty).
	Providers []string
	// RequestID matches the request's requestId or the message_id exactly.
	RequestID string
	// Reason matches a substring of the parked reason, ignoring case.
	Reason string
	// OlderThan selects messages parked at least this long ago; a message
	// whose parking time is unknown does not match.
	OlderThan time.Duration
}

func (f Filter) match(m ParkedMessage, now time.Time) bool {
	if f.RequestID != "" && f.RequestID != m.RequestID && f.RequestID != m.MessageID {
		return false
	}
	if f.Reason != "" && !strings.Contains(strings.ToLower(m.Reason), strings.ToLower(f.Reason)) {
		return false
	}
	if f.OlderThan > 0 && (m.ParkedAt == nil || now.Sub(*m.ParkedAt) < f.OlderThan) {
		return false
	}
	return true
}

func (f Filter) providers(e Env) []string {
	if len(f.Providers) > 0 {
		return f.Providers
	}
	return e.Providers
}

// describeParked reads a parked delivery: ids and order from the body
// (which is never kept), the rest from the headers the worker set, or for
// a message the broker dead-lettered (delivery limit) from x-death.
func describeParked(provider string, d amqp.Delivery) ParkedMessage {
	m := ParkedMessage{
		Provider: provider, MessageID: d.MessageId,
		// A money-steering header the worker keeps as sent: a card number a
		// sender put in it is masked here, as everywhere ops prints.
		StoreID: messages.MaskPANs(broker.Stringify(d.Headers[headerStoreID])),
		Reason:  broker.Stringify(d.Headers[headerParkedReason]),
		From:    broker.Stringify(d.Headers[headerParkedFrom]),
	}
	if req, err := decodeRequest(d.ContentType, d.Body); err == nil {
		m.RequestID, m.OrderID = req.RequestID, messages.MaskPANs(req.OrderID())
	}
	if m.RequestID == "" {
		m.RequestID = broker.Stringify(d.Headers[headerRequestID])
	}
	if m.RequestID == "" {
		m.RequestID = d.MessageId
	}
	for _, h := range []string{headerParkedAttempts, headerAttempt} {
		if n, err := strconv.Atoi(broker.Stringify(d.Headers[h])); err == nil && n > 0 {
			m.Attempts = n
			break
		}
	}
	if t, err := time.Parse(time.RFC3339, broker.Stringify(d.Headers[headerParkedAt])); err == nil {
		t = t.UTC()
		m.ParkedAt = &t
	}
	if deaths, ok := d.Headers["x-death"].([]any); ok && len(deaths) > 0 {
		if x, ok := deaths[0].(amqp.Table); ok {
			if m.ParkedAt == nil {
				if t, ok := x["time"].(time.Time); ok {
					t = t.UTC()
					m.ParkedAt = &t
				}
			}
			if m.Reason == "" {
				why := broker.Stringify(x["reason"])
				m.Reason = "dead-lettered by the broker (" + why + ") from " + broker.Stringify(x["queue"])
				if why == "delivery_limit" {
					m.Reason += ": the worker failed on it repeatedly without settling it"
				}
			}
		}
	}
	return m
}

// decodeRequest parses a request body by its content type, as the worker
// does.
func decodeRequest(contentType string, body []byte) (*messages.PaymentSettlementRequest, error) {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	switch ct {
	case "", contentTypeXML, "text/xml":
		return messages.DecodeSettlementRequest(body)
	case contentTypeJSON:
		return messages.DecodeSettlementRequestJSON(body)
	default:
		return nil, fmt.Errorf("content type %q is not supported", ct)
	}
}

// List prints the parked requests matching f, from every provider's
// parked queue, oldest first within each queue, as a table or as JSON.
// Messages are read and put back in their order (broker.Browse): nothing
// is lost or moved.
func List(ctx context.Context, e Env, f Filter, asJSON bool) error {
	conn, err := e.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	wd := e.watch(conn)
	defer wd.stop()
	now := e.now()
	var (
		found   []ParkedMessage
		total   int
		queues  int
		missing []string
		errs    []error
		counts  []int
	)
	for _, p := range f.providers(e) {
		// A provider's parked requests, then its parked provider statuses
		// (a queue only providers with asynchronous statuses have).
		for _, q := range []struct {
			name     string
			describe func(string, amqp.Delivery) ParkedMessage
			optional bool // absent for a provider without asynchronous statuses
		}{{broker.ParkedQueue(p), describeParked, false}, {broker.ProviderStatusParkedQueue(p), describeParkedStatus, true}} {
			var counts0 []int
			depth, read, err := broker.Browse(ctx, conn, q.name, func(d amqp.Delivery) {
				wd.kick()
				m := q.describe(p, d)
				counts0 = append(counts0, deliveryCount(d))
				if f.match(m, now) {
					found = append(found, m)
				}
			})
			switch {
			case broker.IsNotFound(err) && q.optional:
				continue
			case broker.IsNotFound(err):
				missing = append(missing, p)
				continue
			case err != nil:
				errs = append(errs, fmt.Errorf("%s: %w", q.name, err))
			}
			wd.kick()
			if read == depth && depth > 0 && err == nil {
				awaitRequeued(ctx, conn, q.name, depth, wd)
			}
			queues++
			total += read
			counts = append(counts, counts0...)
			if read < depth {
				fmt.Fprintf(e.errw(), "note: %d of the %d message(s) in %s were not read: another client holds them unacked (another parked command running?)\n", depth-read, depth, q.name)
			}
		}
	}
	warnDeliveryLimit(e, conn, counts)
	if len(missing) > 0 {
		fmt.Fprintf(e.errw(), "note: no parked queue for %s on this broker (the worker never ran with them)\n", strings.Join(missing, ", "))
	}
	for i := range found {
		found[i] = found[i].masked()
	}
	if asJSON {
		if found == nil {
			found = []ParkedMessage{}
		}
		enc := json.NewEncoder(e.out())
		enc.SetIndent("", "  ")
		if err := enc.Encode(found); err != nil {
			return err
		}
	} else {
		printParked(e, found, now)
		fmt.Fprintf(e.out(), "%d of %d parked message(s) match, in %d queue(s)\n", len(found), total, queues)
	}
	return wd.explain(errors.Join(errs...))
}

func printParked(e Env, ms []ParkedMessage, now time.Time) {
	if len(ms) == 0 {
		return
	}
	w := table(e.out())
	fmt.Fprintln(w, "PROVIDER\tREQUEST\tORDER\tATTEMPTS\tPARKED AT\tAGE\tREASON")
	for _, m := range ms {
		attempts, at, ago := "-", "-", "-"
		if m.Attempts > 0 {
			attempts = strconv.Itoa(m.Attempts)
		}
		if m.ParkedAt != nil {
			at, ago = stamp(*m.ParkedAt), age(now.Sub(*m.ParkedAt))
		}
		reason := m.Reason
		if m.Kind != "" {
			reason = m.Kind + ": " + reason
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Provider, oneLine(m.RequestID, 40), dash(oneLine(m.OrderID, 30)),
			attempts, at, ago, oneLine(reason, 100))
	}
	_ = w.Flush()
}

// requeueWait bounds awaitRequeued.
const requeueWait = 5 * time.Second

// awaitRequeued waits, at most requeueWait, until queue has want ready
// messages: those a read put back with basic.nack (broker.ReplayOn). A
// quorum queue applies the nack a moment after it, so a command started
// right after one that put messages back (parked ls, then parked replay;
// purge's preview, then its deletion) measured the depth without them:
// it read nothing and said nothing was parked. Nothing else takes from a
// parked queue, so the depth comes back; when it does not (another
// command holds some), the wait just ends.
func awaitRequeued(ctx context.Context, conn *amqp.Connection, queue string, want int, wd *watchdog) {
	for end := time.Now().Add(requeueWait); ctx.Err() == nil; time.Sleep(10 * time.Millisecond) {
		s, err := broker.Inspect(conn, queue)
		wd.kick()
		if err != nil || !s.Exists || s.Messages >= want || time.Now().After(end) {
			return
		}
	}
}

// deliveryCount is the broker's x-delivery-count of a quorum-queue delivery.
func deliveryCount(d amqp.Delivery) int {
	n, _ := strconv.Atoi(broker.Stringify(d.Headers["x-delivery-count"]))
	return n
}

// warnDeliveryLimit warns when reading parked messages (a requeue each
// time) brings them close to a quorum queue's default delivery limit:
// RabbitMQ 4.0 to 4.2 count every requeue and drop a message after 20.
func warnDeliveryLimit(e Env, conn *amqp.Connection, counts []int) {
	major, minor := serverVersion(conn)
	if major != 4 || minor >= 3 {
		return
	}
	high := 0
	for _, n := range counts {
		high = max(high, n)
	}
	if high >= 10 {
		fmt.Fprintf(e.errw(), "WARNING: parked messages were requeued %d times; RabbitMQ %d.%d drops a quorum-queue message after its delivery-limit (default 20) of requeues: set a policy delivery-limit=-1 on the parked queues (see the README)\n", high, major, minor)
	}
}

func serverVersion(conn *amqp.Connection) (major, minor int) {
	v := broker.Stringify(conn.Properties["version"])
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return 0, 0
	}
	major, _ = strconv.Atoi(parts[0])
	minor, _ = strconv.Atoi(parts[1])
	return major, minor
}

// ReplayOptions bound a Replay or a Purge.
type ReplayOptions struct {
	// Limit caps the messages acted on, over all providers (0: no cap).
	Limit int
	// DryRun lists what would be done and changes nothing.
	DryRun bool
}

// Replay moves the parked requests matching f back to the queue they were
// parked from, their provider's request queue (broker.ReplayOn; never
// another queue a parked_from_queue header names: a request the broker
// dead-lettered carries its publisher's headers), each provider's parked
// queue bounded by
// its depth at the start; the others stay parked, in their order. It
// prints one line per message acted on and a summary per queue.
func Replay(ctx context.Context, e Env, f Filter, o ReplayOptions) error {
	return act(ctx, e, f, o, false)
}

// PurgeOptions bound a Purge.
type PurgeOptions struct {
	// Limit caps the messages deleted, over all providers (0: no cap).
	Limit int
	// Confirm, when set, is asked before anything is deleted, with the
	// number of messages that match (listed first); false deletes
	// nothing (and fails the Purge when ctx has ended: Ctrl-C at the
	// question). Only the messages counted then can be deleted.
	Confirm func(n int) bool
}

// Purge deletes the parked requests and parked provider statuses
// (broker.ProviderStatusParkedQueue) matching f (their settlements keep
// their records and parked reason in the store).
func Purge(ctx context.Context, e Env, f Filter, o PurgeOptions) error {
	if o.Confirm == nil {
		return act(ctx, e, f, ReplayOptions{Limit: o.Limit}, true)
	}
	shown := &[]map[string]int{}
	n, err := actCounted(ctx, e, f, ReplayOptions{Limit: o.Limit, DryRun: true}, true, shown, nil)
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	if !o.Confirm(n) {
		fmt.Fprintln(e.out(), "nothing deleted")
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("interrupted at the question: %w", err)
		}
		return nil
	}
	_, err = actCounted(ctx, e, f, ReplayOptions{Limit: o.Limit}, true, nil, *shown)
	return err
}

func act(ctx context.Context, e Env, f Filter, o ReplayOptions, purge bool) error {
	_, err := actCounted(ctx, e, f, o, purge, nil, nil)
	return err
}

// parkedKey identifies a parked message (its message id, parking and
// body), so that a purge deletes the very messages its preview showed.
func parkedKey(d amqp.Delivery) string {
	sum := sha256.Sum256(d.Body)
	return d.MessageId + "\x00" + broker.Stringify(d.Headers[headerParkedAt]) + "\x00" +
		broker.Stringify(d.Headers[headerParkedReason]) + "\x00" + hex.EncodeToString(sum[:])
}

// actCounted replays or purges (or previews) provider by provider. shown,
// when set, receives the keys (parkedKey) of each provider's messages
// acted on, each with its count; only, when set, limits each provider to
// those keys, as many of each as counted (what a preview showed): a
// message parked while the preview held the queue is requeued ahead of
// the ones it showed, and would otherwise be deleted in their place.
func actCounted(ctx context.Context, e Env, f Filter, o ReplayOptions, purge bool,
	shown *[]map[string]int, only []map[string]int) (int, error) {
	conn, err := e.dial()
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	wd := e.watch(conn)
	defer wd.stop()
	now := e.now()
	verb, would := "replayed", "would replay"
	if purge {
		verb, would = "purged", "would purge"
	}
	var (
		done    int
		errs    []error
		missing []string
		listed  []ParkedMessage
	)
	// The queues acted on: each provider's parked requests and, for a
	// purge, its parked provider statuses (a queue only providers with
	// asynchronous statuses have; their parked_from_queue is the
	// provider's own status queue, so they are never replayed).
	type target struct {
		provider, queue, fallback string
		describe                  func(string, amqp.Delivery) ParkedMessage
		optional                  bool
	}
	var targets []target
	for _, p := range f.providers(e) {
		targets = append(targets, target{p, broker.ParkedQueue(p), broker.RequestQueue(p), describeParked, false})
		if purge {
			targets = append(targets, target{p, broker.ProviderStatusParkedQueue(p), "", describeParkedStatus, true})
		}
	}
	for i, tg := range targets {
		p, queue := tg.provider, tg.queue
		limit := 0
		if o.Limit > 0 {
			limit = o.Limit - done
			if limit <= 0 {
				break
			}
		}
		if only != nil {
			total := 0 // what the preview showed of this queue
			if i < len(only) {
				for _, c := range only[i] {
					total += c
				}
			}
			if total == 0 {
				continue
			}
			if limit == 0 || total < limit {
				limit = total
			}
		}
		var matched []ParkedMessage
		var keys []string
		var bar Progress
		res, err := broker.ReplayOn(ctx, conn, broker.ReplayOptions{
			Parked: queue, Fallback: tg.fallback, Target: tg.fallback, Limit: limit, DryRun: o.DryRun, Purge: purge,
			MAC: replayMAC(e),
			Match: func(d amqp.Delivery) bool {
				m := tg.describe(p, d)
				if !f.match(m, now) {
					return false
				}
				k := parkedKey(d)
				if only != nil {
					if i >= len(only) || only[i][k] == 0 {
						return false
					}
					only[i][k]--
				}
				matched = append(matched, m)
				keys = append(keys, k)
				return true
			},
			Progress: func(read, depth int) {
				wd.kick()
				if bar == nil && e.Progress != nil && !o.DryRun {
					bar = e.Progress(p, depth)
				}
				if bar != nil {
					bar.Set(read)
				}
			},
		})
		if bar != nil {
			bar.Finish()
		}
		wd.kick()
		if err == nil && res.Read == res.Parked && res.Read > res.Moved {
			awaitRequeued(ctx, conn, queue, res.Parked-res.Moved, wd)
		}
		if broker.IsNotFound(err) {
			if !tg.optional {
				missing = append(missing, p)
			}
			if shown != nil {
				*shown = append(*shown, nil)
			}
			continue
		}
		acted := matched[:min(len(matched), len(res.Messages))]
		if shown != nil {
			set := map[string]int{}
			for _, k := range keys[:len(acted)] {
				set[k]++
			}
			*shown = append(*shown, set)
		}
		for j, m := range acted {
			target := ""
			if !purge {
				target = "\t-> " + res.Messages[j].Target
			}
			reason := m.Reason
			if m.Kind != "" {
				reason = m.Kind + ": " + reason
			}
			fmt.Fprintf(e.out(), "%s\t%s\torder=%s\treason=%q%s\n", p, messages.MaskPANs(m.RequestID), dash(m.OrderID), oneLine(reason, 100), target)
		}
		listed = append(listed, acted...)
		n := res.Moved
		if o.DryRun {
			n = len(res.Messages)
			fmt.Fprintf(e.out(), "%s %d of %d parked message(s) from %s\n", would, n, res.Parked, queue)
		} else {
			fmt.Fprintf(e.out(), "%s %d of %d parked message(s) from %s\n", verb, n, res.Parked, queue)
		}
		done += n
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", queue, err))
			if ctx.Err() != nil {
				break
			}
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(e.errw(), "note: no parked queue for %s on this broker (the worker never ran with them)\n", strings.Join(missing, ", "))
	}
	if f.RequestID != "" && len(listed) == 0 && len(errs) == 0 {
		// A mistyped id, the wrong --provider, or a second run: say so
		// rather than "0 replayed" with success.
		what := "nothing " + verb
		if !purge {
			what += " (replay never moves a parked provider status)"
		}
		return done, fmt.Errorf("no parked message has request id %q in the parked queues of %s: %s; parked ls lists what is parked, show %s tells the settlement's state",
			messages.MaskPANs(f.RequestID), strings.Join(f.providers(e), ", "), what, messages.MaskPANs(f.RequestID))
	}
	return done, wd.explain(errors.Join(errs...))
}
