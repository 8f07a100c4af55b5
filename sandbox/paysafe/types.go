package paysafe

import (
	"errors"
	"fmt"
	"time"

	"github.com/settlement-worker/settlement-worker/money"
)

// Transaction statuses (seed 001: the settlement status enum; refunds and
// authorizations use the same words).
const (
	StatusReceived   = "RECEIVED"
	StatusPending    = "PENDING"
	StatusProcessing = "PROCESSING"
	StatusCompleted  = "COMPLETED"
	StatusFailed     = "FAILED"
	StatusCancelled  = "CANCELLED"
	// StatusHeld is an authorization held for risk review (Paysafe's SDK
	// approves or cancels held authorizations).
	StatusHeld = "HELD"
)

// Kinds of ledger entries.
const (
	KindSettlement = "settlement"
	KindRefund     = "refund"
)

// MaxAmount is the largest amount Paysafe accepts, in minor units (seed
// 001: amount integer max=99999999999).
const MaxAmount int64 = 99999999999

// MaxMerchantRefNumLen is merchantRefNum's maximum length (seed 001).
const MaxMerchantRefNumLen = 255

// Authorization seeds one card authorization of one account: what a
// previous POST .../auths produced. It is the body of
// PUT {prefix}/_sandbox/authorizations.
type Authorization struct {
	// AccountID is the Paysafe merchant account number.
	AccountID string `json:"account_id"`
	// ID is the authorization id; empty generates a UUID.
	ID string `json:"id,omitempty"`
	// MerchantRefNum is the authorization's own reference (informative).
	MerchantRefNum string `json:"merchant_ref_num,omitempty"`
	// Amount is the authorized amount in minor units of Currency.
	Amount int64 `json:"amount"`
	// Currency is the ISO 4217 code (the account's currency).
	Currency string `json:"currency"`
	// Status is COMPLETED (default: settleable), RECEIVED, HELD, FAILED or
	// CANCELLED. Only a COMPLETED authorization can be settled.
	Status string `json:"status,omitempty"`
	// Expired makes every settlement fail with error 3205.
	Expired bool `json:"expired,omitempty"`
	// BatchOutcome is what the batch does to this authorization's
	// settlements: COMPLETED (default) or FAILED.
	BatchOutcome string `json:"batch_outcome,omitempty"`
	// RefundOutcome is what the batch does to refunds of its settlements:
	// COMPLETED (default) or FAILED.
	RefundOutcome string `json:"refund_outcome,omitempty"`
	// FailureMessage is the error message of a scripted FAILED.
	FailureMessage string `json:"failure_message,omitempty"`
}

// AuthorizationState is an authorization with what remains of it.
type AuthorizationState struct {
	Authorization
	// AvailableToSettle is the amount still settleable, in minor units:
	// the amount less every settlement not FAILED or CANCELLED.
	AvailableToSettle int64 `json:"available_to_settle"`
	// Settlements counts the settlements created against it.
	Settlements int `json:"settlements"`
	// TxnTime is when the authorization was seeded.
	TxnTime time.Time `json:"txn_time"`
}

