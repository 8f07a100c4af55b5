package miva

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
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
	plan := s.faults.Of(ep).plan(s.rng.IntN(1000))
	cnt := s.countersLocked(ep)
	plan.Count(&cnt.Hung, &cnt.Failed5xx, &cnt.Errored)
	if plan.Late {
		cnt.Late++
	}
	s.mu.Unlock()
	if !plan.Apply(r, s.closed, s.log, string(ep), func() {
		if plan.err != nil {
			s.writeJSON(w, http.StatusOK, errorResponse(plan.err))
			return
		}
		kit.WriteInjectedFailure(w, "miva", plan.FailStatus)
	}) {
		return
	}
	if plan.Late {
		// A late commit acts at the time it commits. Nothing below depends
		// on r.Context(): the client has usually left, the act goes on.
		now = s.cfg.Now()
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
		if out.entry != nil && plan.Drop {
			out.entry.ReplyDropped = true
		}
		if out.entry != nil && plan.Late {
			out.entry.LateCommit = true
		}
	}
	var entry Entry
	if out.entry != nil {
		entry = *out.entry
	}
	s.mu.Unlock()

	ev := s.log.Info().Str("function", function).Bool("reply_dropped", plan.Drop).Bool("late_commit", plan.Late)
	if entry.Seq != 0 {
		ev = ev.Int64("order_id", entry.OrderID).Int64("payment_id", entry.PaymentID).Int64("record_id", entry.RecordID).
			Str("amount", entry.Amount).Str("currency", entry.Currency)
	}
	if e != nil {
		ev = ev.Str("error_code", e.code)
	}
	ev.Msg("json api call")

	if plan.Drop {
		s.count(ep, func(c *EndpointCalls) { c.Dropped++ })
		if plan.dropStatus != 0 {
			http.Error(w, http.StatusText(plan.dropStatus)+" (reply dropped by the miva sandbox after processing)", plan.dropStatus)
			return
		}
		kit.WriteDropped(w, "miva")
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
