package frisbii

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
)

// Admin API paths, relative to {prefix}/_sandbox.
const (
	AdminCharges = "/charges"
	AdminFaults  = "/faults"
	AdminLedger  = "/ledger"
	AdminCalls   = "/calls"
	AdminReset   = "/reset"
)

// adminError is the JSON body of an admin API error.
type adminError struct {
	Error string `json:"error"`
}

func (s *Sandbox) adminRoutes(mux *http.ServeMux, base string) {
	h := func(pattern string, f http.HandlerFunc) {
		mux.Handle(pattern, s.loopbackOnly(f))
	}
	h("PUT "+base+AdminCharges, s.adminPutCharge)
	h("GET "+base+AdminCharges, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Charges())
	})
	h("GET "+base+AdminCharges+"/{handle}", func(w http.ResponseWriter, r *http.Request) {
		ci, ok := s.ChargeInfo(r.PathValue("handle"))
		if !ok {
			writeJSON(w, http.StatusNotFound, adminError{"no charge with handle " + r.PathValue("handle")})
			return
		}
		writeJSON(w, http.StatusOK, ci)
	})
	h("PUT "+base+AdminFaults, s.adminPutFaults)
	h("GET "+base+AdminFaults, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	})
	h("GET "+base+AdminLedger, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		writeJSON(w, http.StatusOK, s.LedgerFiltered(LedgerFilter{Handle: q.Get("handle"), Key: q.Get("key"), Kind: q.Get("kind")}))
	})
	h("GET "+base+AdminCalls, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Calls())
	})
	h("POST "+base+AdminReset, func(w http.ResponseWriter, _ *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
}

func (s *Sandbox) adminPutCharge(w http.ResponseWriter, r *http.Request) {
	var seed ChargeSeed
	if !readAdminJSON(w, r, &seed) {
		return
	}
	ci, err := s.SeedCharge(seed)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, adminError{err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, ci)
}

func (s *Sandbox) adminPutFaults(w http.ResponseWriter, r *http.Request) {
	var f FaultsRequest
	if !readAdminJSON(w, r, &f) {
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

// readAdminJSON decodes an admin body strictly (unknown fields are errors).
func readAdminJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, adminError{fmt.Sprintf("invalid JSON body: %v", err)})
		return false
	}
	return true
}
