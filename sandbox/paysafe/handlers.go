package paysafe

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
)

// handleGetAuth serves GET .../auths/{id}: the authorization with its
// availableToSettle (what confirm funds reads).
func (s *Sandbox) handleGetAuth(w http.ResponseWriter, r *http.Request) {
	const ep = EndpointAuth
	if _, ok := s.begin(w, r, ep); !ok {
		return
	}
	acctID, id := r.PathValue("account"), r.PathValue("id")
	s.mu.Lock()
	var reply AuthorizationReply
	var rf *refusal
	a := s.accountLocked(acctID, false)
	switch {
	case a == nil:
		rf = unknownID("account", acctID)
	case a.auths[id] == nil:
		rf = unknownID("authorization", id)
	default:
		z := a.auths[id]
		s.countersLocked(ep).Processed++
		reply = AuthorizationReply{
			Links:             []Link{{Rel: "self", Href: s.baseURL(r) + APIPath + "/accounts/" + acctID + "/auths/" + id}},
			ID:                id,
			MerchantRefNum:    z.script.MerchantRefNum,
			TxnTime:           z.txnTime.Format(time.RFC3339),
			Status:            z.script.Status,
			Amount:            z.script.Amount,
			AvailableToSettle: z.availableToSettle(),
			CurrencyCode:      z.script.Currency,
		}
	}
	s.mu.Unlock()
	if rf != nil {
		s.answerRefusal(w, r, ep, rf)
		return
	}
	kit.WriteJSON(w, http.StatusOK, reply)
}

// handleSettle serves POST .../auths/{id}/settlements.
func (s *Sandbox) handleSettle(w http.ResponseWriter, r *http.Request) {
	s.create(w, r, EndpointSettle, s.settleLocked)
}

// handleRefund serves POST .../settlements/{id}/refunds.
func (s *Sandbox) handleRefund(w http.ResponseWriter, r *http.Request) {
	s.create(w, r, EndpointRefund, s.refundLocked)
}

// create runs a settlement or refund creation: credentials, faults, body,
// ledger rules, then the answer (or a dropped reply).
func (s *Sandbox) create(w http.ResponseWriter, r *http.Request, ep Endpoint,
	act func(account, parent string, req SettlementRequest, dropped bool, arrival *refusal) (*entry, *refusal)) {
	arrival := s.arrivalCheck(r, ep == EndpointRefund)
	plan, ok := s.begin(w, r, ep)
	if !ok {
		return
	}
	var req SettlementRequest
	if !s.readRequest(w, r, ep, &req) {
		return
	}
	acctID, parent := r.PathValue("account"), r.PathValue("id")
	s.mu.Lock()
	e, rf := act(acctID, parent, req, plan.Drop, arrival)
	var view any
	var logged zerolog.Logger
	if rf == nil {
		s.countersLocked(ep).Processed++
		view = s.view(r, e)
		// Read e under the lock: the batch clock changes it.
		logged = s.log.With().Str("id", e.ID).Str("merchant_ref_num", e.MerchantRefNum).
			Int64("amount", e.Amount).Str("currency", e.Currency).Str("status", e.Status).Logger()
	}
	s.mu.Unlock()
	if rf != nil {
		s.log.Info().Str("endpoint", string(ep)).Str("account", acctID).Str("merchant_ref_num", req.MerchantRefNum).
			Str("code", rf.code).Msg("refused")
		s.answerRefusal(w, r, ep, rf)
		return
	}
	logged.Info().Str("endpoint", string(ep)).Str("account", acctID).Str("parent", parent).
		Bool("reply_dropped", plan.Drop).Msg("created")
	if plan.Drop {
		s.dropReply(w, ep)
		return
	}
	kit.WriteJSON(w, http.StatusOK, view)
}

// getHandler serves GET .../settlements/{id} and .../refunds/{id}.
func (s *Sandbox) getHandler(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		const ep = EndpointGet
		plan, ok := s.begin(w, r, ep)
		if !ok {
			return
		}
		s.mu.Lock()
		e, rf := s.findLocked(r.PathValue("account"), kind, r.PathValue("id"))
		var view any
		if rf == nil {
			s.countersLocked(ep).Processed++
			view = s.view(r, e)
		}
		s.mu.Unlock()
		s.answer(w, r, ep, plan, view, rf)
	}
}

