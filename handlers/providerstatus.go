package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// ProviderStatus is the Watermill handler for a provider's asynchronous
// status queue (Radial's q.Payments.Settlements.Status.<suffix>). It matches
// each PaymentSettlementStatus to the settlement it answers, records the
// verdict and publishes our status event. A status that cannot be parsed or
// matched is parked with the reason, never dropped.
//
// Correlation rule (Radial's status carries no requestId):
//
//  1. The worker always sends a ClientContext (the request's own, or its
//     requestId when it had none), and Radial echoes it. A status with a
//     ClientContext matches the settlements of the same provider and StoreId
//     with that correlation id; they must also agree on OrderId, TenderType,
//     SettlementType and Amount, else the status is parked as conflicting.
//  2. A status without ClientContext matches on StoreId, OrderId, TenderType,
//     SettlementType and Amount.
//  3. A status already recorded (same AMQP message_id, or the same body when
//     there is no message_id) is a redelivery: its event is republished.
//  4. Among the candidates, the oldest one awaiting a verdict (submitting or
//     acknowledged) takes the status; when several are equally plausible the
//     oldest wins and a warning is logged.
//  5. With none awaiting, the status is a later one (a chargeback R after an
//     S) for the most recent finished candidate, and is published as a
//     further event.
//  6. No candidate: parked with "no settlement matches".
type ProviderStatus struct {
	// Provider is the provider's name (radial).
	Provider string
	// Queue is the provider's status queue (for parked_from_queue).
	Queue string
	// Store is the settlement store.
	Store store.Store
	// Pub publishes our status events and parked statuses.
	Pub Publisher
	// Log is the handler's logger.
	Log zerolog.Logger
	// Metrics, when set, counts outcomes.
	Metrics *Metrics
	// Crash, when set, is called at crash points (test builds only).
	Crash func(point string)
}

var awaiting = []store.State{store.StateSubmitting, store.StateAcknowledged}
var finished = []store.State{store.StateSettled, store.StateRefused}

// Handle implements message.NoPublishHandlerFunc.
func (h *ProviderStatus) Handle(msg *message.Message) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(msg.Context()), statusBudget)
	defer cancel()
	log := h.Log.With().Str("provider", h.Provider).Str("message_id", msg.UUID).Logger()

	st, err := messages.DecodeSettlementStatus(msg.Payload)
	if err != nil {
		return h.park(ctx, msg, "unparseable provider status: "+err.Error(), log)
	}
	if err := st.Validate(); err != nil {
		return h.park(ctx, msg, "invalid provider status: "+err.Error(), log)
	}
	log = log.With().Str("order_id", st.OrderID()).Str("store_id", st.StoreID).
		Str("settlement_status", st.SettlementStatus).Logger()

	unlock, err := h.Store.LockOrder(ctx, h.Provider, st.StoreID, st.OrderID())
	if err != nil {
		return fmt.Errorf("lock order: %w", err)
	}
	defer unlock()

	dedup := dedupKey(msg)
	cands, reason, err := h.candidates(ctx, st)
	if err != nil {
		return err
	}
	if len(cands) == 0 {
		return h.park(ctx, msg, reason, log)
	}
	// A redelivered status: republish what was recorded for it.
	for _, c := range cands {
		evs, err := h.Store.Statuses(ctx, c.Key)
		if err != nil {
			return fmt.Errorf("read statuses of %s: %w", c.RequestID, err)
		}
		for _, ev := range evs {
			if ev.DedupKey == dedup {
				log.Info().Str("request_id", c.RequestID).Msg("provider status seen before; republishing our event")
				return publishStatus(ctx, h.Pub, h.Store, c, ev)
			}
		}
	}

	target, from := pick(cands)
	if target == nil {
		return h.park(ctx, msg, fmt.Sprintf("%d settlement(s) match but none has been submitted yet", len(cands)), log)
	}
	if n := countIn(cands, from); n > 1 {
		log.Warn().Int("candidates", n).Str("request_id", target.RequestID).Msg("ambiguous provider status: several settlements match; the oldest takes it")
	}
	log = log.With().Str("request_id", target.RequestID).Logger()

	to := store.StateSettled
	if st.SettlementStatus == messages.StatusRejected {
		to = store.StateRefused
	}
	ours := h.ourStatus(*target, st)
	ev, err := newStatusEvent(target.Key, dedup, ours)
	if err != nil {
		return err
	}
	ch := store.Change{Note: "provider status " + st.SettlementStatus}
	if st.DeclineReason != "" {
		r := st.DeclineReason
		ch.DeclineReason = &r
	}
	s, rec, err := h.Store.Transition(ctx, target.Key, from, to, ch, ev)
	if err != nil {
		return fmt.Errorf("record provider status for %s: %w", target.RequestID, err)
	}
	if h.Crash != nil {
		h.Crash(CrashAfterTerminalCommit)
	}
	if err := publishStatus(ctx, h.Pub, h.Store, s, *rec); err != nil {
		return err
	}
	if h.Crash != nil {
		h.Crash(CrashAfterStatusPublish)
	}
	kind := "final"
	if containsState(finished, target.State) {
		kind = "later"
	}
	h.Metrics.outcome(h.Provider, string(to))
	log.Info().Str("kind", kind).Str("decline_reason", st.DeclineReason).Msg("provider status recorded and published")
	return nil
}

