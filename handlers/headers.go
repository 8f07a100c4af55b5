package handlers

// Headers of request messages (set by the order system).
const (
	// HeaderStoreID is required: the store the settlement belongs to.
	HeaderStoreID = "store_id"
	// HeaderTenderType is required (2–4 characters, e.g. VC, PY): every
	// PaymentSettlementStatus carries it, so a request without it is parked.
	HeaderTenderType = "tender_type"
	// HeaderOriginalAuthAmount is the original authorization amount used for
	// ConfirmFunds; when absent the settlement Amount is used.
	HeaderOriginalAuthAmount = "original_authorization_amount"
)

// Headers the worker sets on retried and parked copies of a request.
const (
	// HeaderAttempt is the attempt number of the delivery (1 when absent).
	HeaderAttempt = "settlement_attempt"
	// HeaderLastError is why the previous attempt failed.
	HeaderLastError = "settlement_last_error"
	// HeaderPoll marks a delayed re-check of a pending settlement; it does not
	// count as an attempt.
	HeaderPoll = "settlement_poll"
	// HeaderParkedReason says why a message was parked, in words a person can act on.
	HeaderParkedReason = "parked_reason"
	// HeaderParkedAt is when it was parked (RFC 3339, UTC).
	HeaderParkedAt = "parked_at"
	// HeaderParkedAttempts is how many attempts were made before parking.
	HeaderParkedAttempts = "parked_attempts"
	// HeaderSwept marks a request the sweeper republished from the store to
	// resume a settlement that made no progress past its deadline.
	HeaderSwept = "settlement_swept"
	// HeaderParkedFrom is the queue the message was parked from; replaying
	// means publishing it back there (to the default exchange).
	HeaderParkedFrom = "parked_from_queue"
)

// Headers of status events.
const (
	HeaderRequestID        = "request_id"
	HeaderProvider         = "provider"
	HeaderSettlementStatus = "settlement_status"
	// HeaderStatusSeq numbers a settlement's status events from 1 (a
	// chargeback R after an S is 2): a subscriber that already applied a
	// settlement's event drops one with a lower number (webhook).
	HeaderStatusSeq = "status_seq"
)

// Content types.
const (
	ContentTypeXML  = "application/xml"
	ContentTypeJSON = "application/json"
)
