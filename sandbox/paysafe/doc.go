// Package paysafe is a faithful, in-memory sandbox of Paysafe's Card
// Payments API (the part settlement-worker uses), for tests, demos and
// end-to-end runs where the real Paysafe cannot be reached.
//
// It serves, under a configurable path prefix (for example "/paysafe"), with
// HTTP basic authentication (Paysafe API key user:password):
//
//	GET  {prefix}/cardpayments/monitor
//	GET  {prefix}/cardpayments/v1/accounts/{account}/auths/{authId}
//	POST {prefix}/cardpayments/v1/accounts/{account}/auths/{authId}/settlements
//	GET  {prefix}/cardpayments/v1/accounts/{account}/settlements[?merchantRefNum=]
//	GET  {prefix}/cardpayments/v1/accounts/{account}/settlements/{id}
//	PUT  {prefix}/cardpayments/v1/accounts/{account}/settlements/{id}     {"status":"CANCELLED"}
//	POST {prefix}/cardpayments/v1/accounts/{account}/settlements/{id}/refunds
//	GET  {prefix}/cardpayments/v1/accounts/{account}/refunds[?merchantRefNum=]
//	GET  {prefix}/cardpayments/v1/accounts/{account}/refunds/{id}
//	PUT  {prefix}/cardpayments/v1/accounts/{account}/refunds/{id}         {"status":"CANCELLED"}
//
// Sources. The settlement request and response (merchantRefNum, optional
// amount in minor units defaulting to the rest of the authorization, id,
// txnTime, status RECEIVED/PENDING/PROCESSING/COMPLETED/FAILED/CANCELLED,
// amount, availableToRefund, links; cancel while pending, refund once
// batched) come from the project's seed 001 (Paysafe "Process a
// Settlement"). The error body {"error":{"code","message","links"}} with the
// X-Application-Status-Code header, and codes 5279 (401), 5023/5068 (400) and
// 5269 (404), come from Paysafe's public Card Errors page; settlement codes
// 3202/3203/3204/3205 and 3417 from the seeds README. The other paths
// (lookups by merchantRefNum with the "settlements"/"refunds" list keys,
// GET/PUT by id, refunds, the monitor) follow Paysafe's own open-source
// Card Payments SDKs (paysafe_sdk_php CardPaymentService). Where Paysafe's
// documents were not available offline the sandbox makes a documented
// choice: see the Code* constants.
//
// Lookups answer one page: Config.LookupPageSize (or the call's limit and
// offset query parameters, as Paysafe's SDK filter sends them) bounds a
// page, and a page with more after it carries a link with rel "next", as
// Paysafe's list answers do for its SDKs' pagerators. By default every
// match is on one page.
//
// Settlements and refunds are created with Config.InitialStatus (PENDING by
// default) and reach COMPLETED (or a scripted FAILED) when a batch runs:
// every Config.BatchInterval, or on demand through RunBatch and the admin
// API. A pending settlement can be cancelled until batched. Each
// authorization tracks availableToSettle across partial settlements, each
// settlement availableToRefund across refunds. merchantRefNum is unique per
// account and transaction type: a repeat is refused with error 5031 (never
// silently deduplicated), as Paysafe does with dupCheck; with
// Config.StateBeforeDupCheck the authorization's or settlement's state is
// checked first, so a repeat of a call that succeeded may get 3203, 3204,
// 3202 or 3406 instead (Paysafe does not document the order). With
// Config.DupCheckAtArrival the merchantRefNum is checked when the call
// arrives, not when it commits: a repeat arriving while a late call is on
// its way to its commit is not refused, and both commit.
//
// A JSON admin API under {prefix}/_sandbox/ (loopback callers only) seeds
// authorizations, runs batches, injects faults (latency, fail_next with an
// HTTP status and/or a Paysafe error code such as 3417, fail_per_mille,
// hang_next, drop_next: act then answer 502, late_next with late_ms: wait
// whether or not the client stays, then act and answer a client that has
// usually left; late_per_mille, hang_per_mille, drop_per_mille for chaos
// runs) and exposes the ledger and call counters (with late); AdminClient
// speaks it from Go. In-process tests use the same features through the
// Sandbox methods.
package paysafe
