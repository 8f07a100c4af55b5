package radial

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/money"
	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
)

// Fault codes the sandbox answers with.
const (
	FaultInvalidAPIKey        = "InvalidApiKey"
	FaultMalformedRequest     = "MalformedRequest"
	FaultValidation           = "ValidationFailed"
	FaultInvalidTenderType    = "InvalidTenderType"
	FaultInvalidStoreID       = "InvalidStoreId"
	FaultUnsupportedFormat    = "UnsupportedFormat"
	FaultUnsupportedMediaType = "UnsupportedMediaType"
	FaultRequestTooLarge      = "RequestTooLarge"
	FaultDuplicateRequestID   = "DuplicateRequestIdMismatch"
	FaultInjected             = "ServiceFault"
	FaultInternal             = "InternalError"
)

var (
	versionRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+$`)
	tenderRE  = regexp.MustCompile(`^[A-Za-z0-9]{2,4}$`)
)

// maxStoreIDLen is PaymentSettlementStatus/StoreId's maximum length.
const maxStoreIDLen = 100

func (s *Sandbox) routes() http.Handler {
	p := s.cfg.Prefix
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+p+"/{version}/stores/{store}/payments/funds/confirm/{file}", s.handleConfirm)
	mux.HandleFunc("POST "+p+"/{version}/stores/{store}/payments/settlement/create/{file}", s.handleSettle)
	s.adminRoutes(mux, p+"/_sandbox")
	return mux
}

// apiCall is what every Radial endpoint extracts before acting.
type apiCall struct {
	version, store, tender, format string
}

// parseRoute checks the URL's version, store and {TenderType}.{format}.
func parseRoute(r *http.Request) (apiCall, *messages.Fault, int) {
	c := apiCall{version: r.PathValue("version"), store: r.PathValue("store")}
	if !versionRE.MatchString(c.version) {
		return c, fault(FaultMalformedRequest, "version must look like v1.0"), http.StatusNotFound
	}
	if c.store == "" || len(c.store) > maxStoreIDLen {
		return c, fault(FaultInvalidStoreID, "StoreId must be 1 to 100 characters"), http.StatusBadRequest
	}
	file := r.PathValue("file")
	dot := strings.LastIndexByte(file, '.')
	if dot < 0 {
		return c, fault(FaultUnsupportedFormat, "the URL must end with {TenderType}.xml"), http.StatusNotFound
	}
	c.tender, c.format = file[:dot], file[dot+1:]
	if !tenderRE.MatchString(c.tender) {
		return c, fault(FaultInvalidTenderType, "TenderType must be 2 to 4 letters or digits"), http.StatusBadRequest
	}
	if c.format != "xml" {
		return c, fault(FaultUnsupportedFormat, "format "+c.format+" is not supported; use xml"), http.StatusBadRequest
	}
	return c, nil, 0
}

func fault(code, desc string) *messages.Fault {
	return &messages.Fault{Code: code, Description: desc}
}

// checkAPIKey compares the apikey header in constant time.
func (s *Sandbox) checkAPIKey(r *http.Request) bool {
	got := r.Header.Get("apikey")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.APIKey)) == 1
}

// readXMLBody checks the content type and size and reads the body.
func (s *Sandbox) readXMLBody(w http.ResponseWriter, r *http.Request) ([]byte, *messages.Fault, int) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/xml" && mt != "text/xml") {
		return nil, fault(FaultUnsupportedMediaType, "Content-Type must be application/xml"), http.StatusUnsupportedMediaType
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, fault(FaultRequestTooLarge, "request body exceeds the size limit"), http.StatusRequestEntityTooLarge
		}
		return nil, fault(FaultMalformedRequest, "request body could not be read"), http.StatusBadRequest
	}
	return body, nil, 0
}

// xmlRequest describes the XML request an endpoint takes.
type xmlRequest[R interface{ Validate() error }] struct {
	root   string // its root element, named in Faults
	what   string // its name in logs
	decode func([]byte) (R, error)
	amount func(R) messages.Amount
}

var (
	confirmRequest = xmlRequest[*messages.ConfirmFundsRequest]{
		root: "ConfirmFundsRequest", what: "confirm funds request", decode: messages.DecodeConfirmFundsRequest,
		amount: func(q *messages.ConfirmFundsRequest) messages.Amount { return q.Amount },
	}
	settleRequest = xmlRequest[*messages.PaymentSettlementRequest]{
		root: "PaymentSettlementRequest", what: "settlement request", decode: messages.DecodeSettlementRequest,
		amount: func(q *messages.PaymentSettlementRequest) messages.Amount { return q.Amount },
	}
)

// read reads, decodes and validates the request of a call begin let
// through, and parses its amount and fingerprints it. When the request
// cannot be acted on, it answers with a Fault itself and ok is false.
func (x xmlRequest[R]) read(s *Sandbox, w http.ResponseWriter, r *http.Request, ep Endpoint, c apiCall) (req R, amount money.Money, fp string, ok bool) {
	body, f, status := s.readXMLBody(w, r)
	if f != nil {
		s.count(ep, func(c *EndpointCalls) { c.BadRequest++ })
		s.writeXML(w, status, f)
		return req, amount, fp, false
	}
	req, err := x.decode(body)
	if err != nil {
		s.badRequest(w, ep, FaultMalformedRequest, x.root+" could not be parsed: "+err.Error())
		return req, amount, fp, false
	}
	if err := req.Validate(); err != nil {
		s.badRequest(w, ep, FaultValidation, err.Error())
		return req, amount, fp, false
	}
	if amount, err = x.amount(req).Money(); err != nil {
		s.badRequest(w, ep, FaultValidation, x.root+"/Amount: "+err.Error())
		return req, amount, fp, false
	}
	if fp, err = fingerprint(c, req); err != nil {
		s.log.Error().Err(err).Msg("fingerprinting a " + x.what)
		s.writeXML(w, http.StatusInternalServerError, fault(FaultInternal, "internal error"))
		return req, amount, fp, false
	}
	return req, amount, fp, true
}

// writeXML encodes v as the reply.
func (s *Sandbox) writeXML(w http.ResponseWriter, status int, v any) {
	body, err := messages.Encode(v)
	if err != nil {
		s.log.Error().Err(err).Msg("encoding reply")
		status = http.StatusInternalServerError
		body = []byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
			`<Fault xmlns="` + messages.Namespace + `"><Code>` + FaultInternal + `</Code><Description>reply encoding failed</Description></Fault>`)
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// begin counts the call, checks the key and the route, and consumes the
// fault knobs. It returns false when the call has been answered.
func (s *Sandbox) begin(w http.ResponseWriter, r *http.Request, ep Endpoint) (apiCall, faultPlan, bool) {
	s.mu.Lock()
	cnt := s.countersLocked(ep)
	cnt.Total++
	s.mu.Unlock()
	if !s.checkAPIKey(r) {
		s.count(ep, func(c *EndpointCalls) { c.Unauthorized++ })
		s.writeXML(w, http.StatusUnauthorized, fault(FaultInvalidAPIKey, "missing or invalid apikey header"))
		return apiCall{}, faultPlan{}, false
	}
	c, f, status := parseRoute(r)
	if f != nil {
		s.count(ep, func(c *EndpointCalls) { c.BadRequest++ })
		s.writeXML(w, status, f)
		return c, faultPlan{}, false
	}
	s.mu.Lock()
	p := s.faults.Of(ep).plan(s.rng.IntN(1000))
	cnt = s.countersLocked(ep)
	p.Count(&cnt.Hung, &cnt.Failed5xx, &cnt.Faulted)
	s.mu.Unlock()
	if p.Late {
		// The late commit acts after the client may have gone: read the
		// body now, while the connection is there.
		b, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.MaxBodyBytes+1))
		if err != nil {
			return c, p, false
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	ok := p.Apply(r, s.closed, s.log, string(ep), func() {
		if p.Own {
			s.writeXML(w, p.faultStatus, fault(FaultInjected, "the service failed to process the request (injected fault); retry with the same requestId"))
			return
		}
		kit.WriteInjectedFailure(w, "radial", p.FailStatus)
	})
	return c, p, ok
}

func (s *Sandbox) countersLocked(ep Endpoint) *EndpointCalls {
	if ep == EndpointConfirm {
		return &s.calls.Confirm
	}
	return &s.calls.Settle
}

func (s *Sandbox) count(ep Endpoint, f func(*EndpointCalls)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.countersLocked(ep))
}

// countDedupLocked counts a request that reached the ledger: new, a repeat
// of a known requestId, or a conflict with it.
func (s *Sandbox) countDedupLocked(ep Endpoint, dup, conflict bool) {
	cnt := s.countersLocked(ep)
	switch {
	case conflict:
		cnt.Conflicts++
	case dup:
		cnt.DedupHits++
	default:
		cnt.Processed++
	}
}

// badRequest answers 400 with a Fault naming the problem.
func (s *Sandbox) badRequest(w http.ResponseWriter, ep Endpoint, code, desc string) {
	s.count(ep, func(c *EndpointCalls) { c.BadRequest++ })
	s.writeXML(w, http.StatusBadRequest, fault(code, desc))
}

// dropReply answers 502 after the request was processed ("process then
// drop" fault).
func (s *Sandbox) dropReply(w http.ResponseWriter, ep Endpoint) {
	s.count(ep, func(c *EndpointCalls) { c.Dropped++ })
	kit.WriteDropped(w, "radial")
}
