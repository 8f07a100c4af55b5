// Package webhook delivers status events to a webhook client as
// PaymentSettlementStatusList batches, the list form Radial documents for
// clients using webhooks (seed 003, "Payment Settlement Status List Event").
//
// The Deliverer consumes its own durable queue (Config.Queue, default
// q.Payments.Settlements.Status.webhook), bound to payments.settlements.status
// with Config.BindingKeys (settlement.status.# for every store, or
// settlement.status.<store_id>). It collects up to BatchSize events, or what
// arrived within BatchWait of a batch's first event, drops duplicates
// (same AMQP message_id, which the worker keeps stable across
// republication, and ids delivered recently) and superseded statuses (a
// status_seq lower than one of the same settlement — provider and
// request_id headers — delivered recently or earlier in the batch: an S
// republished after its chargeback R is never delivered after it), and
// POSTs one
// PaymentSettlementStatusList to Config.URL with basic auth or
// username/password headers, Content-Type application/xml and an
// Idempotency-Key derived from the batch's message ids.
//
// One deliverer delivers at a time, whatever the number of worker replicas,
// so that statuses reach the webhook in the order the worker published them
// (a settlement's S before its chargeback R): the queue is declared with a
// single active consumer, and the other replicas' deliverers stand by. A
// queue kept from an earlier version without it is guarded by a lock, the
// exclusive queue <Queue>.active held by the consuming deliverer's
// connection (TestReplicasDeliverOneSettlementsEventsInOrder).
//
// A batch's messages are acked only after a 2xx whose body is not a Fault
// document (a receiver in Radial's style may answer its failure as a Fault
// with HTTP 200: that is no delivery). On any other answer, a
// timeout or a connection error the same batch is retried with exponential
// backoff (RetryInitial doubling to RetryMax) while its messages stay
// unacked, until it is delivered or the deliverer is closed; a restart or a
// lost connection hands them back to the broker, which redelivers them.
// Delivery is at-least-once: a POST answered 2xx whose ack is lost is sent
// again. Idempotency-Key names the batch and survives its retries within
// one process, not a restart: the unacked statuses come back in another
// batch under another key (TestRedeliveredStatusKeepsItsIdempotencyKey,
// skipped, shows it). The list has no per-status id, so receivers apply
// each status idempotently (docs/amqp.md).
// A message that is not a PaymentSettlementStatus, or not a valid one
// against Radial's schema (messages.ValidateStatusDocument: the worker never
// publishes one, an older version might have), is parked in
// Config.ParkedQueue with parked_reason instead of blocking the queue or
// spoiling a batch; every POSTed list is checked as a document too.
//
// Usage:
//
//	d, err := webhook.New(cfg, log)
//	go d.Run(ctx)   // returns nil when ctx ends or Close is called
//	defer d.Close() // waits for an in-flight POST, leaves the rest unacked
package webhook
