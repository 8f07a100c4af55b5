package intake

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/settlement-worker/settlement-worker/messages"
)

// Event is one entry of the RetailOPS response's "events" array, in the
// seed's shape (000: {"status": "error", "error_code", "error_message",
// "diagnostic_data": [], "associations": [{"type", "identity"}]}).
type Event struct {
	// Status is "error" for every event this intake sends.
	Status string `json:"status"`
	// ErrorCode is a stable, upper-case code (see the Err* constants).
	ErrorCode string `json:"error_code"`
	// ErrorMessage says what is wrong and what to do, in words.
	ErrorMessage string `json:"error_message"`
	// DiagnosticData holds details (field paths, validation rules); never
	// secrets or card data.
	DiagnosticData []string `json:"diagnostic_data"`
	// Associations name what the event is about (the order).
	Associations []Association `json:"associations"`
}

// Association names an object an event is about. Type uses the RetailOPS
// SDK's identifier types (order_id, order_refnum, ...).
type Association struct {
	// Type is the identifier type: order_id or order_refnum.
	Type string `json:"type"`
	// Identity is the identifier's value, e.g. "4897".
	Identity string `json:"identity"`
}

// Response is the RetailOPS webhook answer: {"events": [...]}, empty when
// everything was accepted.
type Response struct {
	// Events lists one error event per problem; never null.
	Events []Event `json:"events"`
}

// Error codes of RetailOPS events.
const (
	ErrUnauthorized       = "UNAUTHORIZED"
	ErrMalformedJSON      = "MALFORMED_JSON"
	ErrUnsupportedAction  = "UNSUPPORTED_ACTION"
	ErrUnsupportedVersion = "UNSUPPORTED_VERSION"
	ErrMissingField       = "MISSING_FIELD"
	ErrInvalidField       = "INVALID_FIELD"
	ErrUnknownChannel     = "CHANNEL_NOT_CONFIGURED"
	ErrInvalidAmount      = "INVALID_AMOUNT"
	ErrInconsistentAmount = "INCONSISTENT_AMOUNT"
	ErrDuplicateAccount   = "DUPLICATE_ACCOUNT"
	ErrTooManyAccounts    = "TOO_MANY_ACCOUNTS"
	ErrInvalidRequest     = "INVALID_SETTLEMENT_REQUEST"
	ErrRequestTooLarge    = "REQUEST_TOO_LARGE"
	ErrPublishFailed      = "PUBLISH_FAILED"
	ErrBusy               = "SERVICE_BUSY"
)

// maxEvents bounds the events of one answer (and their log lines): the
// last one says how many more problems were found.
const maxEvents = 100

// maxSkippedLogged bounds the log lines of the accounts and packages one
// webhook leaves out; one more line says how many more there were.
const maxSkippedLogged = 20

// summarize keeps the first maxEvents-1 events of a longer list and adds
// one that says how many more problems were found (a body that repeats a
// mistake would otherwise be answered, and logged, at a length that grows
// with it).
func summarize(events []Event, order orderRef) []Event {
	if len(events) <= maxEvents {
		return events
	}
	more := len(events) - (maxEvents - 1)
	return append(events[:maxEvents-1:maxEvents-1], newEvent(events[maxEvents-1].ErrorCode,
		fmt.Sprintf("%d more problems were found, not listed (the first %d are); nothing was settled", more, maxEvents-1), order))
}

// StatusError is the status of every event the intake sends.
const StatusError = "error"

// newEvent builds an error event about the order (when its id is known).
func newEvent(code, msg string, order orderRef, diag ...string) Event {
	// The message and diagnostics quote what was refused, where a card
	// number may have been written: masked (messages.MaskPANs), as they
	// are answered and logged.
	out := make([]string, len(diag))
	for i, d := range diag {
		out[i] = messages.MaskPANs(d)
	}
	return Event{Status: StatusError, ErrorCode: code, ErrorMessage: messages.MaskPANs(msg), DiagnosticData: out, Associations: order.associations()}
}

// orderRef identifies the order an event is about.
type orderRef struct {
	id     string
	refnum string
}

func (o orderRef) associations() []Association {
	as := []Association{}
	if o.id != "" {
		as = append(as, Association{Type: "order_id", Identity: o.id})
	}
	if o.refnum != "" {
		as = append(as, Association{Type: "order_refnum", Identity: o.refnum})
	}
	return as
}

// writeEvents answers with status and {"events": events}.
func writeEvents(w http.ResponseWriter, status int, events ...Event) {
	if events == nil {
		events = []Event{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Response{Events: events})
}
