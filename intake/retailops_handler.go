package intake

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/messages"
)

// retailOPS handles POST <RetailOPS.Path>: the order_settle_payment v1
// webhook. Answers:
//
//   - 200 {"events": []}: every request was published and confirmed by
//     the broker (or the order had nothing to capture).
//   - 200 {"events": [errors]}: a well-formed, authenticated call whose
//     order cannot be settled (channel not configured, bad amounts...);
//     nothing was published. The seed's response example is a 200 that
//     carries error events: RetailOPS records them on the order.
//   - 400 + error event: not JSON, or not order_settle_payment version 1.
//   - 401 + error event: no valid integration auth key (RetailOps SDK:
//     "A bad integration auth key value must result in a HTTP 401").
//   - 405 / 413 / 415 + error event: wrong method, body too large, not
//     application/json.
//   - 503 + error event: publishing failed or timed out. RetailOPS
//     retries; the derived requestIds make the retry settle once.
func (s *Server) retailOPS(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	log := s.log.With().Str("endpoint", "retailops").Logger()
	body, release, ref := s.preflight(w, r, "application/json")
	defer release()
	if ref != nil {
		log.Warn().Int("status", ref.status).Str("code", ref.code).Msg(ref.msg)
		writeEvents(w, ref.status, newEvent(ref.code, ref.msg, orderRef{}))
		return
	}
	keys := s.cfg.RetailOPS.AuthKeys
	headerAuth := secretMatches(bearerToken(r), keys)
	env, err := decodeEnvelope(body)
	if err != nil {
		log.Warn().Str(zerolog.ErrorFieldName, maskedError(err)).Msg("refused: body is not a JSON object")
		writeEvents(w, http.StatusBadRequest, newEvent(ErrMalformedJSON,
			"the request body is not a valid JSON object: "+err.Error(), orderRef{}))
		return
	}
	// RetailOPS's documented scheme is the integration auth key in the
	// body's integration_auth_token field; Authorization: Bearer <key> is
	// accepted too (for proxies and tests). Both compare in constant time.
	if !headerAuth && !secretMatches(env.IntegrationAuthToken, keys) {
		log.Warn().Str("remote", r.RemoteAddr).Msg("refused: missing or wrong integration auth key")
		w.Header().Set("WWW-Authenticate", `Bearer realm="retailops"`)
		writeEvents(w, http.StatusUnauthorized, newEvent(ErrUnauthorized,
			"missing or wrong integration auth key (integration_auth_token)", orderRef{}))
		return
	}
	order := orderOf(env.Data.Order)
	// The order and channel ids are quoted on every line, also when they
	// are refused: masked, as the refusal's event is (its associations
	// name the order as RetailOPS sent it, to RetailOPS alone).
	log = log.With().Str("order_id", messages.MaskPANs(order.id)).Str("channel", clip(messages.MaskPANs(env.Data.Channel.ID.Text))).Logger()
	if ev, ok := checkAction(env, order); !ok {
		log.Warn().Str("action", messages.MaskPANs(env.Action.Text)).Str("version", messages.MaskPANs(env.Version.Text)).Msg("refused: " + ev.ErrorMessage)
		writeEvents(w, http.StatusBadRequest, ev)
		return
	}

	plan := planSettlement(env, s.cfg.RetailOPS)
	for _, o := range plan.out {
		if msg := s.oversized(o.req); msg != "" {
			plan.events = append(plan.events, newEvent(ErrRequestTooLarge,
				fmt.Sprintf("the settlement request %s built from the order %s; nothing was settled", o.req.RequestID, msg), order, o.req.RequestID))
		}
	}
	for i, sk := range plan.skipped {
		if i == maxSkippedLogged {
			// One line per package would grow with the body.
			log.Info().Int("more", len(plan.skipped)-i).Msg("not settled: more accounts or packages, not listed")
			break
		}
		log.Info().Str("skipped", messages.MaskPANs(sk)).Msg("not settled")
	}
	if len(plan.events) > 0 {
		plan.events = summarize(plan.events, order)
		for _, ev := range plan.events {
			log.Warn().Str("code", ev.ErrorCode).Strs("diagnostic", ev.DiagnosticData).Msg("order refused: " + ev.ErrorMessage)
		}
		writeEvents(w, http.StatusOK, plan.events...)
		return
	}
	if len(plan.out) == 0 {
		log.Info().Msg("nothing to settle for this order")
		writeEvents(w, http.StatusOK)
		return
	}
	ctx, cancel := s.publishContext(r)
	defer cancel()
	ids := make([]string, len(plan.out))
	for i, o := range plan.out {
		ids[i] = o.req.RequestID
	}
	if err := publishAll(ctx, s.pub, plan.out, s.cfg.PublishConcurrency); err != nil {
		log.Error().Str(zerolog.ErrorFieldName, maskedError(err)).Strs("request_ids", maskedIDs(ids)).Msg("publishing failed; answering 503 so that RetailOPS retries")
		w.Header().Set("Retry-After", "5")
		writeEvents(w, http.StatusServiceUnavailable, newEvent(ErrPublishFailed,
			"the settlement requests were not all confirmed by the broker; some may have been queued and will be settled: retry the same webhook (it is safe: the requestIds are derived from the order, each is settled once)",
			order, ids...))
		return
	}
	for _, o := range plan.out {
		log.Info().Str("request_id", messages.MaskPANs(o.req.RequestID)).Str("provider", o.provider).Str("store_id", messages.MaskPANs(o.storeID)).
			Str("amount", o.req.Amount.Value).Str("currency", o.req.Amount.CurrencyCode).Msg("settlement request queued")
	}
	log.Info().Int("requests", len(plan.out)).Dur("took", time.Since(start)).Msg("order_settle_payment accepted")
	writeEvents(w, http.StatusOK)
}

// checkAction refuses anything but order_settle_payment version 1.
func checkAction(env *settleEnvelope, order orderRef) (Event, bool) {
	action, version := strings.TrimSpace(env.Action.Text), strings.TrimSpace(env.Version.Text)
	switch {
	case action == "":
		return newEvent(ErrUnsupportedAction, "action is required: this endpoint implements order_settle_payment", order, "action"), false
	case action != actionSettlePayment:
		return newEvent(ErrUnsupportedAction, fmt.Sprintf("action %q is not implemented by this endpoint: only %s is", action, actionSettlePayment),
			order, "action="+action), false
	case version == "":
		return newEvent(ErrUnsupportedVersion, "version is required: this endpoint implements order_settle_payment version 1", order, "version"), false
	case version != versionSettlePayment:
		return newEvent(ErrUnsupportedVersion, fmt.Sprintf("%s version %s is not supported: only version %s is", actionSettlePayment, version, versionSettlePayment),
			order, "version="+version), false
	}
	return Event{}, true
}
