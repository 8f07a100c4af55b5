package radial

import (
	"errors"
	"fmt"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/money"
)

// Ledger entry states: an accepted settlement waits for its status; S and R
// are Radial's SettlementStatus values (the last status published wins).
const (
	StateAccepted = "accepted"
	StateSettled  = messages.StatusSettled
	StateRejected = messages.StatusRejected
)

// Decline reasons the sandbox uses when no script overrides them.
const (
	// ReasonInsufficientAuthorization rejects a debit beyond the
	// authorized amount still uncaptured.
	ReasonInsufficientAuthorization = "Insufficient authorization balance for settlement amount"
	// ReasonInsufficientCapture is Radial's own text (from the seed) for a
	// credit beyond the captured amount not yet refunded.
	ReasonInsufficientCapture = "Insufficient Capture balance for refund request amount"
	// ReasonNoAuthorization rejects a debit for an order never authorized
	// (only when AutoAuthorize is off).
	ReasonNoAuthorization = "No authorization found for order"
	// ReasonCurrencyMismatch rejects a settlement in another currency than
	// its authorization.
	ReasonCurrencyMismatch = "Settlement currency does not match authorization currency"
	// ReasonScriptedDecline is used for a scripted R without a reason.
	ReasonScriptedDecline = "Settlement declined by processor"
)

// Authorization scripts how the sandbox treats one order of one store: its
// authorized amount and, optionally, forced outcomes. It is the body of
// PUT {prefix}/_sandbox/authorizations.
type Authorization struct {
	// StoreID and OrderID identify the authorization (the URL's StoreId and
	// the request's OrderId).
	StoreID string `json:"store_id"`
	OrderID string `json:"order_id"`
	// Amount is the authorized amount as a decimal string ("100.00") in
	// Currency (ISO 4217).
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
	// FundsOutcome forces the ConfirmFunds answer: Success, Fail or Timeout.
	// Empty: Success when the requested amount ≤ Amount, else Fail.
	FundsOutcome string `json:"funds_outcome,omitempty"`
	// SettleVerdict "R" rejects every settlement of this order with
	// DeclineReason; empty (or "S") lets the ledger arithmetic decide.
	SettleVerdict string `json:"settle_verdict,omitempty"`
	// DeclineReason is the reason sent with a scripted R.
	DeclineReason string `json:"decline_reason,omitempty"`
	// LaterStatuses are sent after every debit of this order that settled
	// (S): for example a chargeback {after_ms: 300, status: "R"}.
	LaterStatuses []LaterStatus `json:"later_statuses,omitempty"`
	// RepeatStatus sends every status of this order RepeatStatus more
	// times, body-identical but each under a new AMQP message_id (a
	// provider that re-emits a status rather than the broker redelivering
	// it).
	RepeatStatus int `json:"repeat_status,omitempty"`
}

// LaterStatus is an extra PaymentSettlementStatus sent AfterMS milliseconds
// after a debit's S. An R after an S reverses the capture (chargeback); an
// S after an R applies it.
type LaterStatus struct {
	AfterMS       int    `json:"after_ms"`
	Status        string `json:"status"`
	DeclineReason string `json:"decline_reason,omitempty"`
}

// AuthorizationState is an authorization with the money moved so far.
type AuthorizationState struct {
	Authorization
	// Captured is the sum of settled debits (less chargebacks).
	Captured string `json:"captured"`
	// Refunded is the sum of settled credits.
	Refunded string `json:"refunded"`
	// Auto is true when AutoAuthorize created the authorization.
	Auto bool `json:"auto"`
	// Reauthorizations counts the reauthorizations performed: ConfirmFunds
	// calls with PerformReauthorization answered Success, each under a
	// requestId not seen before (a repeated requestId is answered from the
	// record and performs nothing). Each holds the customer's funds again:
	// a client that confirms once per debit performs one.
	Reauthorizations int `json:"reauthorizations"`
}

