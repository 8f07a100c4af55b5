// Package miva is a faithful, in-memory sandbox of the Miva Merchant JSON
// API functions settlement-worker uses, for tests, demos and end-to-end runs
// where a real Miva store cannot be reached.
//
// It serves one endpoint, as Miva does (every store has one json.mvc URL):
//
//	POST {prefix}/mm5/json.mvc
//
// dispatching on the body's "Function":
//
//	OrderPaymentList_Load  {"Order_ID": 200102}
//	OrderPayment_Capture   {"OrderPayment_ID": 4, "Amount": 1.00}
//	OrderPayment_Refund    {"OrderPayment_ID": 5, "Amount": 1.00}
//	OrderPayment_VOID      {"OrderPayment_ID": 4, "Amount": 1.00}
//
// Every call carries "Store_code" and the X-Miva-API-Authorization header
// ("MIVA <token>", or "MIVA-HMAC-SHA256 <token>:<base64 signature>" when
// the token has a signing key). Answers are {"success":1,"data":...} or
// {"success":0,"error_code":"...","error_message":"..."}.
//
// Where the behaviour comes from:
//
//   - The payment record shape, the record types (0 declined, 1 legacy
//     authorization, 2 legacy capture, 3 authorization, 4 capture,
//     5 authorization + capture, 6 refund, 7 void) and "available" (the
//     authorized amount still capturable) are the seed document
//     (OrderPaymentList_Load); amounts are written the way its example
//     writes them (7.0, 1.0, "$7.00"), dtstamp as a string.
//   - The endpoint, the authorization header (MIVA / MIVA-HMAC-SHA256 /
//     MIVA-HMAC-SHA1 with a base64 signing key over the raw body),
//     Miva_Request_Timestamp and the success / error_code / error_message
//     envelope are Miva's public JSON API documentation ("JSON API Getting
//     Started") and its official SDKs.
//   - OrderPayment_Capture, _Refund and _VOID take OrderPayment_ID and
//     Amount and answer an OrderPaymentTotal (total_auth, total_capt,
//     total_rfnd, net_capt and their formatted_ forms), as in Miva's SDKs.
//     They act on one payment record and are NOT idempotent: a second
//     capture really captures again. That is Miva's semantics and the
//     reason the worker reconciles by re-reading the payment list.
//   - Miva's documentation gives no catalogue of error codes: the codes
//     this sandbox answers (Code* constants) are the project's, and the
//     worker's client treats unknown codes as transient.
//   - Sandbox model where the docs are silent: capturing X against an
//     authorization (type 1, 3 or 5) creates a capture record of X (type 4;
//     type 2, legacy capture, for a legacy authorization) and lowers the
//     authorization's available by X (partial captures allowed up to
//     available); refunding creates a type 6 record against a capture
//     record (2, 4 or 5), at most what that record captured less its
//     refunds; voiding releases (part of) an authorization's available as a
//     type 7 record. A type 5 record captured amount − available at the sale.
//
// A JSON admin API under {prefix}/_sandbox/ (loopback callers only) seeds
// orders and payment records, injects faults per function (latency,
// fail_next with a status, error_next with a Miva error body,
// fail_per_mille, hang_next, drop_next: act, then answer 502) and exposes
// the ledger and call counters; AdminClient speaks it from Go. In-process
// tests use the same features through the Sandbox methods.
package miva
