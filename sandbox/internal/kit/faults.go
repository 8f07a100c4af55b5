package kit

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Knobs is a view of the fault knobs every sandbox's Faults has: the values
// Plan reads and, by address, the "next N" counters it consumes in place.
type Knobs struct {
	// LatencyMS delays every answer.
	LatencyMS int
	// FailStatus is the status of fail answers; 0 means 503.
	FailStatus int
	// FailPerMille is the probability of a fail answer, in thousandths.
	FailPerMille int
	// HangNext, FailNext and DropNext are the shared counters. OwnNext, nil
	// when the sandbox has none, is its own kind of answer without acting
	// (a Radial Fault, a Miva error body): Plan.Own says it fired.
	HangNext, FailNext, OwnNext, DropNext *int
	// LateNext (nil when the sandbox has none) makes the next N calls
	// commit late: the sandbox waits LateMS whether or not the client is
	// still there, then acts (a capture really captures) and answers a
	// client that has usually given up by then. This is the unfavourable
	// case a client timeout cannot rule out: the provider committed after
	// the client stopped waiting.
	LateNext *int
	// LateMS is the wait of a late commit (0: 2 seconds).
	LateMS int
	// LatePerMille, HangPerMille and DropPerMille are the probabilities, in
	// thousandths, of a late commit, a hung call and a dropped answer (act,
	// then 502), for chaos runs. With FailPerMille they share one roll, so
	// their sum must be at most 1000.
	LatePerMille, HangPerMille, DropPerMille int
}

// Validate checks the knobs: no negative latency or counter, a FailStatus
// that is 0 or 5xx (or 4xx too when allow4xx), a FailPerMille within
// 0–1000. more are the sandbox's own problems with its other knobs (nil
// when none), reported after FailStatus's.
func (k Knobs) Validate(allow4xx bool, more ...error) error {
	var errs []error
	if k.LatencyMS < 0 || k.LateMS < 0 || negative(k.HangNext) || negative(k.FailNext) || negative(k.OwnNext) || negative(k.DropNext) || negative(k.LateNext) {
		errs = append(errs, errors.New("latency and counters must not be negative"))
	}
	switch {
	case k.FailStatus == 0:
	case allow4xx && (k.FailStatus < 400 || k.FailStatus > 599):
		errs = append(errs, fmt.Errorf("fail_status %d is not 4xx or 5xx", k.FailStatus))
	case !allow4xx && (k.FailStatus < 500 || k.FailStatus > 599):
		errs = append(errs, fmt.Errorf("fail_status %d is not 5xx", k.FailStatus))
	}
	errs = append(errs, more...)
	if k.FailPerMille < 0 || k.FailPerMille > 1000 {
		errs = append(errs, fmt.Errorf("fail_per_mille %d is not within 0–1000", k.FailPerMille))
	}
	if k.LatePerMille < 0 || k.HangPerMille < 0 || k.DropPerMille < 0 ||
		(k.FailPerMille <= 1000 && k.FailPerMille+k.LatePerMille+k.HangPerMille+k.DropPerMille > 1000) {
		errs = append(errs, fmt.Errorf("per-mille probabilities must not be negative and must add up to at most 1000"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("faults: %w", err)
	}
	return nil
}

func negative(n *int) bool { return n != nil && *n < 0 }

// Plan is what the fault knobs decided for one call.
type Plan struct {
	Latency    time.Duration
	Hang       bool // hold the connection, never answer
	FailStatus int  // fail answer with this status, without acting
	Own        bool // the sandbox's own fault answer, without acting
	Drop       bool // act, then answer 502
	Late       bool // wait LateDelay even if the client leaves, then act
	LateDelay  time.Duration
}

// Plan consumes the knobs for one call; roll is a number in [0,1000). At
// most one counter is consumed, in this precedence: HangNext, FailNext,
// OwnNext, LateNext, then one roll against FailPerMille, LatePerMille,
// HangPerMille and DropPerMille (in that order), then DropNext.
func (k Knobs) Plan(roll int) Plan {
	p := Plan{Latency: time.Duration(k.LatencyMS) * time.Millisecond}
	failStatus := k.FailStatus
	if failStatus == 0 {
		failStatus = http.StatusServiceUnavailable
	}
	switch {
	case take(k.HangNext):
		p.Hang = true
	case take(k.FailNext):
		p.FailStatus = failStatus
	case take(k.OwnNext):
		p.Own = true
	case take(k.LateNext):
		p.Late = true
	case roll < k.FailPerMille:
		p.FailStatus = failStatus
	case roll < k.FailPerMille+k.LatePerMille:
		p.Late = true
	case roll < k.FailPerMille+k.LatePerMille+k.HangPerMille:
		p.Hang = true
	case roll < k.FailPerMille+k.LatePerMille+k.HangPerMille+k.DropPerMille:
		p.Drop = true
	case take(k.DropNext):
		p.Drop = true
	}
	if p.Late {
		p.LateDelay = time.Duration(k.LateMS) * time.Millisecond
		if p.LateDelay == 0 {
			p.LateDelay = 2 * time.Second
		}
	}
	return p
}

// take consumes one from a positive counter n.
func take(n *int) bool {
	if n == nil || *n <= 0 {
		return false
	}
	*n--
	return true
}

// Count adds p's fault answer to its counter: hung, failed, or own (nil
// when the sandbox does not count its own faults).
func (p Plan) Count(hung, failed, own *int) {
	switch {
	case p.Hang:
		*hung++
	case p.FailStatus != 0:
		*failed++
	case p.Own && own != nil:
		*own++
	}
}

// Apply runs the part of p that comes before the call acts: it waits
// p.Latency, then either hangs until the client leaves or closed is closed
// (and drops the connection without an answer, as a dead server would), or,
// for a FailStatus or Own plan, lets answer write the fault's answer. It
// reports whether the call goes on to act.
func (p Plan) Apply(r *http.Request, closed <-chan struct{}, log zerolog.Logger, endpoint string, answer func()) bool {
	if p.Latency > 0 && !sleep(r, p.Latency, closed) {
		return false
	}
	if p.Late {
		log.Info().Str("endpoint", endpoint).Dur("delay", p.LateDelay).Msg("fault: committing late, whether or not the client waits")
		t := time.NewTimer(p.LateDelay)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-closed:
			return false
		}
	}
	switch {
	case p.Hang:
		log.Info().Str("endpoint", endpoint).Msg("fault: hanging the call")
		select {
		case <-r.Context().Done():
		case <-closed:
		}
		panic(http.ErrAbortHandler)
	case p.FailStatus != 0 || p.Own:
		answer()
		return false
	}
	return true
}

// sleep waits d unless the client leaves or closed is closed.
func sleep(r *http.Request, d time.Duration, closed <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-closed:
		return false
	}
}

