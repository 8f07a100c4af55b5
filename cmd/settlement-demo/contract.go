package main

// The AMQP contract's header names and content type (README, "The AMQP
// contract"; the same values as package handlers). They are repeated here
// so that the demo does not import handlers, whose store pulls in SQLite
// and PostgreSQL drivers: `go run` then compiles in seconds, even on a
// cold build cache, and the worker's build does the heavy lifting once.
const (
	headerStoreID            = "store_id"
	headerTenderType         = "tender_type"
	headerOriginalAuthAmount = "original_authorization_amount"

	headerRequestID        = "request_id"
	headerProvider         = "provider"
	headerSettlementStatus = "settlement_status"
	headerOrderID          = "order_id"

	headerParkedReason   = "parked_reason"
	headerParkedAt       = "parked_at"
	headerParkedAttempts = "parked_attempts"
	headerParkedFrom     = "parked_from_queue"

	contentTypeXML = "application/xml"
)
