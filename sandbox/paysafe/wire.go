package paysafe

// Paysafe error codes the sandbox answers with. Paysafe sends the code in
// the body (error.code) and in the X-Application-Status-Code header.
const (
	// CodeMaxSettlements: the authorization has reached its maximum number
	// of settlements (seeds README).
	CodeMaxSettlements = "3202"
	// CodeAlreadySettled: the authorization is fully settled or cancelled
	// (seeds README). The sandbox also uses it for an authorization in any
	// status other than COMPLETED.
	CodeAlreadySettled = "3203"
	// CodeAmountExceeds: the settlement amount exceeds what remains on the
	// authorization (seeds README).
	CodeAmountExceeds = "3204"
	// CodeAuthExpired: the authorization has expired (seeds README).
	CodeAuthExpired = "3205"
	// CodeInProgress: another request for the same transaction is in
	// progress (seeds README); injected with fail_next + fail_code.
	CodeInProgress = "3417"
	// CodeRefundNotRefundable: the settlement FAILED or was CANCELLED and
	// has nothing to refund. Sandbox convention (number not verified
	// against Paysafe's Card Errors page, which was not available offline).
	CodeRefundNotRefundable = "3402"
	// CodeRefundNotBatched: the settlement is not batched yet; cancel it
	// or refund after the batch. Sandbox convention (number not verified).
	CodeRefundNotBatched = "3404"
	// CodeRefundExceeds: the refund amount exceeds availableToRefund.
	// Sandbox convention (number not verified).
	CodeRefundExceeds = "3406"
	// CodeCannotCancel: the settlement or refund was already batched (or
	// is final) and cannot be cancelled. Sandbox convention (number not
	// verified).
	CodeCannotCancel = "3407"
	// CodeDuplicate: "the transaction you have submitted has already been
	// processed": merchantRefNum was already used for this transaction
	// type in this account (dupCheck). Answered with 409 Conflict, which
	// Paysafe's SDKs map to RequestConflictException. The number is the
	// one Paysafe documents for duplicates, recalled, not verified offline.
	CodeDuplicate = "5031"
	// CodeNotParseable: the request body is not parseable JSON (Paysafe
	// Card Errors page).
	CodeNotParseable = "5023"
	// CodeFieldErrors: a mandatory field is missing or a value has the wrong
	// format (Paysafe Card Errors page; error.fieldErrors lists them).
	CodeFieldErrors = "5068"
	// CodeUnknownID: the ID(s) in the URL do not correspond to values in
	// the system, HTTP 404 (Paysafe's public error pages).
	CodeUnknownID = "5269"
	// CodeInvalidCredentials: the authentication credentials are invalid,
	// HTTP 401 (Paysafe Card Errors page).
	CodeInvalidCredentials = "5279"
)

// ErrorInfoBase is the base of the errorinfo links in error replies.
const ErrorInfoBase = "https://developer.paysafe.com/en/rest-api/cards/test-and-go-live/card-errors#ErrorCode"

// HeaderStatusCode carries the error code of an error reply.
const HeaderStatusCode = "X-Application-Status-Code"

// Link is a Paysafe link object (rel, href).
type Link struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
}

// FieldError names one invalid field of a request.
type FieldError struct {
	Field string `json:"field"`
	Error string `json:"error"`
}

// APIError is the error object of an error reply.
type APIError struct {
	Code        string       `json:"code"`
	Message     string       `json:"message"`
	Details     []string     `json:"details,omitempty"`
	FieldErrors []FieldError `json:"fieldErrors,omitempty"`
	Links       []Link       `json:"links,omitempty"`
}

// ErrorReply is the body of an error reply. Links (rel existing_entity)
// points at the transaction a duplicate collided with, as Paysafe's
// duplicate errors do in its Customer Vault API.
type ErrorReply struct {
	Error APIError `json:"error"`
	Links []Link   `json:"links,omitempty"`
}

// AuthorizationReply is the body of GET .../auths/{id}.
type AuthorizationReply struct {
	Links             []Link `json:"links"`
	ID                string `json:"id"`
	MerchantRefNum    string `json:"merchantRefNum,omitempty"`
	TxnTime           string `json:"txnTime"`
	Status            string `json:"status"`
	Amount            int64  `json:"amount"`
	SettleWithAuth    bool   `json:"settleWithAuth"`
	AvailableToSettle int64  `json:"availableToSettle"`
	CurrencyCode      string `json:"currencyCode"`
}

// SettlementRequest is the body of POST .../auths/{id}/settlements and of
// POST .../settlements/{id}/refunds. Amount nil takes the whole remaining
// amount (seed 001). DupCheck nil or true refuses a merchantRefNum already
// used (5031); false lets it through, as Paysafe does without dupCheck.
type SettlementRequest struct {
	MerchantRefNum string `json:"merchantRefNum"`
	Amount         *int64 `json:"amount,omitempty"`
	DupCheck       *bool  `json:"dupCheck,omitempty"`
}

// StatusUpdate is the body of PUT .../settlements/{id} and .../refunds/{id}.
type StatusUpdate struct {
	Status string `json:"status"`
}

// Settlement is a settlement as Paysafe answers it (seed 001 response).
type Settlement struct {
	Links             []Link    `json:"links"`
	ID                string    `json:"id"`
	MerchantRefNum    string    `json:"merchantRefNum"`
	TxnTime           string    `json:"txnTime"`
	Status            string    `json:"status"`
	Amount            int64     `json:"amount"`
	AvailableToRefund int64     `json:"availableToRefund"`
	Error             *APIError `json:"error,omitempty"`
}

// Refund is a refund as Paysafe answers it.
type Refund struct {
	Links          []Link    `json:"links"`
	ID             string    `json:"id"`
	MerchantRefNum string    `json:"merchantRefNum"`
	TxnTime        string    `json:"txnTime"`
	Status         string    `json:"status"`
	Amount         int64     `json:"amount"`
	Error          *APIError `json:"error,omitempty"`
}

// SettlementList is the body of GET .../settlements?merchantRefNum=.
// Links holds the link with rel "next" when more pages follow.
type SettlementList struct {
	Settlements []Settlement `json:"settlements"`
	Links       []Link       `json:"links,omitempty"`
}

// RefundList is the body of GET .../refunds?merchantRefNum=.
// Links holds the link with rel "next" when more pages follow.
type RefundList struct {
	Refunds []Refund `json:"refunds"`
	Links   []Link   `json:"links,omitempty"`
}
