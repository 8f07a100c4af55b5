package paysafe

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"
)

// Endpoint names a group of routes for fault injection and counters.
type Endpoint string

// Endpoints.
const (
	// EndpointAuth is GET .../auths/{id} (confirm funds).
	EndpointAuth Endpoint = "auth"
	// EndpointSettle is POST .../auths/{id}/settlements.
	EndpointSettle Endpoint = "settle"
	// EndpointRefund is POST .../settlements/{id}/refunds.
	EndpointRefund Endpoint = "refund"
	// EndpointGet is GET .../settlements/{id} and .../refunds/{id} (poll).
	EndpointGet Endpoint = "get"
	// EndpointLookup is GET .../settlements and .../refunds by
	// merchantRefNum (reconcile).
	EndpointLookup Endpoint = "lookup"
	// EndpointCancel is PUT .../settlements/{id} and .../refunds/{id}.
	EndpointCancel Endpoint = "cancel"
	// EndpointAll applies SetFaults to every endpoint.
	EndpointAll Endpoint = "all"
)

// endpoints lists every real endpoint.
var endpoints = []Endpoint{EndpointAuth, EndpointSettle, EndpointRefund, EndpointGet, EndpointLookup, EndpointCancel}

var codeRE = regexp.MustCompile(`^[0-9]{1,6}$`)

// Faults are the failure knobs of one endpoint. Counters ("next N") are
// consumed one per call, in this precedence: HangNext, FailNext,
// FailPerMille, DropNext. LatencyMS applies to every call first. Faults act
// after the credentials are checked.
type Faults struct {
	// LatencyMS delays every answer by this many milliseconds.
	LatencyMS int `json:"latency_ms,omitempty"`
	// FailNext makes the next N calls fail without acting on the request.
	FailNext int `json:"fail_next,omitempty"`
	// FailStatus is the HTTP status of FailNext and FailPerMille answers
	// (400–599). Default 503, or 409 when FailCode is set.
	FailStatus int `json:"fail_status,omitempty"`
	// FailCode, when set, makes the failure a Paysafe error reply with this
	// code (for example "3417", another request in progress); otherwise
	// the answer is a plain-text gateway error.
	FailCode string `json:"fail_code,omitempty"`
	// FailPerMille makes each call fail with this probability in
	// thousandths (0–1000).
	FailPerMille int `json:"fail_per_mille,omitempty"`
	// HangNext makes the next N calls hold the connection without an
	// answer until the client gives up or the sandbox closes.
	HangNext int `json:"hang_next,omitempty"`
	// DropNext processes the next N calls normally (a settlement or refund
	// is created) but answers 502: the reply is lost after Paysafe acted,
	// recovered only by looking the transaction up by merchantRefNum.
	DropNext int `json:"drop_next,omitempty"`
}

// FaultsRequest is the body of PUT {prefix}/_sandbox/faults: Faults for an
// endpoint (auth, settle, refund, get, lookup, cancel or all). The faults
// replace the current ones.
type FaultsRequest struct {
	Endpoint Endpoint `json:"endpoint"`
	Faults
}

// FaultsState is the body of GET {prefix}/_sandbox/faults.
type FaultsState map[Endpoint]Faults

// Validate checks the knobs.
func (f Faults) Validate() error {
	var errs []error
	if f.LatencyMS < 0 || f.FailNext < 0 || f.HangNext < 0 || f.DropNext < 0 {
		errs = append(errs, errors.New("latency and counters must not be negative"))
	}
	if f.FailStatus != 0 && (f.FailStatus < 400 || f.FailStatus > 599) {
		errs = append(errs, fmt.Errorf("fail_status %d is not 4xx or 5xx", f.FailStatus))
	}
	if f.FailCode != "" && !codeRE.MatchString(f.FailCode) {
		errs = append(errs, fmt.Errorf("fail_code %q is not a numeric Paysafe error code", f.FailCode))
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

// faultPlan is what the fault knobs decided for one call.
type faultPlan struct {
	latency    time.Duration
	hang       bool
	failStatus int    // error answer without acting
	failCode   string // Paysafe error code of the failure, if any
	drop       bool
}

// plan consumes the knobs of f for one call; roll is a number in [0,1000).
func (f *Faults) plan(roll int) faultPlan {
	p := faultPlan{latency: time.Duration(f.LatencyMS) * time.Millisecond}
	failStatus := f.FailStatus
	if failStatus == 0 {
		failStatus = http.StatusServiceUnavailable
		if f.FailCode != "" {
			failStatus = http.StatusConflict
		}
	}
	switch {
	case f.HangNext > 0:
		f.HangNext--
		p.hang = true
	case f.FailNext > 0:
		f.FailNext--
		p.failStatus, p.failCode = failStatus, f.FailCode
	case roll < f.FailPerMille:
		p.failStatus, p.failCode = failStatus, f.FailCode
	case f.DropNext > 0:
		f.DropNext--
		p.drop = true
	}
	return p
}
