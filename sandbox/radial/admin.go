package radial

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
)

// Admin API paths, relative to {prefix}/_sandbox.
const (
	AdminAuthorizations = "/authorizations"
	AdminFaults         = "/faults"
	AdminLedger         = "/ledger"
	AdminCalls          = "/calls"
	AdminStatuses       = "/statuses"
	AdminReset          = "/reset"
)

// adminError is the JSON body of an admin API error.
type adminError struct {
	Error string `json:"error"`
}

func (s *Sandbox) adminRoutes(mux *http.ServeMux, base string) {
	h := func(pattern string, f http.HandlerFunc) {
		mux.Handle(pattern, s.loopbackOnly(f))
	}
	h("PUT "+base+AdminAuthorizations, s.adminPutAuthorization)
	h("GET "+base+AdminAuthorizations, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Authorizations())
	})
	h("PUT "+base+AdminFaults, s.adminPutFaults)
	h("GET "+base+AdminFaults, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	})
	h("GET "+base+AdminLedger, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		writeJSON(w, http.StatusOK, s.LedgerFiltered(LedgerFilter{RequestID: q.Get("request_id"), OrderID: q.Get("order_id")}))
	})
	h("GET "+base+AdminCalls, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Calls())
	})
	h("GET "+base+AdminStatuses, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Statuses())
	})
	h("POST "+base+AdminReset, func(w http.ResponseWriter, _ *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
}

func (s *Sandbox) adminPutAuthorization(w http.ResponseWriter, r *http.Request) {
	var a Authorization
	if !readJSON(w, r, &a) {
		return
	}
	st, err := s.Authorize(a)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, adminError{err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Sandbox) adminPutFaults(w http.ResponseWriter, r *http.Request) {
	var f FaultsRequest
	if !readJSON(w, r, &f) {
		return
	}
	if err := s.SetFaults(f.Endpoint, f.Faults); err != nil {
		writeJSON(w, http.StatusBadRequest, adminError{err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, s.Faults())
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

// readJSON decodes a JSON body strictly (unknown fields are errors).
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, adminError{fmt.Sprintf("invalid JSON body: %v", err)})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func sortStates(st []AuthorizationState) {
	sort.Slice(st, func(i, j int) bool {
		if st[i].StoreID != st[j].StoreID {
			return st[i].StoreID < st[j].StoreID
		}
		return st[i].OrderID < st[j].OrderID
	})
}