// candidates applies rules 1, 2 and 6.
func (h *ProviderStatus) candidates(ctx context.Context, st *messages.PaymentSettlementStatus) ([]store.Settlement, string, error) {
	amount := st.Amount.Value
	if m, err := st.Amount.Money(); err == nil {
		amount = m.String()
	}
	c := store.Correlation{
		Provider: h.Provider, StoreID: st.StoreID, OrderID: st.OrderID(), TenderType: st.TenderType,
		SettlementType: st.SettlementType, Amount: amount, Currency: st.Amount.CurrencyCode,
		CorrelationID: st.ClientContext,
	}
	cands, err := h.Store.Find(ctx, c)
	if err != nil {
		return nil, "", fmt.Errorf("find settlements: %w", err)
	}
	if len(cands) > 0 {
		return cands, "", nil
	}
	if st.ClientContext != "" {
		byCtx, err := h.Store.Find(ctx, store.Correlation{Provider: h.Provider, StoreID: st.StoreID, CorrelationID: st.ClientContext})
		if err != nil {
			return nil, "", fmt.Errorf("find settlements: %w", err)
		}
		if len(byCtx) > 0 {
			o := byCtx[0]
			return nil, fmt.Sprintf("ClientContext %q belongs to request %s (order %s, %s %s %s %s) but the status says order %s, %s %s %s %s: conflicting, not applied",
				st.ClientContext, o.RequestID, o.OrderID, o.TenderType, o.SettlementType, o.Amount, o.Currency,
				st.OrderID(), st.TenderType, st.SettlementType, amount, st.Amount.CurrencyCode), nil
		}
	}
	return nil, fmt.Sprintf("no settlement matches store %s, order %s, tender %s, %s %s %s, ClientContext %q",
		st.StoreID, st.OrderID(), st.TenderType, st.SettlementType, amount, st.Amount.CurrencyCode, st.ClientContext), nil
}

// pick applies rules 4 and 5: the oldest awaiting candidate, else the most
// recent finished one. It returns the states to transition from.
func pick(cands []store.Settlement) (*store.Settlement, []store.State) {
	for i := range cands {
		if containsState(awaiting, cands[i].State) {
			return &cands[i], awaiting
		}
	}
	for i := len(cands) - 1; i >= 0; i-- {
		if containsState(finished, cands[i].State) {
			return &cands[i], finished
		}
	}
	return nil, nil
}

// ourStatus rebuilds the status from the stored request, so that the order
// system gets its own ClientContext and payment context back.
func (h *ProviderStatus) ourStatus(s store.Settlement, st *messages.PaymentSettlementStatus) messages.PaymentSettlementStatus {
	var req *messages.PaymentSettlementRequest
	var err error
	if strings.Contains(s.ContentType, "json") {
		req, err = messages.DecodeSettlementRequestJSON(s.Request)
	} else {
		req, err = messages.DecodeSettlementRequest(s.Request)
	}
	if err != nil {
		out := *st
		out.ClientContext = s.ClientContext
		return out
	}
	tender := s.TenderType
	if tender == "" {
		tender = st.TenderType
	}
	return statusFor(req, s.StoreID, tender, st.SettlementStatus, st.DeclineReason)
}

func (h *ProviderStatus) park(ctx context.Context, msg *message.Message, reason string, log zerolog.Logger) error {
	if err := parkMessage(ctx, h.Pub, msg, broker.ProviderStatusParkedQueue(h.Provider), h.Queue, reason, 0); err != nil {
		return err
	}
	h.Metrics.outcome(h.Provider, "status_parked")
	log.Warn().Str("parked_reason", reason).Msg("provider status parked")
	return nil
}

// dedupKey identifies a provider status across redeliveries.
func dedupKey(msg *message.Message) string {
	if id := msg.Metadata.Get(broker.MetaMessageID); id != "" {
		return "amqp:" + id
	}
	sum := sha256.Sum256(msg.Payload)
	return "body:" + hex.EncodeToString(sum[:])
}

func containsState(set []store.State, s store.State) bool {
	for _, x := range set {
		if x == s {
			return true
		}
	}
	return false
}

func countIn(cands []store.Settlement, states []store.State) int {
	n := 0
	for _, c := range cands {
		if containsState(states, c.State) {
			n++
		}
	}
	return n
}

// statusBudget bounds the handling of one provider status.
const statusBudget = time.Minute
