package paysafe

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
)

// Admin API paths, relative to {prefix}/_sandbox.
const (
	AdminAuthorizations = "/authorizations"
	AdminBatch          = "/batch"
	AdminCancel         = "/cancel"
	AdminFaults         = "/faults"
	AdminLedger         = "/ledger"
	AdminCalls          = "/calls"
	AdminReset          = "/reset"
)

// CancelRequest is the body of POST {prefix}/_sandbox/cancel: cancel a
// settlement or refund not batched yet, as the merchant's PUT would.
type CancelRequest struct {
	AccountID string `json:"account_id"`
	// Kind is settlement or refund.
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// adminError is the JSON body of an admin API error.
type adminError struct {
	Error string `json:"error"`
}

func (s *Sandbox) adminRoutes(mux *http.ServeMux, base string) {
	h := func(pattern string, f http.HandlerFunc) {
		mux.Handle(pattern, s.loopbackOnly(f))
	}
	h("PUT "+base+AdminAuthorizations, func(w http.ResponseWriter, r *http.Request) {
		var a Authorization
		if !readAdminJSON(w, r, &a) {
			return
		}
		st, err := s.Authorize(a)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, adminError{err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	h("GET "+base+AdminAuthorizations, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Authorizations())
	})
	h("POST "+base+AdminBatch, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.RunBatch())
	})
	h("POST "+base+AdminCancel, func(w http.ResponseWriter, r *http.Request) {
		var c CancelRequest
		if !readAdminJSON(w, r, &c) {
			return
		}
		if c.Kind != KindSettlement && c.Kind != KindRefund {
			writeJSON(w, http.StatusBadRequest, adminError{fmt.Sprintf("kind %q is not settlement or refund", c.Kind)})
			return
		}
		e, err := s.cancel(c.AccountID, c.Kind, c.ID)
		if err != nil {
			writeJSON(w, http.StatusConflict, adminError{err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, e)
	})
	h("PUT "+base+AdminFaults, func(w http.ResponseWriter, r *http.Request) {
		var f FaultsRequest
		if !readAdminJSON(w, r, &f) {
			return
		}
		if err := s.SetFaults(f.Endpoint, f.Faults); err != nil {
			writeJSON(w, http.StatusBadRequest, adminError{err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, s.Faults())
	})
	h("GET "+base+AdminFaults, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	})
	h("GET "+base+AdminLedger, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		writeJSON(w, http.StatusOK, s.LedgerFiltered(LedgerFilter{AccountID: q.Get("account_id"), Kind: q.Get("kind"),
			MerchantRefNum: q.Get("merchant_ref_num"), AuthorizationID: q.Get("authorization_id")}))
	})
	h("GET "+base+AdminCalls, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Calls())
	})
	h("POST "+base+AdminReset, func(w http.ResponseWriter, _ *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
}

// loopbackOnly refuses admin calls from other hosts unless allowed.
func (s *Sandbox) loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.cfg.AllowRemoteAdmin && !isLoopback(r.RemoteAddr) {
			writeJSON(w, http.StatusForbidden, adminError{"the sandbox admin API answers loopback callers only"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func isLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// readAdminJSON decodes a JSON body strictly (unknown fields are errors).
func readAdminJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, adminError{fmt.Sprintf("invalid JSON body: %v", err)})
		return false
	}
	return true
}
