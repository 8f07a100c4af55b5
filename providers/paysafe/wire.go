package paysafe

import "strings"

// Paysafe statuses of authorizations, settlements and refunds (seed 001).
const (
	StatusReceived   = "RECEIVED"
	StatusPending    = "PENDING"
	StatusProcessing = "PROCESSING"
	StatusCompleted  = "COMPLETED"
	StatusFailed     = "FAILED"
	StatusCancelled  = "CANCELLED"
)

// maxAmount is the largest amount Paysafe accepts, in minor units (seed
// 001: amount integer max=99999999999).
const maxAmount int64 = 99999999999

// maxMerchantRefNumLen is merchantRefNum's maximum length (seed 001).
const maxMerchantRefNumLen = 255

// link is a Paysafe link object.
type link struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
}

// apiError is Paysafe's error object (Card Errors page): the code is also
// in the X-Application-Status-Code header.
type apiError struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Details []string `json:"details,omitempty"`
	Links   []link   `json:"links,omitempty"`
}

// errorReply is the body of an error answer.
type errorReply struct {
	Error *apiError `json:"error"`
}

// authorization is the part of GET .../auths/{id} the client reads.
type authorization struct {
	ID                string `json:"id"`
	Status            string `json:"status"`
	Amount            int64  `json:"amount"`
	AvailableToSettle *int64 `json:"availableToSettle"`
	CurrencyCode      string `json:"currencyCode"`
}

// createRequest is the body of a settlement or refund: merchantRefNum,
// amount in minor units, and dupCheck so that Paysafe refuses a reused
// merchantRefNum instead of taking the money twice.
type createRequest struct {
	MerchantRefNum string `json:"merchantRefNum"`
	Amount         int64  `json:"amount"`
	DupCheck       bool   `json:"dupCheck"`
}

// transaction is a settlement or a refund as Paysafe answers it (seed 001
// response: links, id, merchantRefNum, txnTime, status, amount,
// availableToRefund; a FAILED one may carry an error object).
type transaction struct {
	Links             []link    `json:"links"`
	ID                string    `json:"id"`
	MerchantRefNum    string    `json:"merchantRefNum"`
	TxnTime           string    `json:"txnTime"`
	Status            string    `json:"status"`
	Amount            int64     `json:"amount"`
	AvailableToRefund *int64    `json:"availableToRefund,omitempty"`
	Error             *apiError `json:"error,omitempty"`
}

// transactionList is the body of a lookup by merchantRefNum; Paysafe's
// SDKs read the "settlements" and "refunds" keys. A nil field is a reply
// without the list (absent or null), which says nothing about what
// Paysafe holds; an empty list says it holds none. A list answer is one
// page: Links holds a link with rel "next" when more follow (Paysafe's
// SDKs' pagerators follow it; seed 001 does not document lookups).
type transactionList struct {
	Settlements *[]transaction `json:"settlements"`
	Refunds     *[]transaction `json:"refunds"`
	Links       []link         `json:"links"`
}

// morePages reports whether the list answer links a next page.
func (l transactionList) morePages() bool {
	for _, k := range l.Links {
		if strings.EqualFold(strings.TrimSpace(k.Rel), "next") {
			return true
		}
	}
	return false
}