// lookupHandler serves GET .../settlements and .../refunds, filtered by
// the merchantRefNum query parameter when given, one page at a time (see
// Config.LookupPageSize).
func (s *Sandbox) lookupHandler(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		const ep = EndpointLookup
		plan, ok := s.begin(w, r, ep)
		if !ok {
			return
		}
		acctID := r.PathValue("account")
		s.mu.Lock()
		var view any
		var rf *refusal
		limit, offset, prf := s.pageQuery(r)
		switch {
		case prf != nil:
			rf = prf
		case s.accountLocked(acctID, false) == nil:
			rf = unknownID("account", acctID)
		default:
			s.countersLocked(ep).Processed++
			es := s.lookupLocked(acctID, kind, r.URL.Query().Get("merchantRefNum"))
			es, links := s.pageOf(r, es, limit, offset)
			if kind == KindRefund {
				l := RefundList{Refunds: []Refund{}, Links: links}
				for _, e := range es {
					l.Refunds = append(l.Refunds, s.refundView(r, e))
				}
				view = l
			} else {
				l := SettlementList{Settlements: []Settlement{}, Links: links}
				for _, e := range es {
					l.Settlements = append(l.Settlements, s.settlementView(r, e))
				}
				view = l
			}
		}
		s.mu.Unlock()
		s.answer(w, r, ep, plan, view, rf)
	}
}

// cancelHandler serves PUT .../settlements/{id} and .../refunds/{id} with
// {"status":"CANCELLED"}.
func (s *Sandbox) cancelHandler(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		const ep = EndpointCancel
		plan, ok := s.begin(w, r, ep)
		if !ok {
			return
		}
		var req StatusUpdate
		if !s.readRequest(w, r, ep, &req) {
			return
		}
		if req.Status != StatusCancelled {
			s.answerRefusal(w, r, ep, &refusal{status: http.StatusBadRequest, code: CodeFieldErrors, message: "Field error(s)",
				fieldErrors: []FieldError{{Field: "status", Error: "only CANCELLED may be requested"}}})
			return
		}
		s.mu.Lock()
		e, rf := s.cancelLocked(r.PathValue("account"), kind, r.PathValue("id"))
		var view any
		if rf == nil {
			s.countersLocked(ep).Processed++
			view = s.view(r, e)
		}
		s.mu.Unlock()
		s.answer(w, r, ep, plan, view, rf)
	}
}

// answer writes a view, a refusal, or a dropped reply.
func (s *Sandbox) answer(w http.ResponseWriter, r *http.Request, ep Endpoint, plan faultPlan, view any, rf *refusal) {
	switch {
	case rf != nil:
		s.answerRefusal(w, r, ep, rf)
	case plan.Drop:
		s.dropReply(w, ep)
	default:
		kit.WriteJSON(w, http.StatusOK, view)
	}
}

// pageQuery reads a lookup's limit and offset query parameters (0 when
// absent); a value that is not a non-negative integer is a field error.
func (s *Sandbox) pageQuery(r *http.Request) (limit, offset int, rf *refusal) {
	q := r.URL.Query()
	var fe []FieldError
	for _, p := range []struct {
		name string
		v    *int
	}{{"limit", &limit}, {"offset", &offset}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || (p.name == "limit" && n == 0) {
			fe = append(fe, FieldError{Field: p.name, Error: "must be a positive integer"})
			continue
		}
		*p.v = n
	}
	if len(fe) > 0 {
		return 0, 0, &refusal{status: http.StatusBadRequest, code: CodeFieldErrors, message: "Field error(s)", fieldErrors: fe}
	}
	return limit, offset, nil
}

// pageOf cuts es to the page from offset of limit transactions (limit 0:
// Config.LookupPageSize, itself 0 for every one) and, when more follow,
// returns the link with rel "next" to the following page.
func (s *Sandbox) pageOf(r *http.Request, es []*entry, limit, offset int) ([]*entry, []Link) {
	if limit == 0 {
		limit = s.cfg.LookupPageSize
	}
	es = es[min(offset, len(es)):]
	if limit == 0 || len(es) <= limit {
		return es, nil
	}
	q := r.URL.Query()
	q.Set("limit", strconv.Itoa(limit))
	q.Set("offset", strconv.Itoa(offset+limit))
	return es[:limit], []Link{{Rel: "next", Href: s.baseURL(r) + strings.TrimPrefix(r.URL.EscapedPath(), s.cfg.Prefix) + "?" + q.Encode()}}
}
