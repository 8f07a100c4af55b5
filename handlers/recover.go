package handlers

import (
	"context"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

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
		return h.Log.With().Str("provider", h.Provider.Name()).Str("message_id", messages.MaskPANs(msg.UUID)).Logger()
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
		log := h.Log.With().Str("provider", h.Provider.Name()).Str("message_id", messages.MaskPANs(msg.UUID)).Logger()
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
	if _, _, err := h.Store.Transition(ctx, key, []store.State{cur}, cur, store.Change{ParkedReason: &reason, Note: "parked: handler panic",
		Refs: map[string]string{refParking: newParking()}}, nil); err != nil {
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
		return h.Log.With().Str("provider", h.Provider).Str("message_id", messages.MaskPANs(msg.UUID)).Logger()
	}
	// ride runs the handler again only after holding it while the store
	// did not answer: the time between two runs of one ride is held
	// time, the hold's (STORE_OUTAGE_HOLD), never the budget's.
	var held time.Duration
	var lastRun time.Time
	err := h.Outage.ride(msg, h.Provider, "status", logger, func() error {
		if !lastRun.IsZero() {
			held += time.Since(lastRun)
		}
		err := h.handleRecovered(msg)
		lastRun = time.Now()
		return err
	}, func(ctx context.Context, reason string) error { return h.park(ctx, msg, reason, logger()) })
	if err == nil {
		return nil
	}
	return h.budget(msg, err, held, logger)
}

// In-process metadata of a status delivery (never published nor read from
// a header: broker.Marshaler leaves "_watermill_" keys out both ways),
// carried by the router's in-place retries and the keyed subscriber's
// copies of a nacked delivery (broker.KeyedSubscriber hands it out again
// in-process, without bound).
const (
	metaStatusFailedRuns   = "_watermill_local_status_failed_runs"
	metaStatusFailingSince = "_watermill_local_status_failing_since"
)

// budget counts one failed run of msg, whose error err ride returned (the
// store answered, or no outage hold is configured): handed back, it is
// handed out again in-process, for ever. Once it failed RetryRuns runs, or
// at least twice over RetryFor since its first failure, it is parked with
// the last error; a park that fails hands it back, and the next failure
// tries again. A delivery held while the store does not answer is not
// counted here (ride holds it, and parks it after STORE_OUTAGE_HOLD): nor
// is the time it was held (held, this run's), which moves its first
// failure that much later.
func (h *ProviderStatus) budget(msg *message.Message, err error, held time.Duration, logger func() zerolog.Logger) error {
	now := time.Now()
	runs, _ := strconv.Atoi(msg.Metadata.Get(metaStatusFailedRuns))
	runs++
	since, perr := time.Parse(time.RFC3339Nano, msg.Metadata.Get(metaStatusFailingSince))
	if perr != nil {
		since = now
	} else {
		since = since.Add(held)
	}
	msg.Metadata.Set(metaStatusFailingSince, since.Format(time.RFC3339Nano))
	msg.Metadata.Set(metaStatusFailedRuns, strconv.Itoa(runs))
	maxRuns, maxFor := h.RetryRuns, h.RetryFor
	if maxRuns <= 0 {
		maxRuns = 40
	}
	if maxFor <= 0 {
		maxFor = 10 * time.Minute
	}
	if runs < maxRuns && (runs < 2 || now.Sub(since) < maxFor) {
		return err
	}
	reason := fmt.Sprintf("provider status failed on each of its %d runs over %s while the store answered (last error: %s): not applied; "+
		"its settlement is left as it was; fix the cause (the worker log names it), then ask the provider to send the status again, "+
		"or settle an acknowledged settlement by hand from this status (it is parked at its status deadline otherwise); then purge it (replay never moves a parked provider status)",
		runs, now.Sub(since).Round(time.Second), maskedText(err.Error(), 400))
	ctx, cancel := context.WithTimeout(context.WithoutCancel(msg.Context()), statusBudget)
	defer cancel()
	if perr := h.park(ctx, msg, reason, logger()); perr != nil {
		return fmt.Errorf("%w (and parking it after %d failed runs failed: %v)", err, runs, perr)
	}
	return nil
}

// handleRecovered is Handle with a panic turned into a parked status.
func (h *ProviderStatus) handleRecovered(msg *message.Message) (err error) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		log := h.Log.With().Str("provider", h.Provider).Str("message_id", messages.MaskPANs(msg.UUID)).Logger()
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
