package radial

import (
	"errors"
	"fmt"
	"net/http"
	"time"
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
	var errs []error
	if f.LatencyMS < 0 || f.FailNext < 0 || f.FaultNext < 0 || f.HangNext < 0 || f.DropNext < 0 {
		errs = append(errs, errors.New("latency and counters must not be negative"))
	}
	if f.FailStatus != 0 && (f.FailStatus < 500 || f.FailStatus > 599) {
		errs = append(errs, fmt.Errorf("fail_status %d is not 5xx", f.FailStatus))
	}
	if f.FaultStatus != 0 && f.FaultStatus != 200 && (f.FaultStatus < 400 || f.FaultStatus > 599) {
		errs = append(errs, fmt.Errorf("fault_status %d is not 200, 4xx or 5xx", f.FaultStatus))
	}
	if f.FailPerMille < 0 || f.FailPerMille > 1000 {
		errs = append(errs, fmt.Errorf("fail_per_mille %d is not within 0–1000", f.FailPerMille))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("faults: %w", err)
	}
	return nil
}

func (e Endpoint) valid() bool {
	return e == EndpointConfirm || e == EndpointSettle || e == EndpointAll
}

// faultPlan is what the fault knobs decided for one call.
type faultPlan struct {
	latency     time.Duration
	hang        bool
	failStatus  int // plain 5xx answer, without acting
	faultStatus int // Fault answer, without acting
	drop        bool
}

// plan consumes the knobs of f for one call; roll is a number in [0,1000).
func (f *Faults) plan(roll int) faultPlan {
	p := faultPlan{latency: time.Duration(f.LatencyMS) * time.Millisecond}
	failStatus := f.FailStatus
	if failStatus == 0 {
		failStatus = http.StatusServiceUnavailable
	}
	switch {
	case f.HangNext > 0:
		f.HangNext--
		p.hang = true
	case f.FailNext > 0:
		f.FailNext--
		p.failStatus = failStatus
	case f.FaultNext > 0:
		f.FaultNext--
		p.faultStatus = f.FaultStatus
		if p.faultStatus == 0 {
			p.faultStatus = http.StatusInternalServerError
		}
	case roll < f.FailPerMille:
		p.failStatus = failStatus
	case f.DropNext > 0:
		f.DropNext--
		p.drop = true
	}
	return p
}