// WriteInjectedFailure answers status with a plain-text body naming the
// sandbox (name, for example "radial") as its cause.
func WriteInjectedFailure(w http.ResponseWriter, name string, status int) {
	http.Error(w, http.StatusText(status)+" (injected by the "+name+" sandbox)", status)
}

// WriteDropped answers 502 after the call acted (a drop_next fault).
func WriteDropped(w http.ResponseWriter, name string) {
	http.Error(w, "Bad Gateway (reply dropped by the "+name+" sandbox after processing)", http.StatusBadGateway)
}

// FaultSet holds the fault knobs F of each endpoint E of a sandbox. It does
// not lock: the sandbox guards it with its own mutex.
type FaultSet[E ~string, F any] struct {
	all       E
	endpoints []E
	knobs     map[E]*F
}

// NewFaultSet returns zero knobs for each of endpoints; all is the name
// that addresses every endpoint in Set.
func NewFaultSet[E ~string, F any](all E, endpoints ...E) FaultSet[E, F] {
	s := FaultSet[E, F]{all: all, endpoints: endpoints, knobs: make(map[E]*F, len(endpoints))}
	for _, ep := range endpoints {
		s.knobs[ep] = new(F)
	}
	return s
}

// Set replaces the knobs of ep, or of every endpoint when ep is all, with
// f. It refuses an unknown endpoint, then what validate finds wrong with f.
func (s *FaultSet[E, F]) Set(ep E, f F, validate func(F) error) error {
	if _, ok := s.knobs[ep]; !ok && ep != s.all {
		names := make([]string, len(s.endpoints))
		for i, e := range s.endpoints {
			names[i] = string(e)
		}
		return fmt.Errorf("faults: unknown endpoint %q (%s or %s)", ep, strings.Join(names, ", "), s.all)
	}
	if err := validate(f); err != nil {
		return err
	}
	for _, e := range s.endpoints {
		if ep == s.all || ep == e {
			c := f
			s.knobs[e] = &c
		}
	}
	return nil
}

// Of returns the knobs of ep, for a call to consume (nil for an unknown
// endpoint).
func (s *FaultSet[E, F]) Of(ep E) *F { return s.knobs[ep] }

// Get returns a copy of the knobs of ep as they are now.
func (s *FaultSet[E, F]) Get(ep E) F { return *s.knobs[ep] }

// All returns a copy of every endpoint's knobs.
func (s *FaultSet[E, F]) All() map[E]F {
	out := make(map[E]F, len(s.knobs))
	for e, f := range s.knobs {
		out[e] = *f
	}
	return out
}
