// Package intake is the HTTP intake of settlement requests: it turns
// webhook calls into PaymentSettlementRequest messages on the exchange
// payments.settlements (routing key settlement.request.<provider>), and
// answers the caller only after the broker confirmed every one of them.
//
// # Routes
//
//	POST /orders               RetailOPS order_settle_payment v1 (JSON)   Config.RetailOPS.Path
//	POST /radial/settlements   PaymentSettlementRequest[List] (XML)       Config.Radial.Path
//	GET  /healthz              200 "ok" while the process serves
//	GET  /readyz               200 "ready" / 503: the lead's ReadyFunc
//
// Every POST endpoint: method POST (else 405 with Allow), body at most
// MaxBodyBytes (413), content type checked (415), server read/write/idle
// timeouts; errors are answered in the endpoint's own shape (RetailOPS
// events or a Radial Fault).
//
// # RetailOPS (POST /orders)
//
// Authentication: the RetailOPS integration auth key, which RetailOPS sends
// as the top-level "integration_auth_token" field of the JSON body (the
// RetailOps SDK's verify tool inserts it there; its README: "must be
// checked on every request from RetailOps. A bad integration auth key value
// must result in a HTTP 401"), or "Authorization: Bearer <key>". Several
// keys may be configured for a rotation; comparisons are constant time.
//
// Answers ({"events": [...]}, each event {"status": "error", "error_code",
// "error_message", "diagnostic_data": [...], "associations": [{"type":
// "order_id", "identity": "4897"}]} as in the seed's response example):
//
//	200 {"events": []}        every request published and confirmed, or nothing to capture
//	200 {"events": [errors]}  valid call, order not settleable (at most 100 events, the
//	                          last counting the problems not listed; including a built request
//	                          above the worker's MAX_REQUEST_BYTES: REQUEST_TOO_LARGE; more
//	                          payment accounts than MaxAccounts: TOO_MANY_ACCOUNTS);
//	                          nothing published
//	400 + event               not JSON, or a key the mapping reads twice in one object
//	                          or in another case ("Captured") (MALFORMED_JSON), not
//	                          order_settle_payment v1 (UNSUPPORTED_ACTION, UNSUPPORTED_VERSION)
//	401 + event               wrong or missing integration auth key (UNAUTHORIZED)
//	503 + event               publish failed or not confirmed in time (PUBLISH_FAILED: some
//	                          requests may have been queued and will be settled); RetailOPS
//	                          retries safely;
//	                          or MaxInFlight requests already handled (SERVICE_BUSY,
//	                          Retry-After: 1), answered before the body is read
//
// Mapping, for each payment account (payment_status.by_account[], else
// channel_payment) with captures_are_external = 1, success = 1 and
// available − captured > 0 (see retailops_map.go for why):
//
//	RetailOPS field                                 PaymentSettlementRequest / AMQP
//	data.channel.id                                 Channels[id] → provider (routing key), store_id header,
//	                                                tender_type header, currency
//	data.channel.id, data.order.id,                 @requestId "ro-<channel>-<order>-<series>-<account>"
//	  data.order.payment_series_id, account id      (or "roh-" + SHA-256, ≤ 40), = AMQP message_id, = ClientContext
//	data.order.id                                   PaymentContextBase/OrderId, OmsOrderId
//	data.order.id, account id                       InvoiceId "<order>-<account>" (or "RO" + SHA-256, ≤ 20)
//	account available − captured                    Amount, in the channel's currency, exact (never rounded)
//	(none)                                          TaxAmount 0 in the currency (0.00 USD, 0 JPY)
//	(order_settle_payment)                          SettlementType Debit
//	account authed (when > 0)                       original_authorization_amount header
//	data.order.channel_refnum (≤ 40)                OriginatingSystemOrderId
//	shipments[].packages[] with date_shipped        ShipmentData: ShipmentCount i/n, ShippedDate,
//	  carrier_name|carrier_code,                      Carrier/Name, Carrier/Service,
//	  carrier_class_name|class_name, tracking_number  TrackingId
//	(constant)                                      SourceOrderSystem EXTERNAL
//
// Amounts and ids may be JSON numbers or strings, never true or false
// (INVALID_AMOUNT / INVALID_FIELD): only the two flags read a boolean.
//
// The same webhook delivered twice publishes the same requestIds and bodies;
// the worker settles each once. That holds when RetailOPS serializes it
// again differently without changing the money: keys in another order or
// added, amounts as 35, 35.00 or "35.0", ids as numbers or strings, the
// shipments and packages in another order, a date_shipped in another
// offset (ShipmentData is numbered in ship-date order, ShippedDate in UTC;
// TestRetailOPSRedeliveryInAnotherFormPublishesTheSameRequest). A later webhook for the same account and
// payment series with a different amount reuses the requestId and is parked
// by the worker ("requestId already used by a different request") — never
// settled twice.
//
// # Radial webhook clients (POST /radial/settlements)
//
// Body: a PaymentSettlementRequest or a PaymentSettlementRequestList
// (application/xml or text/xml). store_id and tender_type come from the
// X-Store-Id / X-Tender-Type headers or the store_id / tender_type query
// parameters (both may be sent when they agree; none may be repeated); an optional
// X-Original-Authorization-Amount (or original_authorization_amount) is
// accepted for a single request, in the request's currency and with the
// rule of a request's Amount (the worker sends it as the Amount of a
// ConfirmFundsRequest: at most two decimals and 18 digits; 10.005 KWD is
// refused with 400 InvalidRequest). Authentication: "apikey: <key>" (Radial's
// own header), "Authorization: Bearer <key>", or basic auth.
//
//	200 AckReply        every request published and confirmed
//	400 Fault           MalformedRequest (unparseable, DOCTYPE, wrong root) or
//	                    InvalidRequest (Validate failures, store/tender missing
//	                    — both are required whatever the provider, since every
//	                    status event carries them —, a request above the
//	                    worker's MAX_REQUEST_BYTES once encoded, duplicate
//	                    requestIds, too many) — nothing published
//	401 Fault           Unauthorized
//	503 Fault           ServiceUnavailable: a publish failed or was not confirmed in
//	                    time (some requests may have been queued and will be settled:
//	                    retry under the same requestIds, never new ones), or MaxInFlight requests
//	                    are already handled (Retry-After: 1); retry the same body
//
// Each request is published as its own message: XML body re-encoded by
// messages.Encode, content type application/xml, persistent, message_id =
// requestId, headers store_id, tender_type[, original_authorization_amount],
// intake_source.
package intake
