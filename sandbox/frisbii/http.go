package frisbii

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
)

func (s *Sandbox) routes() http.Handler {
	p := s.cfg.Prefix
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+p+"/v1/charge/{handle}", s.handleGetCharge)
	mux.HandleFunc("POST "+p+"/v1/charge/{handle}/settle", s.handleSettle)
	mux.HandleFunc("POST "+p+"/v1/refund", s.handleRefund)
	mux.HandleFunc("GET "+p+"/v1/refund/{id}", s.handleGetRefund)
	s.adminRoutes(mux, p+"/_sandbox")
	return mux
}

// apiCall is one API call being answered.
type apiCall struct {
	w         http.ResponseWriter
	r         *http.Request
	ep        Endpoint
	requestID string
	plan      kit.Plan
}

// begin counts the call, sets Request-Id, checks basic auth and consumes
// the fault knobs. It returns nil when the call has been answered.
func (s *Sandbox) begin(w http.ResponseWriter, r *http.Request, ep Endpoint) *apiCall {
	c := &apiCall{w: w, r: r, ep: ep, requestID: uuid.NewString()}
	// Frisbii: "All responses will contain a unique request identifier in
	// the HTTP headers with name Request-Id."
	w.Header().Set("Request-Id", c.requestID)
	s.count(ep, func(ec *EndpointCalls) { ec.Total++ })
	if !s.authenticated(r) {
		s.count(ep, func(ec *EndpointCalls) { ec.Unauthorized++ })
		w.Header().Set("WWW-Authenticate", `Basic realm="frisbii-sandbox"`)
		s.writeError(c, newAPIError(CodeNotAuthenticated, "send the private API key as the HTTP basic auth user name with an empty password"))
		return nil
	}
	s.mu.Lock()
	if scripted := s.faults.Of(ep).scriptedError(); scripted != nil {
		s.mu.Unlock()
		s.writeError(c, scripted)
		return nil
	}
	if s.faults.Of(ep).garbled() {
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"id":"garbled by the frisbii sandbox (garble_next)","state":`))
		return nil
	}
	c.plan = s.faults.Of(ep).plan(s.rng.IntN(1000))
	ec := s.countersLocked(ep)
	c.plan.Count(&ec.Hung, &ec.Failed5xx, nil)
	s.mu.Unlock()
	// A late commit waits in lateWait, after the handler has read the
	// request, so that the act depends on nothing of the (by then usually
	// cancelled) request.
	early := c.plan
	early.Late = false
	if !early.Apply(r, s.closed, s.log, string(ep), func() {
		s.writeError(c, &apiError{code: CodeInternalError, status: c.plan.FailStatus,
			message: "injected by the frisbii sandbox; retry with the same idempotency key"})
	}) {
		return nil
	}
	return c
}

// authenticated checks HTTP basic auth: Frisbii's private API key is "the
// HTTP Basic Auth username. No password needs to be provided."
func (s *Sandbox) authenticated(r *http.Request) bool {
	user, _, ok := r.BasicAuth()
	return ok && user != "" && subtle.ConstantTimeCompare([]byte(user), []byte(s.cfg.APIKey)) == 1
}

func (s *Sandbox) countersLocked(ep Endpoint) *EndpointCalls {
	switch ep {
	case EndpointCharge:
		return &s.calls.Charge
	case EndpointSettle:
		return &s.calls.Settle
	case EndpointRefund:
		return &s.calls.Refund
	default:
		return &s.calls.RefundGet
	}
}

func (s *Sandbox) count(ep Endpoint, f func(*EndpointCalls)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.countersLocked(ep))
}

// readBody checks the content type and size and decodes the JSON body into
// v. Unknown fields are ignored (Frisbii's API is open for extension).
func (s *Sandbox) readBody(c *apiCall, v any) *apiError {
	if ct := c.r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return &apiError{code: CodeInvalidRequest, status: http.StatusUnsupportedMediaType, message: "Content-Type must be application/json"}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return &apiError{code: CodeInvalidRequest, status: http.StatusRequestEntityTooLarge, message: "request body exceeds the size limit"}
		}
		return newAPIError(CodeInvalidRequest, "request body could not be read")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return newAPIError(CodeInvalidRequest, "request body is not valid JSON for this operation")
	}
	return nil
}

// writeError answers with Frisbii's error body and counts 4xx answers.
func (s *Sandbox) writeError(c *apiCall, e *apiError) {
	status := e.httpStatus()
	if status >= 400 && status < 500 && status != http.StatusUnauthorized {
		s.count(c.ep, func(ec *EndpointCalls) { ec.ClientErrors++ })
	}
	kit.WriteJSON(c.w, status, ErrorBody{
		Code:       e.code,
		Error:      errorTexts[e.code],
		Message:    e.message,
		Path:       c.r.URL.Path,
		Timestamp:  timestamp(s.cfg.Now()),
		HTTPStatus: status,
		HTTPReason: http.StatusText(status),
		RequestID:  c.requestID,
	})
}

// outcome is what one settle or refund call decided; T is its answer,
// Charge or Refund.
type outcome[T any] struct {
	resp     T
	err      *apiError
	entry    *Entry // created by this call
	replay   bool
	conflict bool
	declined bool
}

type (
	settleResult = outcome[Charge]
	refundResult = outcome[Refund]
)

// countLocked counts the call on ec and marks the entry it created when its
// reply is dropped.
func (o outcome[T]) countLocked(ec *EndpointCalls, dropped bool) {
	switch {
	case o.conflict:
		ec.Conflicts++
	case o.replay:
		ec.Replays++
	case o.err == nil:
		ec.Processed++
	}
	if o.declined {
		ec.Declined++
	}
	if o.entry != nil && dropped {
		o.entry.ReplyDropped = true
	}
}

// answer logs the call as msg (ev names it; state and errorState are its
// answer's) and answers it: a dropped reply, the error, or the answer.
func (o outcome[T]) answer(s *Sandbox, c *apiCall, ev *zerolog.Event, msg, state, errorState string) {
	ev = ev.Bool("replay", o.replay).Bool("reply_dropped", c.plan.Drop)
	if o.err != nil {
		ev = ev.Int("error_code", o.err.code)
	} else {
		ev = ev.Str("state", state).Str("error_state", errorState)
	}
	ev.Msg(msg)
	switch {
	case c.plan.Drop:
		s.dropReply(c)
	case o.err != nil:
		s.writeError(c, o.err)
	default:
		kit.WriteJSON(c.w, http.StatusOK, o.resp)
	}
}

// dropReply answers 502 after the operation was performed (drop_next).
func (s *Sandbox) dropReply(c *apiCall) {
	s.count(c.ep, func(ec *EndpointCalls) { ec.Dropped++ })
	kit.WriteDropped(c.w, "frisbii")
}

// flightKey names an idempotency key in flight on an endpoint.
type flightKey struct {
	ep  Endpoint
	key string
}

// startLocked is called, with s.mu held, before a money-moving call with
// idempotency key key acts. If a call with the same key is still in flight
// (a late commit waiting), it answers 409, error 74 "Concurrent resource
// update", and returns false: the repeat neither acts nor waits (sandbox
// choice; seed 002 says only that "multiple requests with the same key will
// yield the same result", not how a concurrent one is answered). Otherwise,
// for a late-commit plan it marks the key in flight, releases s.mu, waits
// LateDelay whether or not the client is still there, and takes s.mu again
// (done must then be called). An empty key is never tracked.
func (s *Sandbox) startLocked(c *apiCall, key string) (ok bool, done func()) {
	fk := flightKey{c.ep, key}
	if key != "" && s.inFlight[fk] {
		ec := s.countersLocked(c.ep)
		ec.InFlight++
		ec.Conflicts++
		s.mu.Unlock()
		s.writeError(c, newAPIError(CodeConcurrentUpdate, "a request with idempotency key "+key+
			" is still being processed; retry with the same key later"))
		s.mu.Lock()
		return false, func() {}
	}
	if !c.plan.Late {
		return true, func() {}
	}
	s.countersLocked(c.ep).Late++
	if key != "" {
		s.inFlight[fk] = true
	}
	s.mu.Unlock()
	s.log.Info().Str("endpoint", string(c.ep)).Dur("delay", c.plan.LateDelay).Msg("fault: committing late, whether or not the client waits")
	t := time.NewTimer(c.plan.LateDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.closed:
		// The sandbox is closing: drop the connection without acting, as
		// a dead server would.
		s.mu.Lock()
		delete(s.inFlight, fk)
		s.mu.Unlock()
		panic(http.ErrAbortHandler)
	}
	s.mu.Lock()
	return true, func() { delete(s.inFlight, fk) }
}
