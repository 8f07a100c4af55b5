package miva

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
)

// Admin API paths, relative to {prefix}/_sandbox.
const (
	AdminOrders = "/orders"
	AdminFaults = "/faults"
	AdminLedger = "/ledger"
	AdminCalls  = "/calls"
	AdminReset  = "/reset"
)

// adminError is the JSON body of an admin API error.
type adminError struct {
	Error string `json:"error"`
}

func (s *Sandbox) adminRoutes(mux *http.ServeMux, base string) {
	h := func(pattern string, f http.HandlerFunc) {
		mux.Handle(pattern, s.loopbackOnly(f))
	}
	h("PUT "+base+AdminOrders, s.adminPutOrder)
	h("GET "+base+AdminOrders, func(w http.ResponseWriter, _ *http.Request) {
		writeAdmin(w, http.StatusOK, s.Orders())
	})
	h("GET "+base+AdminOrders+"/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			writeAdmin(w, http.StatusBadRequest, adminError{"order id must be an integer"})
			return
		}
		st, ok := s.Order(id)
		if !ok {
			writeAdmin(w, http.StatusNotFound, adminError{fmt.Sprintf("order %d not found", id)})
			return
		}
		writeAdmin(w, http.StatusOK, st)
	})
	h("PUT "+base+AdminFaults, s.adminPutFaults)
	h("GET "+base+AdminFaults, func(w http.ResponseWriter, _ *http.Request) {
		writeAdmin(w, http.StatusOK, s.Faults())
	})
	h("GET "+base+AdminLedger, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f := LedgerFilter{Function: q.Get("function")}
		if v := q.Get("order_id"); v != "" {
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				writeAdmin(w, http.StatusBadRequest, adminError{"order_id must be an integer"})
				return
			}
			f.OrderID = id
		}
		writeAdmin(w, http.StatusOK, s.LedgerFiltered(f))
	})
	h("GET "+base+AdminCalls, func(w http.ResponseWriter, _ *http.Request) {
		writeAdmin(w, http.StatusOK, s.Calls())
	})
	h("POST "+base+AdminReset, func(w http.ResponseWriter, _ *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
}

func (s *Sandbox) adminPutOrder(w http.ResponseWriter, r *http.Request) {
	var o OrderSeed
	if !readAdmin(w, r, &o) {
		return
	}
	st, err := s.SeedOrder(o)
	if err != nil {
		writeAdmin(w, http.StatusBadRequest, adminError{err.Error()})
		return
	}
	writeAdmin(w, http.StatusOK, st)
}

func (s *Sandbox) adminPutFaults(w http.ResponseWriter, r *http.Request) {
	var f FaultsRequest
	if !readAdmin(w, r, &f) {
		return
	}
	if err := s.SetFaults(f.Endpoint, f.Faults); err != nil {
		writeAdmin(w, http.StatusBadRequest, adminError{err.Error()})
		return
	}
	writeAdmin(w, http.StatusOK, s.Faults())
}

// loopbackOnly refuses admin calls from other hosts unless allowed.
func (s *Sandbox) loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.cfg.AllowRemoteAdmin && !isLoopback(r.RemoteAddr) {
			writeAdmin(w, http.StatusForbidden, adminError{"the sandbox admin API answers loopback callers only"})
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

// readAdmin decodes a JSON body strictly (unknown fields are errors).
func readAdmin(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeAdmin(w, http.StatusBadRequest, adminError{fmt.Sprintf("invalid JSON body: %v", err)})
		return false
	}
	return true
}

func writeAdmin(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
