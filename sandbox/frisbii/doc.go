// Package frisbii is a faithful, in-memory sandbox of the part of Frisbii's
// (formerly Reepay's) payment API that settlement-worker uses, for tests,
// demos and end-to-end runs where the real Frisbii cannot be reached.
//
// It serves, under a configurable path prefix (for example "/frisbii"):
//
//	GET  {prefix}/v1/charge/{handle}          the charge (state, amounts)
//	POST {prefix}/v1/charge/{handle}/settle   settle (capture) an authorized charge
//	POST {prefix}/v1/refund                   refund a settled charge
//	GET  {prefix}/v1/refund/{id}              a refund (e.g. one still processing)
//
// with HTTP basic authentication by private API key (the key is the user
// name, the password is empty), JSON bodies, Frisbii's error body
// {"code","error","message","path","timestamp","http_status",
// "http_reason","request_id"} and a Request-Id header on every answer.
//
// Behaviour follows Frisbii's public documentation; where it is silent the
// sandbox's choice is marked "sandbox choice" in the code. In short:
// idempotency by key (same key and body: the first answer again, no second
// money move; same key, other body: error 1); declines and processing errors
// answered with HTTP 200 and the charge's error_state/error; partial settles
// tracked up to the authorized amount (error 102 beyond it); a settle
// without amount takes the remainder; error 79 "Invoice already settled" when
// nothing is left; refunds up to the settled amount (errors 64 and 65).
//
// A JSON admin API under {prefix}/_sandbox/ (loopback callers only) seeds
// charges with scripted declines and refund outcomes, injects faults per
// endpoint (latency, fail_next, fail_per_mille, hang_next, drop_next) and
// exposes the ledger of settles and refunds and the call counters;
// AdminClient speaks it from Go. In-process tests use the same features
// through the Sandbox methods.
package frisbii
