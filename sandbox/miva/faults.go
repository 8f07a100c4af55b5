package miva

import (
	"fmt"

	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
)

// Endpoint names a function for fault injection and counters.
type Endpoint string

// Endpoints.
const (
	EndpointList    Endpoint = "list"    // OrderPaymentList_Load
	EndpointCapture Endpoint = "capture" // OrderPayment_Capture
	EndpointRefund  Endpoint = "refund"  // OrderPayment_Refund
	EndpointVoid    Endpoint = "void"    // OrderPayment_VOID
	// EndpointAll applies SetFaults to every endpoint.
	EndpointAll Endpoint = "all"
)

// endpoints lists the real endpoints in a stable order.
var endpoints = []Endpoint{EndpointList, EndpointCapture, EndpointRefund, EndpointVoid}

// endpointOf maps a Function to its endpoint ("" when unknown).
func endpointOf(function string) Endpoint {
	switch function {
	case FunctionPaymentList:
		return EndpointList
	case FunctionCapture:
		return EndpointCapture
	case FunctionRefund:
		return EndpointRefund
	case FunctionVoid:
		return EndpointVoid
	}
	return ""
}

// Faults are the failure knobs of one endpoint. Counters ("next N") are
// consumed one per call that passed authentication, in this precedence:
// HangNext, FailNext, ErrorNext, LateNext, then one roll against
// FailPerMille, LatePerMille, HangPerMille and DropPerMille (in that order),
// then DropNext. LatencyMS applies to every such call first.
type Faults struct {
	// LatencyMS delays every answer by this many milliseconds.
	LatencyMS int `json:"latency_ms,omitempty"`
	// FailNext makes the next N calls answer FailStatus with a plain-text
	// body, without acting.
	FailNext int `json:"fail_next,omitempty"`
	// FailStatus is the status of FailNext and FailPerMille answers
	// (500–599). Default 503.
	FailStatus int `json:"fail_status,omitempty"`
	// ErrorNext makes the next N calls answer HTTP 200 with a Miva error
	// body {"success":0,"error_code":ErrorCode,...}, without acting.
	ErrorNext int `json:"error_next,omitempty"`
	// ErrorCode is the error_code of ErrorNext answers. Default
	// processor_unavailable.
	ErrorCode string `json:"error_code,omitempty"`
	// ErrorMessage is their error_message. Default: a sentence naming the code.
	ErrorMessage string `json:"error_message,omitempty"`
	// FailPerMille makes each call answer FailStatus with this probability
	// in thousandths (0–1000), without acting.
	FailPerMille int `json:"fail_per_mille,omitempty"`
	// HangNext makes the next N calls hold the connection without an
	// answer until the client gives up or the sandbox closes.
	HangNext int `json:"hang_next,omitempty"`
	// DropNext processes the next N calls normally (a capture really
	// captures) but answers 502: the reply is lost after Miva acted, which
	// only reconciliation can recover.
	DropNext int `json:"drop_next,omitempty"`
	// DropStatus is the HTTP status of a dropped reply (DropNext,
	// DropPerMille): default 502. 503 plays a proxy that answers "service
	// unavailable" although the call went through.
	DropStatus int `json:"drop_status,omitempty"`
	// LateNext makes the next N calls commit late: the sandbox waits LateMS
	// whether or not the client is still there, then acts (a capture really
	// captures, with the time of the commit) and answers a client that has
	// usually left. Only reconciliation after the settle window finds it.
	LateNext int `json:"late_next,omitempty"`
	// LateMS is the wait of a late commit. Default 2000.
	LateMS int `json:"late_ms,omitempty"`
	// LatePerMille, HangPerMille and DropPerMille make each call commit
	// late, hang, or act and drop its reply with these probabilities in
	// thousandths; with FailPerMille they sum to at most 1000 (chaos runs).
	LatePerMille int `json:"late_per_mille,omitempty"`
	HangPerMille int `json:"hang_per_mille,omitempty"`
	DropPerMille int `json:"drop_per_mille,omitempty"`
}

// FaultsRequest is the body of PUT {prefix}/_sandbox/faults: Faults for an
// endpoint (list, capture, refund, void or all). They replace the current ones.
type FaultsRequest struct {
	Endpoint Endpoint `json:"endpoint"`
	Faults
}

// FaultsState is the body of GET {prefix}/_sandbox/faults.
type FaultsState struct {
	List    Faults `json:"list"`
	Capture Faults `json:"capture"`
	Refund  Faults `json:"refund"`
	Void    Faults `json:"void"`
}

// Validate checks the knobs.
func (f Faults) Validate() error {
	if f.DropStatus != 0 && (f.DropStatus < 400 || f.DropStatus > 599) {
		return fmt.Errorf("drop_status %d is not an HTTP error status (400-599)", f.DropStatus)
	}
	return f.knobs().Validate(false)
}

// faultPlan is what the fault knobs decided for one call; Own is an
// ErrorNext answer with err.
type faultPlan struct {
	kit.Plan
	err        *apiError // Miva error body, without acting
	dropStatus int       // status of a dropped reply (0: kit's 502)
}

// knobs is the view of f's shared knobs that kit plans and validates.
func (f *Faults) knobs() kit.Knobs {
	return kit.Knobs{LatencyMS: f.LatencyMS, FailStatus: f.FailStatus, FailPerMille: f.FailPerMille,
		HangNext: &f.HangNext, FailNext: &f.FailNext, OwnNext: &f.ErrorNext, DropNext: &f.DropNext,
		LateNext: &f.LateNext, LateMS: f.LateMS, LatePerMille: f.LatePerMille, HangPerMille: f.HangPerMille, DropPerMille: f.DropPerMille}
}

// plan consumes the knobs of f for one call; roll is a number in [0,1000).
func (f *Faults) plan(roll int) faultPlan {
	p := faultPlan{Plan: f.knobs().Plan(roll), dropStatus: f.DropStatus}
	if p.Own {
		code, msg := f.ErrorCode, f.ErrorMessage
		if code == "" {
			code = CodeProcessorUnavailable
		}
		if msg == "" {
			msg = "Injected error " + code + " (miva sandbox)"
		}
		p.err = &apiError{code: code, message: msg}
	}
	return p
}
