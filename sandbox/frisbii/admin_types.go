package frisbii

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"time"

	"github.com/settlement-worker/settlement-worker/money"
)

// handleRE is Frisbii's rule for charge handles: "Max length 255 with
// allowable characters [a-zA-Z0-9_.-@]".
var handleRE = regexp.MustCompile(`^[a-zA-Z0-9_.\-@]{1,255}$`)

// ValidHandle reports whether h is a valid Frisbii charge handle.
func ValidHandle(h string) bool { return handleRE.MatchString(h) }

// MaxAmount is the largest amount Frisbii accepts: amounts are int32 minor
// units (seed 002: "int32 ≥ 0").
const MaxAmount = math.MaxInt32

// ChargeSeed creates or replaces a charge in the sandbox: the body of
// PUT {prefix}/_sandbox/charges. Amounts are integer minor units of
// Currency (1999 USD = 19.99, 1500 JPY = ¥1500, 1500 KWD = 1.500).
type ChargeSeed struct {
	// Handle is the charge handle ([a-zA-Z0-9_.-@], at most 255).
	Handle string `json:"handle"`
	// Amount is the authorized amount: the most that can be settled.
	Amount int64 `json:"amount"`
	// Currency is an ISO 4217 code.
	Currency string `json:"currency"`
	// State is authorized (default), settled, failed, cancelled or pending.
	State string `json:"state,omitempty"`
	// SettledAmount is money already settled; it is only allowed (and then
	// required, default Amount) for state settled.
	SettledAmount int64 `json:"settled_amount,omitempty"`
	// Customer is the customer handle (default "customer-1").
	Customer string `json:"customer,omitempty"`
	// OrderText is the text of the single order line of the authorization.
	OrderText string `json:"ordertext,omitempty"`
	// ErrorState and Error describe why a seeded failed charge failed.
	ErrorState string `json:"error_state,omitempty"`
	Error      string `json:"error,omitempty"`
	// Decline scripts the outcome of the next settles.
	Decline *Decline `json:"decline,omitempty"`
	// Refund scripts the outcome of the next refunds.
	Refund *RefundScript `json:"refund,omitempty"`
}

// Decline makes settles of a charge fail the way Frisbii reports acquirer
// problems: HTTP 200 with the charge's error_state and error. A hard decline
// of the first settle moves the charge to failed; a soft decline or a
// processing error leaves its state unchanged (Frisbii's settle charge
// reference: "For processing errors the state is left unchanged. For
// irrecoverable acquirer declines for the first settle, the state of the
// charge will be changed to failed.").
type Decline struct {
	// ErrorState is hard_declined, soft_declined or processing_error.
	ErrorState string `json:"error_state"`
	// Error is Frisbii's transaction error code, e.g. insufficient_funds;
	// default by state: declined_by_acquirer, insufficient_funds,
	// acquirer_communication_error.
	Error string `json:"error,omitempty"`
	// Count is how many settles (new keys) fail; 0 means every settle.
	Count int `json:"count,omitempty"`
	// After is how many settles the script leaves as they are before it
	// applies (default 0: from the first).
	After int `json:"after,omitempty"`
}

// RefundScript scripts refunds of a charge.
type RefundScript struct {
	// State is refunded (default), failed or processing.
	State string `json:"state,omitempty"`
	// ErrorState (hard_declined or processing_error) and Error describe a
	// failed refund.
	ErrorState string `json:"error_state,omitempty"`
	Error      string `json:"error,omitempty"`
	// Count is how many refunds the script applies to; 0 means all.
	Count int `json:"count,omitempty"`
	// After is how many refunds the script leaves as they are before it
	// applies (default 0: from the first).
	After int `json:"after,omitempty"`
	// ProcessingMS is how long a processing refund stays processing before
	// it is refunded (default 500ms).
	ProcessingMS int `json:"processing_ms,omitempty"`
}

