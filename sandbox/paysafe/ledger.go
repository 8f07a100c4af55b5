package paysafe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/google/uuid"
)

// CodeDeclined is the error code a FAILED settlement or refund carries:
// the processor declined it. Sandbox convention (Paysafe reports card
// declines in the 3xxx range, 3009 being the issuing bank's decline).
const CodeDeclined = "3009"

// DefaultFailureMessage explains a scripted FAILED without a message.
const DefaultFailureMessage = "The transaction was declined by the processor during batch settlement."

// refusal is an error answer decided by the ledger.
type refusal struct {
	status      int
	code        string
	message     string
	fieldErrors []FieldError
	existing    *entry // the transaction a duplicate collided with
}

func refuse(status int, code, format string, args ...any) *refusal {
	return &refusal{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func unknownID(what, id string) *refusal {
	return &refusal{status: http.StatusNotFound, code: CodeUnknownID,
		message:     "The ID(s) specified in the URL do not correspond to the values in the system.",
		fieldErrors: []FieldError{{Field: what, Error: fmt.Sprintf("%s [%s] does not exist", what, id)}}}
}

// live reports whether a transaction status still holds money.
func live(status string) bool { return status != StatusFailed && status != StatusCancelled }

// final reports whether a status is final.
func final(status string) bool {
	return status == StatusCompleted || status == StatusFailed || status == StatusCancelled
}

// availableToSettle is the authorization's amount less its live settlements.
func (z *authz) availableToSettle() int64 {
	n := z.script.Amount
	for _, e := range z.settlements {
		if live(e.Status) {
			n -= e.Amount
		}
	}
	return n
}

func (z *authz) state() AuthorizationState {
	return AuthorizationState{Authorization: z.script, AvailableToSettle: z.availableToSettle(),
		Settlements: len(z.settlements), TxnTime: z.txnTime}
}

// validateRequest checks a settlement or refund body.
func validateRequest(r SettlementRequest) *refusal {
	var fe []FieldError
	switch {
	case r.MerchantRefNum == "":
		fe = append(fe, FieldError{Field: "merchantRefNum", Error: "may not be empty"})
	case len(r.MerchantRefNum) > MaxMerchantRefNumLen:
		fe = append(fe, FieldError{Field: "merchantRefNum", Error: fmt.Sprintf("size must be between 1 and %d", MaxMerchantRefNumLen)})
	}
	if r.Amount != nil && (*r.Amount <= 0 || *r.Amount > MaxAmount) {
		fe = append(fe, FieldError{Field: "amount", Error: fmt.Sprintf("must be between 1 and %d", MaxAmount)})
	}
	if len(fe) == 0 {
		return nil
	}
	return &refusal{status: http.StatusBadRequest, code: CodeFieldErrors, message: "Field error(s)", fieldErrors: fe}
}

// duplicateLocked finds a transaction of the same kind and merchantRefNum
// in the account, when dupCheck applies.
func duplicateLocked(txs map[string]*entry, r SettlementRequest) *refusal {
	if r.DupCheck != nil && !*r.DupCheck {
		return nil
	}
	for _, e := range txs {
		if e.MerchantRefNum == r.MerchantRefNum {
			return &refusal{status: http.StatusConflict, code: CodeDuplicate, existing: e,
				message: "The transaction you have submitted has already been processed (merchantRefNum " + r.MerchantRefNum + " was already used)."}
		}
	}
	return nil
}

// dupLocked is the duplicate check of a call as it commits: the check
// taken when it arrived (arrival, nil when it found none) with
// Config.DupCheckAtArrival, else duplicateLocked against the transactions
// committed by now.
func (s *Sandbox) dupLocked(txs map[string]*entry, r SettlementRequest, arrival *refusal) *refusal {
	if s.cfg.DupCheckAtArrival {
		return arrival
	}
	return duplicateLocked(txs, r)
}

// arrivalCheck is, with Config.DupCheckAtArrival, the duplicate check of
// a settlement (refund, when refund) call taken as it arrives, before any
// fault's wait: its body is read now (and given back to r for the
// handler), its merchantRefNum looked for among the account's
// transactions committed so far. nil otherwise, or when the body or the
// account will be refused anyway.
func (s *Sandbox) arrivalCheck(r *http.Request, refund bool) *refusal {
	if !s.cfg.DupCheckAtArrival {
		return nil
	}
	r.Body = buffered(r.Body, s.cfg.MaxBodyBytes)
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	body, err := io.ReadAll(r.Body)
	var rest io.Reader = bytes.NewReader(body)
	if err != nil {
		rest = io.MultiReader(rest, errReader{err})
	}
	r.Body = io.NopCloser(rest)
	var req SettlementRequest
	if json.Unmarshal(body, &req) != nil || req.MerchantRefNum == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accountLocked(r.PathValue("account"), false)
	if a == nil {
		return nil
	}
	if refund {
		return duplicateLocked(a.refunds, req)
	}
	return duplicateLocked(a.settlements, req)
}

// settleLocked creates a settlement against an authorization.
func (s *Sandbox) settleLocked(accountID, authID string, r SettlementRequest, dropped bool, arrival *refusal) (*entry, *refusal) {
	if rf := validateRequest(r); rf != nil {
		return nil, rf
	}
	a := s.accountLocked(accountID, false)
	if a == nil {
		return nil, unknownID("account", accountID)
	}
	z := a.auths[authID]
	if z == nil {
		return nil, unknownID("authorization", authID)
	}
	if !s.cfg.StateBeforeDupCheck {
		if rf := s.dupLocked(a.settlements, r, arrival); rf != nil {
			return nil, rf
		}
	}
	status := z.script.Status
	if status == "" {
		status = StatusCompleted
	}
	avail := z.availableToSettle()
	switch {
	case status != StatusCompleted:
		return nil, refuse(http.StatusBadRequest, CodeAlreadySettled, "The authorization is %s and cannot be settled.", status)
	case z.script.Expired:
		return nil, refuse(http.StatusBadRequest, CodeAuthExpired, "The authorization has expired and can no longer be settled.")
	case avail == 0:
		return nil, refuse(http.StatusBadRequest, CodeAlreadySettled, "The authorization has already been fully settled.")
	case len(z.settlements) >= s.cfg.MaxSettlements:
		return nil, refuse(http.StatusBadRequest, CodeMaxSettlements, "The authorization has reached its maximum of %d settlements.", s.cfg.MaxSettlements)
	}
	amount := avail
	if r.Amount != nil {
		amount = *r.Amount
	}
	if amount > avail {
		return nil, refuse(http.StatusBadRequest, CodeAmountExceeds,
			"The settlement amount (%d) exceeds the amount remaining on the authorization (%d).", amount, avail)
	}
	if s.cfg.StateBeforeDupCheck {
		if rf := s.dupLocked(a.settlements, r, arrival); rf != nil {
			return nil, rf
		}
	}
	e := s.newEntryLocked(KindSettlement, a, r.MerchantRefNum, amount, z.script.Currency, dropped)
	e.AuthorizationID, e.auth, e.AvailableToRefund = authID, z, amount
	z.settlements = append(z.settlements, e)
	a.settlements[e.ID] = e
	return e, nil
}

// refundLocked creates a refund against a completed settlement.
func (s *Sandbox) refundLocked(accountID, settlementID string, r SettlementRequest, dropped bool, arrival *refusal) (*entry, *refusal) {
	if rf := validateRequest(r); rf != nil {
		return nil, rf
	}
	a := s.accountLocked(accountID, false)
	if a == nil {
		return nil, unknownID("account", accountID)
	}
	st := a.settlements[settlementID]
	if st == nil {
		return nil, unknownID("settlement", settlementID)
	}
	if !s.cfg.StateBeforeDupCheck {
		if rf := s.dupLocked(a.refunds, r, arrival); rf != nil {
			return nil, rf
		}
	}
	switch st.Status {
	case StatusFailed, StatusCancelled:
		return nil, refuse(http.StatusBadRequest, CodeRefundNotRefundable, "The settlement is %s; there is nothing to refund.", st.Status)
	case StatusCompleted:
	default:
		return nil, refuse(http.StatusBadRequest, CodeRefundNotBatched,
			"The settlement has not been batched yet (status %s); cancel it instead, or refund after the batch.", st.Status)
	}
	amount := st.AvailableToRefund
	if r.Amount != nil {
		amount = *r.Amount
	}
	if amount > st.AvailableToRefund || amount == 0 {
		return nil, refuse(http.StatusBadRequest, CodeRefundExceeds,
			"The refund amount (%d) exceeds the amount available to refund on the settlement (%d).", amount, st.AvailableToRefund)
	}
	if s.cfg.StateBeforeDupCheck {
		if rf := s.dupLocked(a.refunds, r, arrival); rf != nil {
			return nil, rf
		}
	}
	e := s.newEntryLocked(KindRefund, a, r.MerchantRefNum, amount, st.Currency, dropped)
	e.AuthorizationID, e.SettlementID, e.settlement, e.auth = st.AuthorizationID, st.ID, st, st.auth
	st.AvailableToRefund -= amount
	st.refunds = append(st.refunds, e)
	a.refunds[e.ID] = e
	return e, nil
}

func (s *Sandbox) newEntryLocked(kind string, a *account, ref string, amount int64, currency string, dropped bool) *entry {
	now := time.Now().UTC()
	s.entrySeq++
	e := &entry{Entry: Entry{
		Seq:            s.entrySeq,
		Kind:           kind,
		ID:             uuid.NewString(),
		AccountID:      a.id,
		MerchantRefNum: ref,
		Amount:         amount,
		Currency:       currency,
		Status:         s.cfg.InitialStatus,
		ReplyDropped:   dropped,
		History:        []EntryStatus{{Status: s.cfg.InitialStatus, At: now}},
		TxnTime:        now,
		UpdatedAt:      now,
	}}
	s.entries = append(s.entries, e)
	return e
}

// setStatusLocked moves an entry to a final status and gives back the
// money a FAILED or CANCELLED transaction held.
func setStatusLocked(e *entry, status, failure string) {
	now := time.Now().UTC()
	e.Status, e.UpdatedAt = status, now
	e.History = append(e.History, EntryStatus{Status: status, At: now})
	if status == StatusFailed {
		e.FailureMessage = failure
	}
	if live(status) {
		return
	}
	// The authorization's availableToSettle is computed from live
	// settlements; a refund's amount returns to its settlement.
	if e.Kind == KindSettlement {
		e.AvailableToRefund = 0
	} else if e.settlement != nil {
		e.settlement.AvailableToRefund += e.Amount
	}
}

// batchLocked completes (or fails, as scripted) every settlement and refund
// not yet final, in creation order.
func (s *Sandbox) batchLocked() BatchResult {
	var res BatchResult
	for _, e := range s.entries {
		if final(e.Status) {
			continue
		}
		outcome, msg := StatusCompleted, ""
		if e.auth != nil {
			outcome, msg = e.auth.script.BatchOutcome, e.auth.script.FailureMessage
			if e.Kind == KindRefund {
				outcome = e.auth.script.RefundOutcome
			}
		}
		if outcome == StatusFailed {
			if msg == "" {
				msg = DefaultFailureMessage
			}
			setStatusLocked(e, StatusFailed, msg)
			res.Failed++
			continue
		}
		setStatusLocked(e, StatusCompleted, "")
		res.Completed++
	}
	return res
}

// cancelLocked cancels a settlement or refund that is not batched yet.
func (s *Sandbox) cancelLocked(accountID, kind, id string) (*entry, *refusal) {
	a := s.accountLocked(accountID, false)
	if a == nil {
		return nil, unknownID("account", accountID)
	}
	txs := a.settlements
	if kind == KindRefund {
		txs = a.refunds
	}
	e := txs[id]
	if e == nil {
		return nil, unknownID(kind, id)
	}
	if e.Status != StatusReceived && e.Status != StatusPending {
		return nil, refuse(http.StatusConflict, CodeCannotCancel, "The %s is %s and can no longer be cancelled.", kind, e.Status)
	}
	setStatusLocked(e, StatusCancelled, "")
	return e, nil
}

// findLocked returns a transaction by id.
func (s *Sandbox) findLocked(accountID, kind, id string) (*entry, *refusal) {
	a := s.accountLocked(accountID, false)
	if a == nil {
		return nil, unknownID("account", accountID)
	}
	txs := a.settlements
	if kind == KindRefund {
		txs = a.refunds
	}
	if e := txs[id]; e != nil {
		return e, nil
	}
	return nil, unknownID(kind, id)
}

// lookupLocked lists an account's transactions of a kind, optionally by
// merchantRefNum, in creation order. An unknown account has none.
func (s *Sandbox) lookupLocked(accountID, kind, ref string) []*entry {
	var out []*entry
	for _, e := range s.entries {
		if e.AccountID == accountID && e.Kind == kind && (ref == "" || e.MerchantRefNum == ref) {
			out = append(out, e)
		}
	}
	return out
}
