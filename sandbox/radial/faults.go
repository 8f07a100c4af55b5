package radial

import (
	"fmt"
	"net/http"

	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
)

// Endpoint names a sandbox endpoint for fault injection and counters.
type Endpoint string

// Endpoints.
const (
	EndpointConfirm Endpoint = "confirm"
	EndpointSettle  Endpoint = "settle"
	// EndpointAll applies SetFaults to every endpoint.
	EndpointAll Endpoint = "all"
)

// Faults are the failure knobs of one endpoint. Counters ("next N") are
// consumed one per call, in this precedence: HangNext, FailNext, FaultNext,
// FailPerMille, DropNext. LatencyMS applies to every call first.
type Faults struct {
	// LatencyMS delays every answer by this many milliseconds.
	LatencyMS int `json:"latency_ms,omitempty"`
	// FailNext makes the next N calls answer FailStatus with a plain-text
	// body, without acting on the request.
	FailNext int `json:"fail_next,omitempty"`
	// FailStatus is the status of FailNext and FailPerMille answers
	// (500–599). Default 503.
	FailStatus int `json:"fail_status,omitempty"`
	// FaultNext makes the next N calls answer FaultStatus with a Fault XML
	// body, without acting on the request.
	FaultNext int `json:"fault_next,omitempty"`
	// FaultStatus is the status of FaultNext answers: 200 or 400–599.
	// Default 500.
	FaultStatus int `json:"fault_status,omitempty"`
	// FailPerMille makes each call answer FailStatus with this probability
	// in thousandths (0–1000).
	FailPerMille int `json:"fail_per_mille,omitempty"`
	// HangNext makes the next N calls hold the connection without an
	// answer until the client gives up or the sandbox closes.
	HangNext int `json:"hang_next,omitempty"`
	// DropNext processes the next N calls normally (a settlement is recorded
	// and its status scheduled) but answers 502: a crash or timeout after
	// the provider acted, recovered only through requestId deduplication.
	DropNext int `json:"drop_next,omitempty"`
	// LateNext makes the next N calls commit late: the sandbox waits LateMS
	// whether or not the client is still there, then acts (a settlement is
	// recorded and its status scheduled) — the provider committed after the
	// client gave up.
	LateNext int `json:"late_next,omitempty"`
	// LateMS is the wait of a late commit (0: 2 seconds).
	LateMS int `json:"late_ms,omitempty"`
	// LatePerMille, HangPerMille and DropPerMille are the probabilities, in
	// thousandths, of a late commit, a hung call and a dropped answer
	// (chaos runs); with FailPerMille their sum is at most 1000.
	LatePerMille int `json:"late_per_mille,omitempty"`
	HangPerMille int `json:"hang_per_mille,omitempty"`
	DropPerMille int `json:"drop_per_mille,omitempty"`
}

// FaultsRequest is the body of PUT {prefix}/_sandbox/faults: Faults for an
// endpoint (confirm, settle or all). The faults replace the current ones.
type FaultsRequest struct {
	Endpoint Endpoint `json:"endpoint"`
	Faults
}

// FaultsState is the body of GET {prefix}/_sandbox/faults.
type FaultsState struct {
	Confirm Faults `json:"confirm"`
	Settle  Faults `json:"settle"`
}

// Validate checks the knobs.
func (f Faults) Validate() error {
	var faultStatus error
	if f.FaultStatus != 0 && f.FaultStatus != 200 && (f.FaultStatus < 400 || f.FaultStatus > 599) {
		faultStatus = fmt.Errorf("fault_status %d is not 200, 4xx or 5xx", f.FaultStatus)
	}
	return f.knobs().Validate(false, faultStatus)
}

// endpoints lists every real endpoint.
var endpoints = []Endpoint{EndpointConfirm, EndpointSettle}

// faultPlan is what the fault knobs decided for one call; Own is a Fault
// answer with faultStatus.
type faultPlan struct {
	kit.Plan
	faultStatus int
}

// knobs is the view of f's shared knobs that kit plans and validates.
func (f *Faults) knobs() kit.Knobs {
	return kit.Knobs{LatencyMS: f.LatencyMS, FailStatus: f.FailStatus, FailPerMille: f.FailPerMille,
		HangNext: &f.HangNext, FailNext: &f.FailNext, OwnNext: &f.FaultNext, DropNext: &f.DropNext,
		LateNext: &f.LateNext, LateMS: f.LateMS, LatePerMille: f.LatePerMille, HangPerMille: f.HangPerMille, DropPerMille: f.DropPerMille}
}

// plan consumes the knobs of f for one call; roll is a number in [0,1000).
func (f *Faults) plan(roll int) faultPlan {
	p := faultPlan{Plan: f.knobs().Plan(roll)}
	if p.Own {
		p.faultStatus = f.FaultStatus
		if p.faultStatus == 0 {
			p.faultStatus = http.StatusInternalServerError
		}
	}
	return p
}
