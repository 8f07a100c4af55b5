package frisbii

import (
	"net/http"

	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
)

// Admin API paths, relative to {prefix}/_sandbox.
const (
	AdminCharges = "/charges"
	AdminFaults  = "/faults"
	AdminLedger  = "/ledger"
	AdminCalls   = "/calls"
	AdminReset   = "/reset"
)

func (s *Sandbox) adminRoutes(mux *http.ServeMux, base string) {
	a := kit.NewAdminMux(mux, base, s.cfg.AllowRemoteAdmin)
	a.Handle("PUT", AdminCharges, kit.JSONBody(s.SeedCharge))
	a.Handle("GET", AdminCharges, kit.JSONValue(s.Charges))
	a.Handle("GET", AdminCharges+"/{handle}", func(w http.ResponseWriter, r *http.Request) {
		ci, ok := s.ChargeInfo(r.PathValue("handle"))
		if !ok {
			kit.WriteAdminError(w, http.StatusNotFound, "no charge with handle "+r.PathValue("handle"))
			return
		}
		kit.WriteJSON(w, http.StatusOK, ci)
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
		kit.WriteJSON(w, http.StatusOK, s.LedgerFiltered(LedgerFilter{Handle: q.Get("handle"), Key: q.Get("key"), Kind: q.Get("kind")}))
	})
	a.Handle("GET", AdminCalls, kit.JSONValue(s.Calls))
	a.Handle("POST", AdminReset, kit.NoContent(s.Reset))
}
