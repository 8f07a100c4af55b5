package frisbii

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
	EndpointCharge    Endpoint = "charge"     // GET /v1/charge/{handle}
	EndpointSettle    Endpoint = "settle"     // POST /v1/charge/{handle}/settle
	EndpointRefund    Endpoint = "refund"     // POST /v1/refund
	EndpointRefundGet Endpoint = "refund_get" // GET /v1/refund/{id}
	// EndpointAll applies SetFaults to every endpoint.
	EndpointAll Endpoint = "all"
)

// endpoints lists every real endpoint.
var endpoints = []Endpoint{EndpointCharge, EndpointSettle, EndpointRefund, EndpointRefundGet}

func (e Endpoint) valid() bool {
	if e == EndpointAll {
		return true
	}
	for _, x := range endpoints {
		if e == x {
			return true
		}
	}
	return false
}

// Faults are the failure knobs of one endpoint. Counters ("next N") are
// consumed one per call, in this precedence: HangNext, FailNext,
// FailPerMille, DropNext. LatencyMS applies to every call first.
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
	var errs []error
	if f.LatencyMS < 0 || f.FailNext < 0 || f.HangNext < 0 || f.DropNext < 0 {
		errs = append(errs, errors.New("latency and counters must not be negative"))
	}
	if f.FailStatus != 0 && (f.FailStatus < 500 || f.FailStatus > 599) {
		errs = append(errs, fmt.Errorf("fail_status %d is not 5xx", f.FailStatus))
	}
	if f.FailPerMille < 0 || f.FailPerMille > 1000 {
		errs = append(errs, fmt.Errorf("fail_per_mille %d is not within 0–1000", f.FailPerMille))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("faults: %w", err)
	}
	return nil
}

// faultPlan is what the fault knobs decided for one call.
type faultPlan struct {
	latency    time.Duration
	hang       bool
	failStatus int // error answer without acting
	drop       bool
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
	case roll < f.FailPerMille:
		p.failStatus = failStatus
	case f.DropNext > 0:
		f.DropNext--
		p.drop = true
	}
	return p
}
