package frisbii

import (
	"fmt"

	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
)

// Endpoint names a sandbox endpoint for fault injection and counters.
type Endpoint string

// Endpoints.
const (
	EndpointCharge    Endpoint = "charge"     // GET /v1/charge/{handle}
	EndpointSettle    Endpoint = "settle"     // POST /v1/charge/{handle}/settle
	EndpointRefund    Endpoint = "refund"     // POST /v1/refund
	EndpointRefundGet Endpoint = "refund_get" // GET /v1/refund/{id}
	// EndpointAll applies SetFaults to every endpoint.
	EndpointAll Endpoint = "all"
)

// endpoints lists every real endpoint.
var endpoints = []Endpoint{EndpointCharge, EndpointSettle, EndpointRefund, EndpointRefundGet}

// Faults are the failure knobs of one endpoint. Counters ("next N") are
// consumed one per call, in this precedence: HangNext, FailNext, LateNext,
// then one roll against FailPerMille, LatePerMille, HangPerMille and
// DropPerMille, then DropNext. LatencyMS applies to every call first.
type Faults struct {
	// LatencyMS delays every answer by this many milliseconds.
	LatencyMS int `json:"latency_ms,omitempty"`
	// FailNext makes the next N calls answer FailStatus with Frisbii's error
	// body (code 2 "Internal error"), without acting on the request.
	FailNext int `json:"fail_next,omitempty"`
	// FailStatus is the status of FailNext and FailPerMille answers
	// (500–599). Default 503.
	FailStatus int `json:"fail_status,omitempty"`
	// FailPerMille makes each call answer FailStatus with this probability
	// in thousandths (0–1000).
	FailPerMille int `json:"fail_per_mille,omitempty"`
	// HangNext makes the next N calls hold the connection without an
	// answer until the client gives up or the sandbox closes.
	HangNext int `json:"hang_next,omitempty"`
	// DropNext performs the next N calls normally (money moves, the key is
	// recorded) but answers 502: a timeout after the provider acted,
	// recovered only by retrying with the same idempotency key.
	DropNext int `json:"drop_next,omitempty"`
	// LateNext makes the next N calls commit late: the sandbox reads the
	// request, waits LateMS whether or not the client is still there, then
	// acts (money moves, the key is recorded) and answers a client that has
	// usually given up. While it waits, the key is in flight: a call with
	// the same key answers 409, error 74 "Concurrent resource update"
	// (sandbox choice, see README).
	LateNext int `json:"late_next,omitempty"`
	// LateMS is the wait of a late commit (0: 2 seconds).
	LateMS int `json:"late_ms,omitempty"`
	// LatePerMille, HangPerMille and DropPerMille are per-call
	// probabilities in thousandths of a late commit, a hang and a dropped
	// reply, for chaos runs. With FailPerMille they share one roll: the sum
	// must be at most 1000.
	LatePerMille int `json:"late_per_mille,omitempty"`
	HangPerMille int `json:"hang_per_mille,omitempty"`
	DropPerMille int `json:"drop_per_mille,omitempty"`
	// ErrorNext makes the next N calls answer Frisbii's error ErrorCode
	// (with its HTTP status, 404 for 8 "Not found") without acting, as
	// Frisbii may while an object is being processed or before its read
	// model holds it. Consumed before the other knobs, which such a call leaves as they are.
	ErrorNext int `json:"error_next,omitempty"`
	// ErrorCode is the code of ErrorNext answers (default 8 "Not found").
	ErrorCode int `json:"error_code,omitempty"`
	// GarbleNext makes the next N calls answer HTTP 200 with a truncated
	// JSON body, without acting (a proxy or a broken answer). Consumed
	// after ErrorNext, before the other knobs.
	GarbleNext int `json:"garble_next,omitempty"`
}

// FaultsRequest is the body of PUT {prefix}/_sandbox/faults: Faults for an
// endpoint (charge, settle, refund, refund_get or all). They replace the
// current ones.
type FaultsRequest struct {
	Endpoint Endpoint `json:"endpoint"`
	Faults
}

// FaultsState is the body of GET {prefix}/_sandbox/faults.
type FaultsState struct {
	Charge    Faults `json:"charge"`
	Settle    Faults `json:"settle"`
	Refund    Faults `json:"refund"`
	RefundGet Faults `json:"refund_get"`
}

// Validate checks the knobs.
func (f Faults) Validate() error {
	if f.ErrorNext < 0 {
		return fmt.Errorf("faults: error_next must not be negative")
	}
	if f.GarbleNext < 0 {
		return fmt.Errorf("faults: garble_next must not be negative")
	}
	if _, ok := errorTexts[f.ErrorCode]; f.ErrorCode != 0 && !ok {
		return fmt.Errorf("faults: error_code %d is not a code the sandbox knows", f.ErrorCode)
	}
	return f.knobs().Validate(false)
}

// scriptedError consumes one ErrorNext; nil when none is left.
func (f *Faults) scriptedError() *apiError {
	if f.ErrorNext <= 0 {
		return nil
	}
	f.ErrorNext--
	code := f.ErrorCode
	if code == 0 {
		code = CodeNotFound
	}
	return newAPIError(code, "injected by the frisbii sandbox (error_next)")
}

// garbled consumes one GarbleNext; false when none is left.
func (f *Faults) garbled() bool {
	if f.GarbleNext <= 0 {
		return false
	}
	f.GarbleNext--
	return true
}

// knobs is the view of f's shared knobs that kit plans and validates.
func (f *Faults) knobs() kit.Knobs {
	return kit.Knobs{LatencyMS: f.LatencyMS, FailStatus: f.FailStatus, FailPerMille: f.FailPerMille,
		HangNext: &f.HangNext, FailNext: &f.FailNext, DropNext: &f.DropNext,
		LateNext: &f.LateNext, LateMS: f.LateMS,
		LatePerMille: f.LatePerMille, HangPerMille: f.HangPerMille, DropPerMille: f.DropPerMille}
}

// plan consumes the knobs of f for one call; roll is a number in [0,1000).
func (f *Faults) plan(roll int) kit.Plan { return f.knobs().Plan(roll) }
