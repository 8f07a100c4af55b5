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
//     declarations and wrong roots with a *ParseError; unknown elements are
//     tolerated), Encode and PaymentSettlementRequest.Fingerprint.
//   - json.go: DecodeSettlementRequestJSON, a strict JSON decoder for order
//     systems that do not speak XML.
//   - amount.go: Amount.Money, the bridge to the exact money package.
//   - errors.go: ValidationError, ValidationErrors and ParseError.
//   - rules.go: the reusable checks (lengths, enumerations, amounts, dates).
//   - validate.go: PaymentSettlementRequest.Validate and the list's Validate.
//   - validate_status.go: Validate of PaymentSettlementStatus, its list,
//     ConfirmFundsRequest and ConfirmFundsReply.
//
// Decoding never validates: a caller decodes, then calls Validate, which
// reports every problem of a message at once.
package messages
