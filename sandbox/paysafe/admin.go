package paysafe

import (
	"fmt"
	"net/http"

	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
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

func (s *Sandbox) adminRoutes(mux *http.ServeMux, base string) {
	a := kit.NewAdminMux(mux, base, s.cfg.AllowRemoteAdmin)
	a.Handle("PUT", AdminAuthorizations, kit.JSONBody(s.Authorize))
	a.Handle("GET", AdminAuthorizations, kit.JSONValue(s.Authorizations))
	a.Handle("POST", AdminBatch, kit.JSONValue(s.RunBatch))
	a.Handle("POST", AdminCancel, func(w http.ResponseWriter, r *http.Request) {
		var c CancelRequest
		if !kit.ReadJSON(w, r, &c) {
			return
		}
		if c.Kind != KindSettlement && c.Kind != KindRefund {
			kit.WriteAdminError(w, http.StatusBadRequest, fmt.Sprintf("kind %q is not settlement or refund", c.Kind))
			return
		}
		e, err := s.cancel(c.AccountID, c.Kind, c.ID)
		if err != nil {
			kit.WriteAdminError(w, http.StatusConflict, err.Error())
			return
		}
		kit.WriteJSON(w, http.StatusOK, e)
	})
	a.Handle("PUT", AdminFaults, kit.JSONBody(func(f FaultsRequest) (FaultsState, error) {
		if err := s.SetFaults(f.Endpoint, f.Faults); err != nil {
			return nil, err
		}
		return s.Faults(), nil
	}))
	a.Handle("GET", AdminFaults, kit.JSONValue(s.Faults))
	a.Handle("GET", AdminLedger, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		kit.WriteJSON(w, http.StatusOK, s.LedgerFiltered(LedgerFilter{AccountID: q.Get("account_id"), Kind: q.Get("kind"),
			MerchantRefNum: q.Get("merchant_ref_num"), AuthorizationID: q.Get("authorization_id")}))
	})
	a.Handle("GET", AdminCalls, kit.JSONValue(s.Calls))
	a.Handle("POST", AdminReset, kit.NoContent(s.Reset))
}
