// Package radial is a faithful, in-memory sandbox of Radial's payment APIs
// used by settlement-worker in tests, demos and end-to-end runs where the
// real Radial cannot be reached.
//
// It serves, under a configurable path prefix (for example "/radial"):
//
//	POST {prefix}/v{M.m}/stores/{StoreId}/payments/funds/confirm/{TenderType}.xml
//	POST {prefix}/v{M.m}/stores/{StoreId}/payments/settlement/create/{TenderType}.xml
//
// with the apikey header, XML bodies validated by package messages, Fault
// replies for bad requests, requestId deduplication, an authorization and
// settlement ledger with exact decimal arithmetic, and the asynchronous
// PaymentSettlementStatus messages published to Radial's RabbitMQ status
// queue (q.Payments.Settlements.Status.<suffix>) with publisher confirms and
// an in-memory outbox that survives broker outages.
//
// A JSON admin API under {prefix}/_sandbox/ (loopback callers only) scripts
// authorizations, verdicts, later statuses (chargebacks) and fault injection,
// and exposes the ledger and call counters; AdminClient speaks it from Go.
// In-process tests use the same features through the Sandbox methods.
package radial
