package paysafe

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
)

// APIPath is the Card Payments API root below the prefix.
const APIPath = "/cardpayments/v1"

func (s *Sandbox) routes() http.Handler {
	p := s.cfg.Prefix
	a := p + APIPath + "/accounts/{account}"
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+p+"/cardpayments/monitor", func(w http.ResponseWriter, _ *http.Request) {
		kit.WriteJSON(w, http.StatusOK, map[string]string{"status": "READY"})
	})
	mux.HandleFunc("GET "+a+"/auths/{id}", s.handleGetAuth)
	mux.HandleFunc("POST "+a+"/auths/{id}/settlements", s.handleSettle)
	mux.HandleFunc("GET "+a+"/settlements", s.lookupHandler(KindSettlement))
	mux.HandleFunc("GET "+a+"/settlements/{id}", s.getHandler(KindSettlement))
	mux.HandleFunc("PUT "+a+"/settlements/{id}", s.cancelHandler(KindSettlement))
	mux.HandleFunc("POST "+a+"/settlements/{id}/refunds", s.handleRefund)
	mux.HandleFunc("GET "+a+"/refunds", s.lookupHandler(KindRefund))
	mux.HandleFunc("GET "+a+"/refunds/{id}", s.getHandler(KindRefund))
	mux.HandleFunc("PUT "+a+"/refunds/{id}", s.cancelHandler(KindRefund))
	s.adminRoutes(mux, p+"/_sandbox")
	return mux
}

// checkAuth compares the basic credentials in constant time.
func (s *Sandbox) checkAuth(r *http.Request) bool {
	u, p, ok := r.BasicAuth()
	if !ok {
		return false
	}
	uok := subtle.ConstantTimeCompare([]byte(u), []byte(s.cfg.Username)) == 1
	pok := subtle.ConstantTimeCompare([]byte(p), []byte(s.cfg.Password)) == 1
	return uok && pok
}

// begin counts the call, checks the credentials and consumes the fault
// knobs. It returns false when the call has been answered.
func (s *Sandbox) begin(w http.ResponseWriter, r *http.Request, ep Endpoint) (faultPlan, bool) {
	s.count(ep, func(c *EndpointCalls) { c.Total++ })
	if !s.checkAuth(r) {
		s.count(ep, func(c *EndpointCalls) { c.Unauthorized++ })
		w.Header().Set("WWW-Authenticate", `Basic realm="Paysafe API"`)
		writeError(w, &refusal{status: http.StatusUnauthorized, code: CodeInvalidCredentials,
			message: "The authentication credentials are invalid."}, "")
		return faultPlan{}, false
	}
	s.mu.Lock()
	p := s.faults.Of(ep).plan(s.rng.IntN(1000))
	cnt := s.countersLocked(ep)
	p.Count(&cnt.Hung, &cnt.Failed, nil)
	if p.Late {
		cnt.Late++
	}
	s.mu.Unlock()
	if p.Late {
		// The late commit acts after the client has usually left: take
		// the body now, while the connection is surely there, so that
		// nothing after the wait depends on the request or its context.
		r.Body = buffered(r.Body, s.cfg.MaxBodyBytes)
	}
	ok := p.Apply(r, s.closed, s.log, string(ep), func() {
		if p.failCode != "" {
			writeError(w, &refusal{status: p.FailStatus, code: p.failCode, message: injectedMessage(p.failCode)}, "")
			return
		}
		kit.WriteInjectedFailure(w, "paysafe", p.FailStatus)
	})
	return p, ok
}

// injectedMessage is the message of an injected coded failure.
func injectedMessage(code string) string {
	if code == CodeInProgress {
		return "Another request for this transaction is already in progress. Retry later."
	}
	return "The request failed (error injected by the paysafe sandbox)."
}

// readRequest decodes a JSON body strictly into v, answering 400/413/415
// itself when it cannot.
func (s *Sandbox) readRequest(w http.ResponseWriter, r *http.Request, ep Endpoint, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			s.count(ep, func(c *EndpointCalls) { c.BadRequest++ })
			writeError(w, &refusal{status: http.StatusUnsupportedMediaType, code: CodeNotParseable,
				message: "The Content-Type must be application/json."}, "")
			return false
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		status := http.StatusBadRequest
		if errors.As(err, &tooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		s.count(ep, func(c *EndpointCalls) { c.BadRequest++ })
		writeError(w, &refusal{status: status, code: CodeNotParseable, message: "The request body could not be read."}, "")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		s.count(ep, func(c *EndpointCalls) { c.BadRequest++ })
		rf := &refusal{status: http.StatusBadRequest, code: CodeNotParseable, message: "You submitted a request that is not parseable."}
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			rf.code, rf.message = CodeFieldErrors, "Field error(s)"
			rf.fieldErrors = []FieldError{{Field: typeErr.Field, Error: "has an invalid type or value"}}
		}
		writeError(w, rf, err.Error())
		return false
	}
	return true
}

