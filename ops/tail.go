package ops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TailOptions select the status events Tail prints.
type TailOptions struct {
	// StoreID limits the events to one store (its routing key).
	StoreID string
	// Provider limits the events to one provider (the provider header).
	Provider string
	// Ready, when set, is called once the temporary queue is bound.
	Ready func()
}

// Tail prints status events as they are published, one line each, from a
// temporary exclusive, auto-delete queue bound to the status exchange
// (nothing is taken from the worker's status queues), until ctx ends.
// While its output does not take them, at most the newest statusQueueMax
// events wait in that queue (statusQueue); older ones are dropped there.
func Tail(ctx context.Context, e Env, o TailOptions) error {
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
	key := "settlement.status.#"
	if o.StoreID != "" {
		key = broker.StatusRoutingKey(o.StoreID)
	}
	ds, err := statusQueue(ch, key)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.errw(), "tailing status events (%s on %s); Ctrl-C stops\n", key, broker.StatusExchange)
	if o.Ready != nil {
		o.Ready()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case d, ok := <-ds:
			if !ok {
				return errors.New("the broker closed the connection")
			}
			if o.Provider == "" || broker.Stringify(d.Headers[headerProvider]) == o.Provider {
				fmt.Fprintln(e.out(), statusLine(d, e.now()))
			}
			// Acked once printed: an output nobody reads holds the
			// prefetch, not every event published meanwhile.
			_ = d.Ack(false)
		}
	}
}

// statusLine is one status event: time, provider, request id, order,
// status and decline reason (from the body, which is not printed).
func statusLine(d amqp.Delivery, now time.Time) string {
	at := d.Timestamp
	if at.IsZero() {
		at = now
	}
	order := broker.Stringify(d.Headers[headerOrderID])
	status := broker.Stringify(d.Headers[headerStatus])
	reason := ""
	if st, err := messages.DecodeSettlementStatus(d.Body); err == nil {
		if order == "" {
			order = st.OrderID()
		}
		if status == "" {
			status = st.SettlementStatus
		}
		reason = st.DeclineReason
	}
	request := broker.Stringify(d.Headers[headerRequestID])
	if request == "" {
		request = d.CorrelationId
	}
	word := map[string]string{"S": "S settled", "R": "R rejected"}[status]
	if word == "" {
		word = dash(status)
	}
	line := fmt.Sprintf("%s  %-8s  %-24s  order=%-16s  %s", stamp(at), dash(broker.Stringify(d.Headers[headerProvider])),
		dash(messages.MaskPANs(request)), dash(messages.MaskPANs(order)), word)
	if reason != "" {
		line += fmt.Sprintf("  reason=%q", oneLine(reason, 200))
	}
	return line
}
