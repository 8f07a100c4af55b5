package radial

import (
	"net/http"
	"sort"

	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
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

func (s *Sandbox) adminRoutes(mux *http.ServeMux, base string) {
	a := kit.NewAdminMux(mux, base, s.cfg.AllowRemoteAdmin)
	a.Handle("PUT", AdminAuthorizations, kit.JSONBody(s.Authorize))
	a.Handle("GET", AdminAuthorizations, kit.JSONValue(s.Authorizations))
	a.Handle("PUT", AdminFaults, kit.JSONBody(func(f FaultsRequest) (FaultsState, error) {
		if err := s.SetFaults(f.Endpoint, f.Faults); err != nil {
			return FaultsState{}, err
		}
		return s.Faults(), nil
	}))
	a.Handle("GET", AdminFaults, kit.JSONValue(s.Faults))
	a.Handle("GET", AdminLedger, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		kit.WriteJSON(w, http.StatusOK, s.LedgerFiltered(LedgerFilter{RequestID: q.Get("request_id"), OrderID: q.Get("order_id")}))
	})
	a.Handle("GET", AdminCalls, kit.JSONValue(s.Calls))
	a.Handle("GET", AdminStatuses, kit.JSONValue(s.Statuses))
	a.Handle("POST", AdminReset, kit.NoContent(s.Reset))
}

func sortStates(st []AuthorizationState) {
	sort.Slice(st, func(i, j int) bool {
		if st[i].StoreID != st[j].StoreID {
			return st[i].StoreID < st[j].StoreID
		}
		return st[i].OrderID < st[j].OrderID
	})
}
