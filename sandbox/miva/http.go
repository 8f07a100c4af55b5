package miva

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"time"
)

func (s *Sandbox) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+s.cfg.Prefix+s.cfg.EndpointPath, s.handleAPI)
	s.adminRoutes(mux, s.cfg.Prefix+"/_sandbox")
	return mux
}

// handleAPI serves POST {prefix}/mm5/json.mvc: read the body, identify
// the Function, authenticate, check Store_code, consume the fault knobs,
// act under the lock, answer.
func (s *Sandbox) handleAPI(w http.ResponseWriter, r *http.Request) {
	body, status, ferr := s.readBody(w, r)
	if ferr != nil {
		s.count("", func(c *EndpointCalls) { c.Total++; c.BadRequest++ })
		s.writeJSON(w, status, errorResponse(ferr))
		return
	}
	p, err := parseParams(body)
	if err != nil {
		s.count("", func(c *EndpointCalls) { c.Total++; c.BadRequest++ })
		s.writeJSON(w, http.StatusOK, errorResponse(newErr(CodeInvalidRequest, "The request body is not a JSON object")))
		return
	}
	function := p.str("Function")
	ep := endpointOf(function)
	s.count(ep, func(c *EndpointCalls) { c.Total++ })

	now := s.cfg.Now()
	if e := s.authenticate(r, body, p, now); e != nil {
		s.count(ep, func(c *EndpointCalls) { c.Unauthorized++ })
		s.log.Warn().Str("function", function).Str("error_code", e.code).Msg("authentication failed")
		s.writeJSON(w, http.StatusOK, errorResponse(e))
		return
	}
	if code := p.str("Store_code"); code != s.cfg.StoreCode {
		s.count(ep, func(c *EndpointCalls) { c.BadRequest++ })
		s.writeJSON(w, http.StatusOK, errorResponse(newErr(CodeInvalidStore, "Store %q not found", code)))
		return
	}
	if ep == "" {
		s.count(ep, func(c *EndpointCalls) { c.BadRequest++ })
		s.writeJSON(w, http.StatusOK, errorResponse(newErr(CodeInvalidFunction, "Function %q is not supported", function)))
		return
	}

	s.mu.Lock()
	plan := s.faults[ep].plan(s.rng.IntN(1000))
	cnt := s.countersLocked(ep)
	switch {
	case plan.hang:
		cnt.Hung++
	case plan.failStatus != 0:
		cnt.Failed5xx++
	case plan.err != nil:
		cnt.Errored++
	}
	s.mu.Unlock()
	if !s.applyFaults(w, r, ep, plan) {
		return
	}

	s.mu.Lock()
	out, e := s.actLocked(function, p, now)
	cnt = s.countersLocked(ep)
	switch {
	case e != nil && e.business:
		cnt.Declined++
	case e != nil:
		cnt.BadRequest++
	default:
		cnt.Processed++
		if out.entry != nil && plan.drop {
			out.entry.ReplyDropped = true
		}
	}
	var entry Entry
	if out.entry != nil {
		entry = *out.entry
	}
	s.mu.Unlock()

	ev := s.log.Info().Str("function", function).Bool("reply_dropped", plan.drop)
	if entry.Seq != 0 {
		ev = ev.Int64("order_id", entry.OrderID).Int64("payment_id", entry.PaymentID).Int64("record_id", entry.RecordID).
			Str("amount", entry.Amount).Str("currency", entry.Currency)
	}
	if e != nil {
		ev = ev.Str("error_code", e.code)
	}
	ev.Msg("json api call")

	if plan.drop {
		s.count(ep, func(c *EndpointCalls) { c.Dropped++ })
		http.Error(w, "Bad Gateway (reply dropped by the miva sandbox after processing)", http.StatusBadGateway)
		return
	}
	if e != nil {
		s.writeJSON(w, http.StatusOK, errorResponse(e))
		return
	}
	s.writeJSON(w, http.StatusOK, Response{Success: 1, Data: out.data})
}

// readBody checks the content type and size and reads the body.
func (s *Sandbox) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int, *apiError) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, http.StatusUnsupportedMediaType, newErr(CodeInvalidRequest, "Content-Type must be application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, http.StatusRequestEntityTooLarge, newErr(CodeInvalidRequest, "The request body exceeds the size limit")
		}
		return nil, http.StatusBadRequest, newErr(CodeInvalidRequest, "The request body could not be read")
	}
	return body, 0, nil
}

func errorResponse(e *apiError) Response {
	return Response{Success: 0, ErrorCode: e.code, ErrorMessage: e.message}
}

// writeJSON encodes v as the reply.
func (s *Sandbox) writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.log.Error().Err(err).Msg("encoding reply")
		status = http.StatusInternalServerError
		body = []byte(`{"success":0,"error_code":"internal_error","error_message":"reply encoding failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// applyFaults runs the pre-processing part of a fault plan. It returns
// false when the call was answered (or abandoned) by a fault.
func (s *Sandbox) applyFaults(w http.ResponseWriter, r *http.Request, ep Endpoint, p faultPlan) bool {
	if p.latency > 0 && !s.sleep(r, p.latency) {
		return false
	}
	switch {
	case p.hang:
		s.log.Info().Str("endpoint", string(ep)).Msg("fault: hanging the call")
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		// Drop the connection without an answer, as a dead server would.
		panic(http.ErrAbortHandler)
	case p.failStatus != 0:
		http.Error(w, http.StatusText(p.failStatus)+" (injected by the miva sandbox)", p.failStatus)
		return false
	case p.err != nil:
		s.writeJSON(w, http.StatusOK, errorResponse(p.err))
		return false
	}
	return true
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