// defaultErrors are the transaction error codes used when a script names
// none (codes from Frisbii's transaction error list).
var defaultErrors = map[string]string{
	ErrorStateHardDeclined:    "declined_by_acquirer",
	ErrorStateSoftDeclined:    "insufficient_funds",
	ErrorStateProcessingError: "acquirer_communication_error",
}

// WithDefaults returns the seed with its defaults applied.
func (s ChargeSeed) WithDefaults() ChargeSeed {
	if s.State == "" {
		s.State = StateAuthorized
	}
	if s.State == StateSettled && s.SettledAmount == 0 {
		s.SettledAmount = s.Amount
	}
	if s.Customer == "" {
		s.Customer = "customer-1"
	}
	if s.State == StateFailed && s.ErrorState == "" {
		s.ErrorState = ErrorStateHardDeclined
	}
	if s.State == StateFailed && s.Error == "" {
		s.Error = defaultErrors[s.ErrorState]
	}
	return s
}

// Validate checks a seed (after WithDefaults).
func (s ChargeSeed) Validate() error {
	s = s.WithDefaults()
	var errs []error
	if !ValidHandle(s.Handle) {
		errs = append(errs, fmt.Errorf("handle %q must be 1–255 characters of [a-zA-Z0-9_.-@]", s.Handle))
	}
	if s.Amount <= 0 || s.Amount > MaxAmount {
		errs = append(errs, fmt.Errorf("amount %d must be within 1–%d minor units", s.Amount, MaxAmount))
	}
	if !money.ValidCurrency(s.Currency) {
		errs = append(errs, fmt.Errorf("currency %q is not an ISO 4217 code", s.Currency))
	}
	switch s.State {
	case StateAuthorized, StateFailed, StateCancelled, StatePending:
		if s.SettledAmount != 0 {
			errs = append(errs, fmt.Errorf("settled_amount is only allowed for state settled (any settle moves a charge to settled)"))
		}
	case StateSettled:
		if s.SettledAmount < 1 || s.SettledAmount > s.Amount {
			errs = append(errs, fmt.Errorf("settled_amount %d must be within 1–amount", s.SettledAmount))
		}
	default:
		errs = append(errs, fmt.Errorf("state %q is not authorized, settled, failed, cancelled or pending", s.State))
	}
	if s.State == StateFailed && !validErrorState(s.ErrorState) {
		errs = append(errs, fmt.Errorf("error_state %q is not hard_declined, soft_declined or processing_error", s.ErrorState))
	}
	if d := s.Decline; d != nil {
		if !validErrorState(d.ErrorState) {
			errs = append(errs, fmt.Errorf("decline.error_state %q is not hard_declined, soft_declined or processing_error", d.ErrorState))
		}
		if d.Count < 0 || d.After < 0 {
			errs = append(errs, errors.New("decline.count and decline.after must not be negative"))
		}
	}
	if r := s.Refund; r != nil {
		switch r.State {
		case "", RefundRefunded, RefundProcessing:
		case RefundFailed:
			if r.ErrorState != ErrorStateHardDeclined && r.ErrorState != ErrorStateProcessingError {
				errs = append(errs, fmt.Errorf("refund.error_state %q is not hard_declined or processing_error", r.ErrorState))
			}
		default:
			errs = append(errs, fmt.Errorf("refund.state %q is not refunded, failed or processing", r.State))
		}
		if r.Count < 0 || r.ProcessingMS < 0 || r.After < 0 {
			errs = append(errs, errors.New("refund.count, refund.after and refund.processing_ms must not be negative"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("charge %q: %w", s.Handle, err)
	}
	return nil
}

func validErrorState(s string) bool {
	return s == ErrorStateHardDeclined || s == ErrorStateSoftDeclined || s == ErrorStateProcessingError
}

// ChargeInfo is the admin view of a charge: Frisbii's charge object plus
// the sandbox's balances and transactions.
type ChargeInfo struct {
	Charge
	// SettledAmount is the total settled; RemainingAmount what can still be
	// settled (authorized − settled); PendingRefunds refunds still processing.
	SettledAmount   int64 `json:"settled_amount"`
	RemainingAmount int64 `json:"remaining_amount"`
	PendingRefunds  int64 `json:"pending_refunds"`
	// Transactions lists the charge's ledger entries in order.
	Transactions []Entry `json:"transactions"`
}

// Ledger entry kinds and states.
const (
	EntrySettle = "settle"
	EntryRefund = "refund"

	EntrySettled    = "settled"
	EntryRefunded   = "refunded"
	EntryProcessing = "processing"
	EntryFailed     = "failed"
)

// Entry is one settle or refund attempt that reached a verdict (money moved,
// a refund started, or a decline). Processing errors of settles move no
// money and leave no entry; they are counted in Calls.
type Entry struct {
	Seq      int64  `json:"seq"`
	Kind     string `json:"kind"`
	Handle   string `json:"handle"`
	Key      string `json:"key,omitempty"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	// State is settled, refunded, processing or failed.
	State string `json:"state"`
	// Transaction is Frisbii's transaction id; RefundID the refund's id.
	Transaction string `json:"transaction"`
	RefundID    string `json:"refund_id,omitempty"`
	ErrorState  string `json:"error_state,omitempty"`
	Error       string `json:"error,omitempty"`
	// OrderLines counts the order lines sent (0: amount and ordertext).
	OrderLines int `json:"order_lines"`
	// AcquirerReference is the acquirer_reference sent, if any.
	AcquirerReference string `json:"acquirer_reference,omitempty"`
	// ReplyDropped is true when a drop_next fault answered 502 although
	// the operation was performed.
	ReplyDropped bool `json:"reply_dropped,omitempty"`
	// Replays counts later calls with the same key and body, answered
	// from the idempotency record without moving money.
	Replays   int       `json:"replays"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// LedgerFilter selects ledger entries; empty fields match everything.
type LedgerFilter struct {
	Handle string
	Key    string
	Kind   string
}

func (f LedgerFilter) match(e *Entry) bool {
	return (f.Handle == "" || f.Handle == e.Handle) && (f.Key == "" || f.Key == e.Key) && (f.Kind == "" || f.Kind == e.Kind)
}

// EndpointCalls counts the calls of one endpoint by how they were answered.
type EndpointCalls struct {
	// Total counts every call that reached the endpoint's route.
	Total int `json:"total"`
	// Unauthorized counts 401 answers (missing or wrong private key).
	Unauthorized int `json:"unauthorized"`
	// ClientErrors counts 4xx error answers (error body), including
	// idempotency conflicts.
	ClientErrors int `json:"client_errors"`
	// Processed counts operations performed (money moved, refund started,
	// decline recorded), including those whose reply was dropped.
	Processed int `json:"processed"`
	// Declined counts HTTP 200 answers with an error_state, processing
	// errors included.
	Declined int `json:"declined"`
	// Replays counts repeats of a known key with the same body.
	Replays int `json:"replays"`
	// Conflicts counts a known key with a different body.
	Conflicts int `json:"conflicts"`
	// Injected faults: plain 5xx, hangs, dropped replies.
	Failed5xx int `json:"failed_5xx"`
	Hung      int `json:"hung"`
	Dropped   int `json:"dropped"`
	// Late counts late commits (late_next, late_per_mille); InFlight the
	// calls answered 409 (error 74) because a call with the same key was
	// still waiting to commit (also counted in Conflicts).
	Late     int `json:"late"`
	InFlight int `json:"in_flight"`
}

// Calls counts the calls per endpoint.
type Calls struct {
	Charge    EndpointCalls `json:"charge"`
	Settle    EndpointCalls `json:"settle"`
	Refund    EndpointCalls `json:"refund"`
	RefundGet EndpointCalls `json:"refund_get"`
}
