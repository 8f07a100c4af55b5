package handlers

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// HandleSafely is Handle with a panic turned into a parked message: a
// handler panic (a bug, a malformed reply the code did not expect) would
// otherwise nack and requeue the message at once, in a hot loop, until a
// quorum queue's delivery limit dead-letters it without a reason (and
// forever on a classic queue). The message is parked once, with the panic
// in parked_reason; the settlement, when it is recorded, gets the same
// parked reason; the panic is counted in settlement_handler_panics_total.
//
// A run that fails while the store does not answer is held and run again
// once it does (h.Outage; see StoreOutage).
func (h *Settlement) HandleSafely(msg *message.Message) error {
	logger := func() zerolog.Logger {
		return h.Log.With().Str("provider", h.Provider.Name()).Str("message_id", msg.UUID).Logger()
	}
	return h.Outage.ride(msg, h.Provider.Name(), "settle", logger, func() error { return h.handleRecovered(msg) },
		func(ctx context.Context, reason string) error { return h.park(ctx, msg, 0, reason, logger()) })
}

// handleRecovered is Handle with a panic turned into a parked message.
func (h *Settlement) handleRecovered(msg *message.Message) (err error) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		reason := panicReason(r)
		log := h.Log.With().Str("provider", h.Provider.Name()).Str("message_id", msg.UUID).Logger()
		log.Error().Str("panic", messages.MaskPANs(fmt.Sprint(r))).Bytes("stack", debug.Stack()).Msg("handler panicked; parking the message")
		h.Metrics.panicked(h.Provider.Name(), "settle")
		ctx, cancel := context.WithTimeout(context.WithoutCancel(msg.Context()), h.budget())
		defer cancel()
		h.recordPanic(ctx, msg, reason, log)
		err = h.park(ctx, msg, 0, reason, log)
	}()
	return h.Handle(msg)
}

// recordPanic sets the parked reason on the settlement the message
// belongs to, when it is recorded (best effort: the parked message is what
// an operator replays).
//
// It runs inside HandleSafely's recovery: a panic of its own (the bug
// striking again while it decodes or reads) is logged and dropped, so
// that the message is still parked instead of the process ending and
// every replica crashing on its redelivery in turn.
func (h *Settlement) recordPanic(ctx context.Context, msg *message.Message, reason string, log zerolog.Logger) {
	defer func() {
		if r := recover(); r != nil {
			log.Error().Str("panic", messages.MaskPANs(fmt.Sprint(r))).Msg("panicked again while recording the panic on the settlement; the message is parked, the settlement left as it is")
		}
	}()
	req, err := decodeRequest(msg)
	if err != nil || req.RequestID == "" {
		return
	}
	key := store.Key{Provider: h.Provider.Name(), RequestID: req.RequestID}
	s, err := h.Store.Get(ctx, key)
	if err != nil {
		return
	}
	// Only the recorded request's own delivery: a duplicate whose body or
	// money headers differ (another order lock; unrecorded when it was
	// read) is not that settlement, which goes on unparked.
	if h.identityMismatch(s, req, msg) != "" {
		log.Warn().Str("recorded_state", string(s.State)).Msg("the panicked delivery is not the recorded request; its settlement is left as it is")
		return
	}
	// A compare-and-set on the state just read: a verdict recorded
	// meanwhile (the provider's status, which takes no order lock while
	// the settlement awaits it) is not moved back.
	cur := s.State
	if _, _, err := h.Store.Transition(ctx, key, []store.State{cur}, cur, store.Change{ParkedReason: &reason, Note: "parked: handler panic"}, nil); err != nil {
		log.Warn().Err(err).Msg("could not record the parking on the settlement")
		return
	}
	markParkingRecorded(msg)
}

// HandleSafely is Handle with a panic turned into a parked status (see
// Settlement.HandleSafely).
//
// A run that fails while the store does not answer is held and run again
// once it does (h.Outage; see StoreOutage).
func (h *ProviderStatus) HandleSafely(msg *message.Message) error {
	logger := func() zerolog.Logger {
		return h.Log.With().Str("provider", h.Provider).Str("message_id", msg.UUID).Logger()
	}
	return h.Outage.ride(msg, h.Provider, "status", logger, func() error { return h.handleRecovered(msg) },
		func(ctx context.Context, reason string) error { return h.park(ctx, msg, reason, logger()) })
}

// handleRecovered is Handle with a panic turned into a parked status.
func (h *ProviderStatus) handleRecovered(msg *message.Message) (err error) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		log := h.Log.With().Str("provider", h.Provider).Str("message_id", msg.UUID).Logger()
		log.Error().Str("panic", messages.MaskPANs(fmt.Sprint(r))).Bytes("stack", debug.Stack()).Msg("status handler panicked; parking the status")
		h.Metrics.panicked(h.Provider, "status")
		ctx, cancel := context.WithTimeout(context.WithoutCancel(msg.Context()), statusBudget)
		defer cancel()
		err = h.park(ctx, msg, panicReason(r), log)
	}()
	return h.Handle(msg)
}

// panicReason is the parked reason of a panic (one line, bounded, card
// numbers masked before the cut).
func panicReason(r any) string {
	s := strings.Join(strings.Fields(fmt.Sprint(r)), " ")
	return "the worker failed on this message (a bug: handler panic: " + maskedText(s, 300) + "); it was parked, not retried: report it, then replay"
}