// Validate checks an authorization script.
func (a Authorization) Validate() error {
	var errs []error
	if a.AccountID == "" {
		errs = append(errs, errors.New("account_id is required"))
	}
	if a.Amount <= 0 || a.Amount > MaxAmount {
		errs = append(errs, fmt.Errorf("amount %d must be 1 to %d minor units", a.Amount, MaxAmount))
	}
	if !money.ValidCurrency(a.Currency) {
		errs = append(errs, fmt.Errorf("currency %q is not an ISO 4217 code", a.Currency))
	}
	switch a.Status {
	case "", StatusCompleted, StatusReceived, StatusHeld, StatusFailed, StatusCancelled:
	default:
		errs = append(errs, fmt.Errorf("status %q is not COMPLETED, RECEIVED, HELD, FAILED or CANCELLED", a.Status))
	}
	for name, v := range map[string]string{"batch_outcome": a.BatchOutcome, "refund_outcome": a.RefundOutcome} {
		if v != "" && v != StatusCompleted && v != StatusFailed {
			errs = append(errs, fmt.Errorf("%s %q is not COMPLETED or FAILED", name, v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("authorization %s/%s: %w", a.AccountID, a.ID, err)
	}
	return nil
}

// Entry is one settlement or refund in the sandbox ledger.
type Entry struct {
	Seq int64 `json:"seq"`
	// Kind is settlement or refund.
	Kind string `json:"kind"`
	ID   string `json:"id"`
	// AccountID is the merchant account the transaction belongs to.
	AccountID string `json:"account_id"`
	// AuthorizationID is the authorization a settlement (or the settlement
	// a refund) draws on.
	AuthorizationID string `json:"authorization_id"`
	// SettlementID is the settlement a refund returns money from.
	SettlementID   string `json:"settlement_id,omitempty"`
	MerchantRefNum string `json:"merchant_ref_num"`
	// Amount is in minor units of Currency.
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Status   string `json:"status"`
	// AvailableToRefund is what remains refundable of a settlement.
	AvailableToRefund int64 `json:"available_to_refund"`
	// FailureMessage explains a FAILED status.
	FailureMessage string `json:"failure_message,omitempty"`
	// ReplyDropped is true when a drop_next fault answered 502 although the
	// transaction was created.
	ReplyDropped bool `json:"reply_dropped,omitempty"`
	// History lists every status, in order.
	History   []EntryStatus `json:"history"`
	TxnTime   time.Time     `json:"txn_time"`
	UpdatedAt time.Time     `json:"updated_at"`
}

// EntryStatus is one status of a ledger entry.
type EntryStatus struct {
	Status string    `json:"status"`
	At     time.Time `json:"at"`
}

// LedgerFilter selects ledger entries; empty fields match everything.
type LedgerFilter struct {
	AccountID       string
	Kind            string
	MerchantRefNum  string
	AuthorizationID string
}

func (f LedgerFilter) match(e *Entry) bool {
	return (f.AccountID == "" || f.AccountID == e.AccountID) && (f.Kind == "" || f.Kind == e.Kind) &&
		(f.MerchantRefNum == "" || f.MerchantRefNum == e.MerchantRefNum) &&
		(f.AuthorizationID == "" || f.AuthorizationID == e.AuthorizationID)
}

// BatchResult says what one batch run did.
type BatchResult struct {
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
}

// EndpointCalls counts the calls of one endpoint by how they were answered.
type EndpointCalls struct {
	// Total counts every call that reached the endpoint's route.
	Total int `json:"total"`
	// Unauthorized counts 401 answers (missing or wrong credentials).
	Unauthorized int `json:"unauthorized"`
	// BadRequest counts 400/413/415 answers to malformed requests.
	BadRequest int `json:"bad_request"`
	// NotFound counts 404 answers (unknown account, authorization, id).
	NotFound int `json:"not_found"`
	// Processed counts calls acted upon or answered (including dropped).
	Processed int `json:"processed"`
	// Refused counts business errors (3202, 3203, 3204, 3205, 5031, ...).
	Refused int `json:"refused"`
	// Injected faults: error answers, hangs, dropped replies, late commits
	// (counted when the late wait begins; a late call that then acts is
	// also counted in Processed or Refused).
	Failed  int `json:"failed"`
	Hung    int `json:"hung"`
	Dropped int `json:"dropped"`
	Late    int `json:"late"`
}

// Calls counts the calls per endpoint.
type Calls struct {
	Auth   EndpointCalls `json:"auth"`
	Settle EndpointCalls `json:"settle"`
	Refund EndpointCalls `json:"refund"`
	Get    EndpointCalls `json:"get"`
	Lookup EndpointCalls `json:"lookup"`
	Cancel EndpointCalls `json:"cancel"`
}
