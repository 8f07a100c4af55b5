package paysafe

import (
	"fmt"
	"net/http"
	"regexp"

	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
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
// consumed one per call, in this precedence: HangNext, FailNext, LateNext,
// then one roll against FailPerMille, LatePerMille, HangPerMille and
// DropPerMille (in that order), then DropNext. LatencyMS applies to every
// call first. Faults act after the credentials are checked.
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
	// LateNext makes the next N calls commit late: the sandbox waits LateMS
	// whether or not the client is still there, then acts (a settlement or
	// refund is created) and answers a client that has usually left. Only a
	// lookup by merchantRefNum after the settle window finds it.
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
	var failCode error
	if f.FailCode != "" && !codeRE.MatchString(f.FailCode) {
		failCode = fmt.Errorf("fail_code %q is not a numeric Paysafe error code", f.FailCode)
	}
	return f.knobs().Validate(true, failCode)
}

// faultPlan is what the fault knobs decided for one call.
type faultPlan struct {
	kit.Plan
	failCode string // Paysafe error code of the failure, if any
}

// knobs is the view of f's shared knobs that kit plans and validates.
func (f *Faults) knobs() kit.Knobs {
	return kit.Knobs{LatencyMS: f.LatencyMS, FailStatus: f.FailStatus, FailPerMille: f.FailPerMille,
		HangNext: &f.HangNext, FailNext: &f.FailNext, DropNext: &f.DropNext,
		LateNext: &f.LateNext, LateMS: f.LateMS, LatePerMille: f.LatePerMille, HangPerMille: f.HangPerMille, DropPerMille: f.DropPerMille}
}

// plan consumes the knobs of f for one call; roll is a number in [0,1000).
func (f *Faults) plan(roll int) faultPlan {
	k := f.knobs()
	if k.FailStatus == 0 && f.FailCode != "" {
		k.FailStatus = http.StatusConflict
	}
	p := faultPlan{Plan: k.Plan(roll)}
	if p.FailStatus != 0 {
		p.failCode = f.FailCode
	}
	return p
}