// answerRefusal counts and writes a ledger refusal.
func (s *Sandbox) answerRefusal(w http.ResponseWriter, r *http.Request, ep Endpoint, rf *refusal) {
	s.count(ep, func(c *EndpointCalls) {
		switch {
		case rf.status == http.StatusNotFound:
			c.NotFound++
		case rf.code == CodeFieldErrors || rf.code == CodeNotParseable:
			c.BadRequest++
		default:
			c.Refused++
		}
	})
	var links []Link
	if rf.existing != nil {
		links = []Link{{Rel: "existing_entity", Href: s.selfHref(r, rf.existing)}}
	}
	writeErrorLinks(w, rf, "", links)
}

// writeError writes a Paysafe error reply with the code in the body and in
// the X-Application-Status-Code header.
func writeError(w http.ResponseWriter, rf *refusal, detail string) {
	writeErrorLinks(w, rf, detail, nil)
}

func writeErrorLinks(w http.ResponseWriter, rf *refusal, detail string, links []Link) {
	e := ErrorReply{Error: APIError{
		Code:        rf.code,
		Message:     rf.message,
		FieldErrors: rf.fieldErrors,
		Links:       []Link{{Rel: "errorinfo", Href: ErrorInfoBase + rf.code}},
	}, Links: links}
	if detail != "" {
		e.Error.Details = []string{detail}
	}
	w.Header().Set(HeaderStatusCode, rf.code)
	kit.WriteJSON(w, rf.status, e)
}

// dropReply answers 502 after the request was processed ("act then drop").
func (s *Sandbox) dropReply(w http.ResponseWriter, ep Endpoint) {
	s.count(ep, func(c *EndpointCalls) { c.Dropped++ })
	kit.WriteDropped(w, "paysafe")
}

// baseURL is the scheme, host and prefix the links of a reply start with.
func (s *Sandbox) baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + s.cfg.Prefix
}

// selfHref is the link of a settlement or refund.
func (s *Sandbox) selfHref(r *http.Request, e *entry) string {
	return s.baseURL(r) + APIPath + "/accounts/" + e.AccountID + "/" + e.Kind + "s/" + e.ID
}

// settlementView renders a settlement as Paysafe answers it.
func (s *Sandbox) settlementView(r *http.Request, e *entry) Settlement {
	return Settlement{
		Links:             []Link{{Rel: "self", Href: s.selfHref(r, e)}},
		ID:                e.ID,
		MerchantRefNum:    e.MerchantRefNum,
		TxnTime:           e.TxnTime.Format(time.RFC3339),
		Status:            e.Status,
		Amount:            e.Amount,
		AvailableToRefund: e.AvailableToRefund,
		Error:             failureOf(e),
	}
}

// refundView renders a refund as Paysafe answers it.
func (s *Sandbox) refundView(r *http.Request, e *entry) Refund {
	return Refund{
		Links:          []Link{{Rel: "self", Href: s.selfHref(r, e)}},
		ID:             e.ID,
		MerchantRefNum: e.MerchantRefNum,
		TxnTime:        e.TxnTime.Format(time.RFC3339),
		Status:         e.Status,
		Amount:         e.Amount,
		Error:          failureOf(e),
	}
}

func (s *Sandbox) view(r *http.Request, e *entry) any {
	if e.Kind == KindRefund {
		return s.refundView(r, e)
	}
	return s.settlementView(r, e)
}

func failureOf(e *entry) *APIError {
	if e.Status != StatusFailed {
		return nil
	}
	return &APIError{Code: CodeDeclined, Message: e.FailureMessage}
}

// buffered reads up to limit+1 bytes of body into memory and returns a
// reader of them (then of the read error, if any), so that a handler can
// read the body after its client left.
func buffered(body io.ReadCloser, limit int64) io.ReadCloser {
	if body == nil || body == http.NoBody {
		return body
	}
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	_ = body.Close()
	var rest io.Reader = bytes.NewReader(data)
	if err != nil {
		rest = io.MultiReader(rest, errReader{err})
	}
	return io.NopCloser(rest)
}

// errReader returns err on every read.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
