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
	plan      faultPlan
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
	c.plan = s.faults[ep].plan(s.rng.IntN(1000))
	ec := s.countersLocked(ep)
	switch {
	case c.plan.hang:
		ec.Hung++
	case c.plan.failStatus != 0:
		ec.Failed5xx++
	}
	s.mu.Unlock()
	if c.plan.latency > 0 && !s.sleep(r, c.plan.latency) {
		return nil
	}
	switch {
	case c.plan.hang:
		s.log.Info().Str("endpoint", string(ep)).Msg("fault: hanging the call")
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		// Drop the connection without an answer, as a dead server would.
		panic(http.ErrAbortHandler)
	case c.plan.failStatus != 0:
		s.writeError(c, &apiError{code: CodeInternalError, status: c.plan.failStatus,
			message: "injected by the frisbii sandbox; retry with the same idempotency key"})
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

// sleep waits d unless the client leaves or the sandbox closes.
func (s *Sandbox) sleep(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.closed:
		return false
	}
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
	writeJSON(c.w, status, ErrorBody{
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

// dropReply answers 502 after the operation was performed (drop_next).
func (s *Sandbox) dropReply(c *apiCall) {
	s.count(c.ep, func(ec *EndpointCalls) { ec.Dropped++ })
	http.Error(c.w, "Bad Gateway (reply dropped by the frisbii sandbox after processing)", http.StatusBadGateway)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
