package frisbii

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"

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
	c.plan = s.faults.Of(ep).plan(s.rng.IntN(1000))
	ec := s.countersLocked(ep)
	c.plan.Count(&ec.Hung, &ec.Failed5xx, nil)
	s.mu.Unlock()
	if !c.plan.Apply(r, s.closed, s.log, string(ep), func() {
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