// Validate checks an authorization script.
func (a Authorization) Validate() error {
	var errs []error
	if a.StoreID == "" || a.OrderID == "" {
		errs = append(errs, errors.New("store_id and order_id are required"))
	}
	m, err := money.Parse(a.Amount, a.Currency)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("amount: %w", err))
	case !m.IsPositive():
		errs = append(errs, errors.New("amount must be positive"))
	}
	switch a.FundsOutcome {
	case "", messages.FundsSuccess, messages.FundsFail, messages.FundsTimeout:
	default:
		errs = append(errs, fmt.Errorf("funds_outcome %q is not Success, Fail or Timeout", a.FundsOutcome))
	}
	switch a.SettleVerdict {
	case "", messages.StatusSettled, messages.StatusRejected:
	default:
		errs = append(errs, fmt.Errorf("settle_verdict %q is not S or R", a.SettleVerdict))
	}
	if a.RepeatStatus < 0 || a.RepeatStatus > 10 {
		errs = append(errs, fmt.Errorf("repeat_status %d is not within 0–10", a.RepeatStatus))
	}
	for i, l := range a.LaterStatuses {
		if l.AfterMS < 0 {
			errs = append(errs, fmt.Errorf("later_statuses[%d].after_ms must not be negative", i))
		}
		if l.Status != messages.StatusSettled && l.Status != messages.StatusRejected {
			errs = append(errs, fmt.Errorf("later_statuses[%d].status %q is not S or R", i, l.Status))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("authorization %s/%s: %w", a.StoreID, a.OrderID, err)
	}
	return nil
}

// Entry is one settlement in the sandbox ledger.
type Entry struct {
	Seq           int64  `json:"seq"`
	RequestID     string `json:"request_id"`
	StoreID       string `json:"store_id"`
	OrderID       string `json:"order_id"`
	TenderType    string `json:"tender_type"`
	Type          string `json:"type"`
	Amount        string `json:"amount"`
	Currency      string `json:"currency"`
	ClientContext string `json:"client_context,omitempty"`
	// State is accepted, then S or R (the latest status sent).
	State         string `json:"state"`
	DeclineReason string `json:"decline_reason,omitempty"`
	// ReplyDropped is true when a "process then drop" fault answered 502
	// although the settlement was recorded.
	ReplyDropped bool `json:"reply_dropped,omitempty"`
	// DuplicateHits counts later creates with the same requestId and content.
	DuplicateHits int `json:"duplicate_hits"`
	// History lists every status decided for this entry, in order.
	History   []EntryStatus `json:"history,omitempty"`
	CreatedAt time.Time     `json:"created_at"`
	DecidedAt *time.Time    `json:"decided_at,omitempty"`
	UpdatedAt time.Time     `json:"updated_at"`
}

// EntryStatus is one status decided for a ledger entry.
type EntryStatus struct {
	Status        string    `json:"status"`
	DeclineReason string    `json:"decline_reason,omitempty"`
	At            time.Time `json:"at"`
}

// LedgerFilter selects ledger entries; empty fields match everything.
type LedgerFilter struct {
	RequestID string
	OrderID   string
}

func (f LedgerFilter) match(e *Entry) bool {
	return (f.RequestID == "" || f.RequestID == e.RequestID) && (f.OrderID == "" || f.OrderID == e.OrderID)
}

// StatusRecord is one PaymentSettlementStatus the sandbox emitted, and
// whether it reached the broker yet.
type StatusRecord struct {
	// Seq orders statuses by emission.
	Seq       int64  `json:"seq"`
	EntrySeq  int64  `json:"entry_seq"`
	RequestID string `json:"request_id"`
	OrderID   string `json:"order_id"`
	// MessageID is the AMQP message_id the status is published with.
	MessageID        string `json:"message_id"`
	SettlementStatus string `json:"settlement_status"`
	DeclineReason    string `json:"decline_reason,omitempty"`
	// Body is the XML message. It carries the account number, so it is
	// kept out of the admin API's JSON.
	Body        []byte     `json:"-"`
	EmittedAt   time.Time  `json:"emitted_at"`
	Published   bool       `json:"published"`
	PublishedAt *time.Time `json:"published_at,omitempty"`
	// Attempts counts publish attempts.
	Attempts int `json:"attempts"`
}

// EndpointCalls counts the calls of one endpoint by how they were answered.
type EndpointCalls struct {
	// Total counts every call that reached the endpoint's route.
	Total int `json:"total"`
	// Unauthorized counts 401 answers (missing or wrong apikey).
	Unauthorized int `json:"unauthorized"`
	// BadRequest counts 400/404/413/415 Fault answers to invalid requests.
	BadRequest int `json:"bad_request"`
	// Processed counts new requests acted upon (including dropped replies).
	Processed int `json:"processed"`
	// DedupHits counts repeats of a known requestId with the same content.
	DedupHits int `json:"dedup_hits"`
	// Conflicts counts a known requestId with different content (Fault).
	Conflicts int `json:"conflicts"`
	// Injected faults: plain 5xx, Fault bodies, hangs, dropped replies.
	Failed5xx int `json:"failed_5xx"`
	Faulted   int `json:"faulted"`
	Hung      int `json:"hung"`
	Dropped   int `json:"dropped"`
}

// Calls counts the calls per endpoint.
type Calls struct {
	Confirm EndpointCalls `json:"confirm"`
	Settle  EndpointCalls `json:"settle"`
}
