package radial

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/money"
)

// handleConfirm serves POST .../payments/funds/confirm/{TenderType}.xml.
func (s *Sandbox) handleConfirm(w http.ResponseWriter, r *http.Request) {
	const ep = EndpointConfirm
	c, plan, ok := s.begin(w, r, ep)
	if !ok {
		return
	}
	req, amount, fp, ok := confirmRequest.read(s, w, r, ep, c)
	if !ok {
		return
	}

	s.mu.Lock()
	reply, dup, conflict := s.confirmLocked(c, req, amount, fp)
	s.countDedupLocked(ep, dup, conflict)
	s.mu.Unlock()

	if conflict {
		s.writeXML(w, http.StatusBadRequest, fault(FaultDuplicateRequestID, "requestId "+req.RequestID+" was already used for a different ConfirmFundsRequest"))
		return
	}
	s.log.Info().Str("request_id", req.RequestID).Str("store_id", c.store).Str("tender_type", c.tender).
		Str("order_id", messages.OrderIDOf(req.PaymentContext, req.PaymentContextBase)).Str("account", accountOf(req.PaymentContext)).
		Str("amount", amount.String()).Str("currency", amount.Currency).Str("funds_available", reply.FundsAvailable).
		Bool("duplicate", dup).Msg("confirm funds")
	if plan.Drop {
		s.dropReply(w, ep)
		return
	}
	s.writeXML(w, http.StatusOK, reply)
}

// confirmLocked answers a ConfirmFundsRequest, deduplicated by requestId.
func (s *Sandbox) confirmLocked(c apiCall, req *messages.ConfirmFundsRequest, amount money.Money, fp string) (reply *messages.ConfirmFundsReply, dup, conflict bool) {
	if rec, ok := s.confirms[req.RequestID]; ok {
		if rec.fingerprint != fp {
			return nil, false, true
		}
		return rec.reply, true, false
	}
	order := messages.OrderIDOf(req.PaymentContext, req.PaymentContextBase)
	reply = &messages.ConfirmFundsReply{
		PaymentContext:     req.PaymentContext,
		PaymentContextBase: req.PaymentContextBase,
		FundsAvailable:     s.fundsLocked(c.store, order, amount),
	}
	if req.PerformReauthorization {
		reply.ReauthorizationAttempted = "true"
		// A reauthorization that succeeded is a new authorization at the
		// processor: the customer's funds are held again. A repeat of the
		// same requestId (above) is answered from the record and holds
		// nothing more; a new requestId is a new reauthorization.
		if z := s.auths[authKey{c.store, order}]; z != nil && reply.FundsAvailable == messages.FundsSuccess {
			z.reauths++
		}
	}
	s.confirms[req.RequestID] = &confirmRecord{fingerprint: fp, reply: reply}
	return reply, false, false
}

// fundsLocked decides FundsAvailable: the scripted outcome, else Success
// when the authorization exists (or is auto-created) and covers amount.
func (s *Sandbox) fundsLocked(store, order string, amount money.Money) string {
	k := authKey{store, order}
	z := s.auths[k]
	if z == nil {
		if !*s.cfg.AutoAuthorize {
			return messages.FundsFail
		}
		z = s.autoAuthorizeLocked(k, amount)
	}
	if z.script.FundsOutcome != "" {
		return z.script.FundsOutcome
	}
	if z.amount.Currency != amount.Currency || amount.Amount.GreaterThan(z.amount.Amount) {
		return messages.FundsFail
	}
	return messages.FundsSuccess
}

// fingerprint hashes the URL's store and tender type and the canonical
// encoding of a decoded request, so that a resubmission that differs only in
// white space counts as the same.
func fingerprint(c apiCall, v any) (string, error) {
	b, err := messages.Encode(v)
	if err != nil {
		return "", fmt.Errorf("encoding for the fingerprint: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(c.store + "\x00" + c.tender + "\x00"))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// accountOf returns the masked account number, for logs.
func accountOf(pc *messages.PaymentContext) string {
	if pc == nil {
		return ""
	}
	return messages.MaskAccount(pc.PaymentAccountUniqueID.Value)
}
