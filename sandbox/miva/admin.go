package miva

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
)

// Admin API paths, relative to {prefix}/_sandbox.
const (
	AdminOrders = "/orders"
	AdminFaults = "/faults"
	AdminLedger = "/ledger"
	AdminCalls  = "/calls"
	AdminReset  = "/reset"
)

func (s *Sandbox) adminRoutes(mux *http.ServeMux, base string) {
	a := kit.NewAdminMux(mux, base, s.cfg.AllowRemoteAdmin)
	a.Handle("PUT", AdminOrders, kit.JSONBody(s.SeedOrder))
	a.Handle("GET", AdminOrders, kit.JSONValue(s.Orders))
	a.Handle("GET", AdminOrders+"/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			kit.WriteAdminError(w, http.StatusBadRequest, "order id must be an integer")
			return
		}
		st, ok := s.Order(id)
		if !ok {
			kit.WriteAdminError(w, http.StatusNotFound, fmt.Sprintf("order %d not found", id))
			return
		}
		kit.WriteJSON(w, http.StatusOK, st)
	})
	a.Handle("PUT", AdminFaults, kit.JSONBody(func(f FaultsRequest) (FaultsState, error) {
		if err := s.SetFaults(f.Endpoint, f.Faults); err != nil {
			return FaultsState{}, err
		}
		return s.Faults(), nil
	}))
	a.Handle("GET", AdminFaults, kit.JSONValue(s.Faults))
	a.Handle("GET", AdminLedger, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f := LedgerFilter{Function: q.Get("function")}
		if v := q.Get("order_id"); v != "" {
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				kit.WriteAdminError(w, http.StatusBadRequest, "order_id must be an integer")
				return
			}
			f.OrderID = id
		}
		kit.WriteJSON(w, http.StatusOK, s.LedgerFiltered(f))
	})
	a.Handle("GET", AdminCalls, kit.JSONValue(s.Calls))
	a.Handle("POST", AdminReset, kit.NoContent(s.Reset))
}
