// Package messages holds the Radial Payment Settlement wire format (namespace
// http://api.gsicommerce.com/schema/checkout/1.0), the project's reference
// format: the message types, their decoding and encoding, and their
// validation against the restrictions of the Radial request and status
// tables.
//
// Files:
//
//   - types.go: the message types (PaymentSettlementRequest and its list,
//     PaymentSettlementStatus and its list, AckReply, ConfirmFundsRequest,
//     ConfirmFundsReply, Fault) and the constants of their enumerations.
//   - accessors.go: OrderID accessors and MaskAccount.
//   - mask.go: fmt masking of PaymentAccountUniqueId (AccountID and
//     PaymentContext format themselves with the account masked, for every
//     verb, also through pointers inside a parent struct).
//   - codec.go: Decode* functions (XML, refusing DOCTYPE and entity
//     declarations, wrong roots and a character reference to a surrogate
//     with a *ParseError, in every document; unknown elements are
//     tolerated; white space around every Amount's currencyCode dropped,
//     as the schema's NMTOKEN collapses it), Encode and
//     PaymentSettlementRequest.Fingerprint.
//   - strict.go: what encoding/xml would merge and the schema refuses is
//     refused while decoding (strictReader): an element outside the
//     namespace, an attribute twice, a single-valued element twice (it
//     would keep the last one's text and the first one's attributes), an
//     element inside a text-only one such as Amount (it would skip it and
//     join the text on either side), an attribute it reads written with a
//     prefix (o:currencyCode, matched by local name).
//   - decode_typed.go: decodeFast, the decoders of the documents read
//     for every settlement (the request and its list, Radial's status and
//     its list, the funds-confirmation reply, the ack) without
//     encoding/xml or reflection: a scanner over the canonical shape that
//     fills each field, declining (decodeOnce reads the body then)
//     anything else: comments, CDATA, processing instructions but the XML
//     declaration, namespace declarations but the default one, unknown
//     elements and attributes, a repeated single-valued element, a raw
//     carriage return in text. Where it accepts it gives exactly what the
//     two passes give: TestDecodeFastMatchesTwoPasses (every golden
//     document and its variants), TestDecodeFastEdges and
//     FuzzDecodeFastMatchesTwoPasses hold it so (accepted ⇒ the two
//     passes and decodeOnce accept, with a deep-equal value).
//   - json.go: DecodeSettlementRequestJSON, a strict JSON decoder for order
//     systems that do not speak XML.
//   - amount.go: Amount.Money, the bridge to the exact money package.
//   - canonical.go: the request with its numbers in canonical text
//     (amounts by money.Canonical, Quantity and VAT/@rate by
//     money.CanonicalDecimal, ShipmentCount's counts as integers), which
//     Fingerprint encodes: the same money written another way ("55.0",
//     "+055", " 55.000 " USD), a Quantity "2.0" for "2", are the same
//     request.
//   - errors.go: ValidationError, ValidationErrors and ParseError.
//   - rules.go: the reusable checks (lengths, enumerations, amounts, dates).
//   - currency_schema.go: the currency codes Radial's schema enumerates and
//     SchemaCurrency.
//   - validate.go: PaymentSettlementRequest.Validate and the list's Validate.
//   - validate_status.go: Validate of PaymentSettlementStatus, its list,
//     ConfirmFundsRequest and ConfirmFundsReply.
//   - status_document.go: ValidateStatusDocument, the check of an encoded
//     status (or list) as a schema validator sees it.
//   - status_check.go: EncodeStatus and CheckStatus, the same verdict on a
//     status the worker built, reached from the value (RoundTrips says when
//     that is exact; otherwise the document is parsed).
//
// Decoding never validates: a caller decodes, then calls Validate, which
// reports every problem of a message at once.
//
// # Status documents
//
// Order systems, and Radial's client libraries, validate
// PaymentSettlementStatus and PaymentSettlementStatusList documents
// against Radial's checkout/1.0 schema
// (Payment-Service-PaymentSettlement-1.0.xsd) and drop what fails.
// ValidateStatusDocument applies that
// schema's rules, as far as they are known (testdata/xsd/README.md says
// where they come from): the element order, the required elements and
// the PaymentContext / PaymentContextBase choice, the enumerations
// (SettlementType Debit|Credit, SettlementStatus S|R, Amount/@currencyCode
// one of the ISO 4217 codes the schema lists that is still active), the
// decimal form of Amount (positive, at most two fraction digits) and the
// lengths of OrderId, PaymentAccountUniqueId, TenderType and StoreId. The
// worker runs it on every status it records, publishes or POSTs; tests
// cross-check it with xmllint and testdata/xsd/PaymentSettlementStatus.xsd.
//
// # Refusing an invalid request
//
// A status echoes its request: the payment context, Amount,
// SettlementType and ClientContext, with the store_id and tender_type
// headers. The worker never invents or repairs one of those values — no
// substitute currency or amount, no made-up context, no choice between two
// contexts — so what a refusal can carry depends on the request:
//
//   - When every echoed value is valid (the request's problems are
//     elsewhere: InvoiceId, TaxAmount, requestId, BillingAddress, ...),
//     the refusal is a status R whose DeclineReason lists every problem.
//   - When a status would have to carry an invalid value (a currency such
//     as "US", "XYZ" or one the schema does not list, an Amount such as
//     "ten dollars" or "10.001", SettlementType "Capture", no or both
//     payment contexts, an over-long OrderId or account id, a missing or
//     malformed store_id or tender_type), no valid status can report the
//     request. It is not published as an invalid document, nor as some
//     other refusal message: it is parked, with the validator's verdict as
//     its parked_reason, before it is recorded or sent to a provider.
//
// Either way every request ends in a PaymentSettlementStatus event or is
// parked with a reason (package handlers applies this; README, "Status
// events").
package messages
