package intake

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/messages"
)

// Where the Radial-format endpoint reads store_id, tender_type and the
// optional original authorization amount: a header, else a query
// parameter. When both are sent they must agree.
const (
	HeaderStoreID            = "X-Store-Id"
	HeaderTenderType         = "X-Tender-Type"
	HeaderOriginalAuthAmount = "X-Original-Authorization-Amount"
	QueryStoreID             = "store_id"
	QueryTenderType          = "tender_type"
	QueryOriginalAuthAmount  = "original_authorization_amount"
	// HeaderAPIKey is Radial's own API key header (the worker's Radial
	// client sends its key the same way).
	HeaderAPIKey = "apikey"
)

// Fault codes of the Radial-format endpoint.
const (
	FaultUnauthorized       = "Unauthorized"
	FaultMalformedRequest   = "MalformedRequest"
	FaultInvalidRequest     = "InvalidRequest"
	FaultServiceUnavailable = "ServiceUnavailable"
)

// maxFaultDescription bounds a Fault's Description.
const maxFaultDescription = 4000

// radial handles POST <Radial.Path>: a PaymentSettlementRequest or a
// PaymentSettlementRequestList for webhook clients, answered like Radial's
// settlement create: 200 AckReply once every request is published and
// confirmed by the broker, a Fault otherwise.
//
// A request that parses but breaks a rule of the Radial table (Validate) is
// refused at the door with 400 and a Fault naming every problem, and so is
// the whole list when one of its requests is invalid: nothing is published.
// Radial's own API answers a malformed request with a Fault synchronously,
// and a synchronous caller wants to hear about its mistake now, not as a
// later status R it must correlate; refusing the whole list keeps a batch
// atomic (no half-queued list to reason about). Any publish failure is a
// 503 Fault: the client retries the same body, and the same requestIds
// make the worker settle each request once.
func (s *Server) radial(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	log := s.log.With().Str("endpoint", "radial").Logger()
	body, release, ref := s.preflight(w, r, "application/xml", "text/xml")
	defer release()
	if ref != nil {
		log.Warn().Int("status", ref.status).Str("code", ref.fault).Msg(ref.msg)
		writeFault(w, ref.status, ref.fault, ref.msg)
		return
	}
	if !s.radialAuthorized(r) {
		log.Warn().Str("remote", r.RemoteAddr).Msg("refused: missing or wrong credentials")
		if s.cfg.Radial.BasicUser != "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="settlements", charset="UTF-8"`)
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer realm="settlements"`)
		}
		writeFault(w, http.StatusUnauthorized, FaultUnauthorized, "missing or wrong credentials (apikey header, Bearer token or basic auth)")
		return
	}
	reqs, isList, err := decodeRadial(body)
	if err != nil {
		log.Warn().Str(zerolog.ErrorFieldName, maskedError(err)).Msg("refused: unparseable body")
		writeFault(w, http.StatusBadRequest, FaultMalformedRequest, err.Error())
		return
	}
	params, problems := radialParams(r, isList)
	problems = append(problems, s.checkRadial(reqs, isList, params)...)
	if len(problems) > 0 {
		// Problems quote what was refused, where a card number may have
		// been written: masked, as they are logged and answered.
		for i, p := range problems {
			problems[i] = messages.MaskPANs(p)
		}
		log.Warn().Strs("problems", problems).Int("requests", len(reqs)).Msg("refused: invalid request")
		writeFault(w, http.StatusBadRequest, FaultInvalidRequest, strings.Join(problems, "; "))
		return
	}

	out := make([]outgoing, len(reqs))
	ids := make([]string, len(reqs))
	for i, req := range reqs {
		out[i] = outgoing{req: req, provider: s.cfg.Radial.Provider, storeID: params.storeID, tenderType: params.tenderType,
			authAmount: params.authAmount, source: "radial-webhook"}
		ids[i] = req.RequestID
	}
	ctx, cancel := s.publishContext(r)
	defer cancel()
	if err := publishAll(ctx, s.pub, out, s.cfg.PublishConcurrency); err != nil {
		log.Error().Str(zerolog.ErrorFieldName, maskedError(err)).Strs("request_ids", maskedIDs(ids)).Msg("publishing failed; answering 503 so that the client retries")
		w.Header().Set("Retry-After", "5")
		writeFault(w, http.StatusServiceUnavailable, FaultServiceUnavailable,
			"the settlement requests were not all confirmed by the broker; some may have been queued and will be settled: retry the same request with the same requestIds (each is settled once), never under new requestIds")
		return
	}
	for _, req := range reqs {
		// The ids are the sender's: a card number written in one is
		// masked (the published request keeps them as sent).
		ev := log.Info().Str("request_id", messages.MaskPANs(req.RequestID)).Str("order_id", messages.MaskPANs(req.OrderID())).
			Str("store_id", messages.MaskPANs(params.storeID)).
			Str("amount", req.Amount.Value).Str("currency", req.Amount.CurrencyCode).Str("settlement_type", req.SettlementType)
		if req.PaymentContext != nil {
			ev = ev.Str("account", messages.MaskAccount(req.PaymentContext.PaymentAccountUniqueID.Value))
		}
		ev.Msg("settlement request queued")
	}
	log.Info().Int("requests", len(reqs)).Bool("list", isList).Dur("took", time.Since(start)).Msg("settlement requests accepted")
	writeXML(w, http.StatusOK, messages.AckReply{Received: &struct{}{}})
}

// radialAuthorized accepts a configured API key in the apikey header or as
// a Bearer token, or the configured basic credentials.
func (s *Server) radialAuthorized(r *http.Request) bool {
	c := s.cfg.Radial
	keyOK := secretMatches(r.Header.Get(HeaderAPIKey), c.APIKeys)
	bearerOK := secretMatches(bearerToken(r), c.APIKeys)
	basicOK := basicMatches(r, c.BasicUser, c.BasicPassword)
	return keyOK || bearerOK || basicOK
}

// decodeRadial decodes either form, chosen by the root element.
func decodeRadial(body []byte) ([]*messages.PaymentSettlementRequest, bool, error) {
	if rootElement(body) == "PaymentSettlementRequestList" {
		l, err := messages.DecodeSettlementRequestList(body)
		if err != nil {
			return nil, true, err
		}
		reqs := make([]*messages.PaymentSettlementRequest, len(l.Requests))
		for i := range l.Requests {
			reqs[i] = &l.Requests[i]
		}
		return reqs, true, nil
	}
	req, err := messages.DecodeSettlementRequest(body)
	if err != nil {
		return nil, false, err
	}
	return []*messages.PaymentSettlementRequest{req}, false, nil
}

// rootElement returns the local name of the first element, or "" (the
// decoders then report the real problem).
func rootElement(body []byte) string {
	dec := xml.NewDecoder(bytes.NewReader(bytes.TrimPrefix(body, []byte("\xEF\xBB\xBF"))))
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t.Name.Local
		case xml.Directive:
			return ""
		}
	}
}

// radialParameters are the per-call values that the XML does not carry.
type radialParameters struct {
	storeID, tenderType, authAmount string
}

// radialParams reads store id, tender type and authorization amount from
// headers or query parameters; each at most once in each.
func radialParams(r *http.Request, isList bool) (radialParameters, []string) {
	var problems []string
	values := r.URL.Query()
	get := func(header, query string) string {
		// Get would take the first of repeated values without a word
		// (a proxy joins header lines with commas, another reader keeps
		// the last): which one is meant cannot be told.
		if len(r.Header.Values(header)) > 1 {
			problems = append(problems, fmt.Sprintf("header %s is sent more than once: send it once", header))
		}
		if len(values[query]) > 1 {
			problems = append(problems, fmt.Sprintf("query parameter %s is sent more than once: send it once", query))
		}
		h, q := strings.TrimSpace(r.Header.Get(header)), strings.TrimSpace(values.Get(query))
		if h != "" && q != "" && h != q {
			problems = append(problems, fmt.Sprintf("header %s and query parameter %s disagree", header, query))
		}
		return firstNonEmpty(h, q)
	}
	p := radialParameters{
		storeID:    get(HeaderStoreID, QueryStoreID),
		tenderType: get(HeaderTenderType, QueryTenderType),
		authAmount: get(HeaderOriginalAuthAmount, QueryOriginalAuthAmount),
	}
	if p.authAmount != "" && isList {
		problems = append(problems, "an original authorization amount belongs to one request: send requests with one singly, not in a PaymentSettlementRequestList")
	}
	return p, problems
}

// checkRadial validates the requests and the call's parameters.
func (s *Server) checkRadial(reqs []*messages.PaymentSettlementRequest, isList bool, p radialParameters) []string {
	var problems []string
	switch n := utf8.RuneCountInString(p.storeID); {
	case n == 0:
		problems = append(problems, fmt.Sprintf("store id is required (header %s or query parameter %s)", HeaderStoreID, QueryStoreID))
	case n > 100:
		problems = append(problems, "store id must be at most 100 characters")
	}
	// Required whatever the provider: every status event carries it.
	if n := utf8.RuneCountInString(p.tenderType); n < 2 || n > 4 {
		problems = append(problems, fmt.Sprintf("tender type is required and must be 2 to 4 characters (header %s or query parameter %s)", HeaderTenderType, QueryTenderType))
	}
	// A query parameter can hold any byte.
	problems = append(problems, unechoable(p.storeID, p.tenderType)...)
	switch {
	case len(reqs) == 0:
		return append(problems, "PaymentSettlementRequestList holds no PaymentSettlementRequest")
	case len(reqs) > s.cfg.Radial.MaxBatch:
		return append(problems, fmt.Sprintf("PaymentSettlementRequestList holds %d requests; at most %d are accepted at once", len(reqs), s.cfg.Radial.MaxBatch))
	}
	if p.authAmount != "" && len(reqs) == 1 {
		// The worker sends it as the Amount of a ConfirmFundsRequest: it
		// must be what a request's Amount may be (two decimals at most, 18
		// digits), and a whole int64 of minor units.
		auth := messages.Amount{CurrencyCode: reqs[0].Amount.CurrencyCode, Value: p.authAmount}
		m, merr := auth.Money()
		if err := auth.Check("original authorization amount"); err != nil {
			problems = append(problems, fmt.Sprintf("original authorization amount %q is not an amount a Radial Amount in %s can carry: %s",
				p.authAmount, reqs[0].Amount.CurrencyCode, strings.Join(validationDiag(err), "; ")))
		} else if merr != nil || !m.IsPositive() {
			problems = append(problems, fmt.Sprintf("original authorization amount %q is not a positive amount in %s", p.authAmount, reqs[0].Amount.CurrencyCode))
		}
	}
	seen := map[string]int{}
	for i, req := range reqs {
		if msg := s.oversized(req); msg != "" {
			path := "PaymentSettlementRequest"
			if isList {
				path = fmt.Sprintf("PaymentSettlementRequestList/PaymentSettlementRequest[%d]", i+1)
			}
			problems = append(problems, path+" "+msg)
		}
		if err := req.Validate(); err != nil {
			diag := validationDiag(err)
			if isList {
				for j := range diag {
					diag[j] = strings.Replace(diag[j], "PaymentSettlementRequest", fmt.Sprintf("PaymentSettlementRequestList/PaymentSettlementRequest[%d]", i+1), 1)
				}
			}
			problems = append(problems, diag...)
		}
		if first, dup := seen[req.RequestID]; dup && req.RequestID != "" {
			problems = append(problems, fmt.Sprintf("requestId %q appears twice (requests %d and %d): each settlement needs its own", req.RequestID, first, i+1))
		}
		seen[req.RequestID] = i + 1
	}
	return problems
}

// writeFault answers with a Radial Fault.
func writeFault(w http.ResponseWriter, status int, code, description string) {
	if len(description) > maxFaultDescription {
		description = strings.ToValidUTF8(description[:maxFaultDescription], "") + "…"
	}
	writeXML(w, status, messages.Fault{Code: code, Description: description})
}

// writeXML answers with an encoded Radial message.
func writeXML(w http.ResponseWriter, status int, v any) {
	body, err := messages.Encode(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
