package handlers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// Sweeper makes sure nothing waits forever in silence. Every Interval it:
//
//  1. relays the outbox: status events recorded in the store but never
//     confirmed as published (a crash between the terminal commit and the
//     publish whose message is gone) are published again, with their
//     recorded message_id; one the broker refuses (unroutable, nacked)
//     is tried again on a later round and does not hold back the others:
//     each round reads at most Batch events, going on after the last one
//     the previous round looked at and wrapping to the oldest at the end,
//     so every unpublished event is visited every ceil(outbox/Batch)
//     rounds. A settlement's events are relayed in order (seq): a later
//     one is never relayed while an earlier one is unpublished (it
//     publishes the earlier ones first, and waits behind one the broker
//     refuses), so a chargeback R does not overtake the S it reverses;
//     an event whose settlement has a later one published (its own mark
//     lost) is marked published, not republished after it;
//  2. parks settlements acknowledged by an asynchronous provider (Radial)
//     that got no verdict within the provider's Facts.StatusDeadline: the
//     settlement gets a parked reason and a copy of its request goes to the
//     parked queue, so that alerts, `parked ls` and the operator see it;
//     like the relay, it reads at most Batch a round per provider, going
//     on after the last one the previous round handled, so settlements
//     whose parked copy cannot be sent do not hold back the others;
//  3. resumes settlements left in an in-flight state (received, confirming,
//     confirmed, submitting, pending) for longer than StuckAfter, whose
//     message may be gone: the recorded request is published to the
//     provider's request queue again, and the pipeline resumes it from the
//     store (the settle window, reconciliation, the attempt budget and the
//     pending deadline all apply, so it ends settled, refused or parked).
//     One whose request cannot be republished because its recorded
//     headers, with the resume's own, do not fit the broker's frame
//     (broker.HeadersTooLargeError: no later round could send it either)
//     is parked instead, once, with a copy that fits and a reason.
//
// A step that fails does not stop the round: the next steps run, and the
// round's error joins the steps' errors. A row whose sealed body cannot
// be opened (store.UnreadableError: a key no longer configured, a damaged
// value) is skipped, logged with its key (never its content) and counted
// (settlement_swept_total, action "unreadable"), and the others are
// handled.
//
// With replicas, one sweeper runs a round at a time (a store lock). A
// round that does not end by RoundTimeout (a statement or publish that
// hangs) is cancelled: it returns an error and releases the lock. Rounds
// are counted by outcome (settlement_sweeper_rounds_total) and a completed
// one sets settlement_sweeper_last_completed_timestamp_seconds (alert
// SettlementSweeperNotRunning).
type Sweeper struct {
	// Store is the settlement store.
	Store store.Store
	// Marks, when set, is the Marker of this process's handlers: the relay
	// flushes it before reading the outbox, so that an event confirmed but
	// whose mark is still queued is not relayed as lost.
	Marks *store.Marker
	// Pub publishes relayed events, parked copies and resumed requests.
	Pub Publisher
	// Providers are the enabled providers by name; settlements of others
	// are left alone.
	Providers map[string]providers.Provider
	// Interval is the time between rounds.
	Interval time.Duration
	// StuckAfter is how long a settlement may stay in an in-flight state
	// without a transition before it is resumed. It must exceed the longest
	// retry delay plus the longest settle window.
	StuckAfter time.Duration
	// OutboxAfter is how old an unpublished event must be before it is
	// relayed (the pipeline publishes right after recording it).
	OutboxAfter time.Duration
	// Retention, when positive, empties the request and published event
	// bodies (which may hold raw card numbers) of settlements finished
	// longer ago (store.PurgeBodies).
	Retention time.Duration
	// RoundTimeout is the longest a round may take (default 10 × Interval,
	// or 5 minutes without an Interval): a store statement or publish that
	// does not return by then ends the round with an error, and the sweep
	// lock is released for the next round, here or on another replica.
	RoundTimeout time.Duration
	// Batch bounds the rows each step handles per round (default 500).
	Batch int
	// Log is the sweeper's logger.
	Log zerolog.Logger
	// Metrics, when set, counts what the sweeper did.
	Metrics *Metrics
	// Now is the clock (default time.Now).
	Now func() time.Time

	// cursorMu guards outbox and parkAfter.
	cursorMu sync.Mutex
	// outbox is where the next relay goes on reading the outbox: after the
	// last event the previous one looked at. Events left there for good
	// (refused by the broker, not valid documents) stay the oldest: read
	// from the oldest every round, they would fill every batch and hold
	// back the events behind them.
	outbox store.OutboxCursor
	// parkAfter is, by provider, where the next parkOverdue goes on
	// reading: a settlement whose parked copy cannot be sent is never
	// recorded as parked and stays the oldest acknowledged one.
	parkAfter map[string]store.StaleCursor
}

// errRoundTimeout is the cause of a round's context ended at RoundTimeout.
var errRoundTimeout = errors.New("sweep round deadline")

// SweepReport counts what one round did.
type SweepReport struct {
	Relayed, Parked, Resumed, Purged int
}

// inFlight are the states a settlement passes through while its message is
// being handled or waits in a retry queue.
var inFlight = []store.State{store.StateReceived, store.StateConfirming, store.StateConfirmed, store.StateSubmitting, store.StatePending}

// Run sweeps every Interval until ctx ends.
func (w *Sweeper) Run(ctx context.Context) error {
	t := time.NewTicker(w.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		rep, err := w.Sweep(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			w.Log.Warn().Err(err).Msg("sweep failed; trying again next round")
		case rep != SweepReport{}:
			w.Log.Info().Int("relayed", rep.Relayed).Int("parked", rep.Parked).Int("resumed", rep.Resumed).Int("bodies_purged", rep.Purged).Msg("sweep")
		}
	}
}

// Sweep runs one round (see Sweeper). It skips the round when another
// replica holds the sweep lock. Each round is counted by outcome
// (SweepOutcomes), unless ctx ended (the worker stopping).
func (w *Sweeper) Sweep(ctx context.Context) (SweepReport, error) {
	rep, outcome, err := w.sweep(ctx)
	if ctx.Err() == nil {
		w.Metrics.round(outcome, time.Now())
	}
	return rep, err
}

// sweep runs one round and says how it ended (SweepOutcomes).
func (w *Sweeper) sweep(ctx context.Context) (SweepReport, string, error) {
	var rep SweepReport
	lctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	unlock, err := w.Store.LockOrder(lctx, "sweeper", "", "round")
	cancel()
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return rep, "skipped", nil // another replica sweeps
		}
		return rep, "failed", fmt.Errorf("take the sweep lock: %w", err)
	}
	defer unlock()
	// The round's deadline: a statement or publish that hangs must not
	// hold the lock forever (this replica would never sweep again, and the
	// others would skip their rounds in silence).
	ctx, cancelRound := context.WithTimeoutCause(ctx, w.roundTimeout(), errRoundTimeout)
	defer cancelRound()
	now := w.now()
	// Every step runs whatever the others did: one failing (a row it cannot
	// handle, a query) must not stop the others round after round.
	var errs []error
	outcome := "completed"
	step := func(name string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			if !onlyRefused(err) {
				outcome = "failed"
			}
		}
	}
	step("relay the outbox", w.relay(ctx, now, &rep))
	step("park overdue settlements", w.parkOverdue(ctx, now, &rep))
	step("resume stuck settlements", w.resume(ctx, now, &rep))
	if w.Retention > 0 {
		n, err := w.Store.PurgeBodies(ctx, now.Add(-w.Retention), w.batch())
		rep.Purged += n
		step("purge bodies", err)
	}
	err = errors.Join(errs...)
	if err != nil && errors.Is(context.Cause(ctx), errRoundTimeout) {
		outcome = "timed_out"
		err = fmt.Errorf("round ended at its deadline (%s; SWEEP_TIMEOUT): %w", w.roundTimeout(), err)
	}
	return rep, outcome, err
}

// onlyRefused reports whether err (a step's, joined from its rows') is
// only messages the broker or publisher refused (broker.IsMessageRefused):
// the step ran to its end, and those rows are counted and alerted on
// (settlement_swept_total, actions unrelayed and unresumed).
func onlyRefused(err error) bool {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if !onlyRefused(e) {
				return false
			}
		}
		return true
	}
	return broker.IsMessageRefused(err)
}

// skipUnreadable logs and counts the rows a read left out because their
// sealed body cannot be opened (store.UnreadableError, returned with the
// rows that could be read) and returns nil for them; any other error is
// returned as is.
func (w *Sweeper) skipUnreadable(step string, err error) error {
	var unreadable *store.UnreadableError
	if !errors.As(err, &unreadable) {
		return err
	}
	for _, r := range unreadable.Rows {
		w.unreadable(step, r.Key, r.State, r.MessageID, r.Err)
	}
	return nil
}

// unreadable logs and counts one row skipped because its sealed body
// cannot be opened: by its key, never its content.
func (w *Sweeper) unreadable(step string, key store.Key, state store.State, messageID string, err error) {
	w.Metrics.sweptOne(key.Provider, string(state), "unreadable")
	w.Log.Error().Str("provider", key.Provider).Str("request_id", messages.MaskPANs(key.RequestID)).Str("state", string(state)).
		Str("event_message_id", messageID).Str("step", step).Err(err).
		Msg("sealed body cannot be opened (STORE_ENCRYPTION_KEY, STORE_ENCRYPTION_OLD_KEYS, or a damaged value): skipped")
}

// relay publishes the outbox.
func (w *Sweeper) relay(ctx context.Context, now time.Time, rep *SweepReport) error {
	if w.Marks != nil {
		if err := w.Marks.Flush(ctx); err != nil {
			// Those events stay in the outbox: relayed again, at least once.
			w.Log.Warn().Err(err).Msg("queued publish marks could not be written; their events will be relayed again")
		}
	}
	w.cursorMu.Lock()
	after := w.outbox
	w.cursorMu.Unlock()
	evs, err := w.outboxPage(ctx, now.Add(-w.OutboxAfter), after)
	if err != nil {
		return err
	}
	round := relayRound{held: map[store.Key]bool{}, done: map[string]bool{}}
	// The next round goes on after the last event handled here (one whose
	// relay failed for a reason of the store or the broker as a whole is
	// read again first); after an empty read, from the oldest.
	next := after
	if len(evs) == 0 {
		next = store.OutboxCursor{}
	}
	defer func() {
		w.cursorMu.Lock()
		w.outbox = next
		w.cursorMu.Unlock()
	}()
	for _, ev := range evs {
		if err := w.relayOne(ctx, ev, rep, &round); err != nil {
			return err
		}
		next = ev.Cursor()
	}
	return errors.Join(round.refused...)
}

// relayRound is what one relay learned of the events it read.
type relayRound struct {
	// refused are the events the broker refused (broker.IsMessageRefused).
	refused []error
	// held are the settlements with an event left unpublished this round
	// (refused, or one the relay could not read): their later events wait
	// behind it.
	held map[store.Key]bool
	// done are the events published this round (an earlier event published
	// ahead of a later one, read again further on in the page).
	done map[string]bool
}

// outboxPage reads at most Batch unpublished events recorded before
// before, going on after the cursor after, the one the previous round left
// (readPage).
func (w *Sweeper) outboxPage(ctx context.Context, before time.Time, after store.OutboxCursor) ([]store.StatusEvent, error) {
	return readPage(after, w.batch(), func(after store.OutboxCursor, limit int) ([]store.StatusEvent, error) {
		evs, err := w.Store.Unpublished(ctx, before, after, limit)
		return evs, w.skipUnreadable("relay", err)
	}, func(ev store.StatusEvent) string { return ev.MessageID })
}

// readPage reads at most limit rows with read: those after the cursor
// after, then, when they end before limit, from the oldest on up to the
// first row read already (by id). So each round reads a bounded page, and
// rows a step leaves behind for good cannot fill every page: every row is
// visited every ceil(rows/limit) rounds.
func readPage[T any, C interface{ IsZero() bool }](after C, limit int, read func(after C, limit int) ([]T, error), id func(T) string) ([]T, error) {
	rows, err := read(after, limit)
	if err != nil || len(rows) >= limit || after.IsZero() {
		return rows, err
	}
	var oldest C
	more, err := read(oldest, limit-len(rows))
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(rows))
	for _, r := range rows {
		seen[id(r)] = true
	}
	for _, r := range more {
		if seen[id(r)] {
			break // wrapped around to the rows read above
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// relayOne publishes one event of the outbox, after the settlement's
// earlier events still unpublished (relayEarlier): a chargeback R must not
// reach the order system ahead of the S it reverses. An event left there
// for good (refused by the broker: added to the round's refused; not a
// valid document: its settlement is marked) returns nil, as does one whose
// settlement cannot be opened; so does a later event of a settlement whose
// earlier one is left unpublished (held): it waits behind it, and is
// relayed after it, when the relay comes round to it again. Other
// settlements' events are not held back. An error is the store's or the
// broker's as a whole.
func (w *Sweeper) relayOne(ctx context.Context, ev store.StatusEvent, rep *SweepReport, round *relayRound) error {
	if round.done[ev.MessageID] {
		return nil // published this round, ahead of a later event
	}
	if round.held[ev.Key] {
		w.heldBack(ev)
		return nil
	}
	s, err := w.Store.Get(ctx, ev.Key)
	if errors.Is(err, store.ErrUnreadable) {
		w.unreadable("relay", ev.Key, "", ev.MessageID, err)
		round.held[ev.Key] = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("relay %s: %w", ev.MessageID, err)
	}
	evs, err := w.Store.Statuses(ctx, ev.Key)
	if errors.Is(err, store.ErrUnreadable) {
		w.unreadable("relay", ev.Key, s.State, ev.MessageID, err)
		round.held[ev.Key] = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("relay %s: read its settlement's events: %w", ev.MessageID, err)
	}
	if later := laterPublished(evs, ev); later != nil {
		return w.superseded(ctx, s, ev, *later, round)
	}
	if ev.Seq > 1 {
		if err := w.relayEarlier(ctx, s, ev, evs, rep, round); err != nil {
			return err
		}
		if round.held[ev.Key] {
			w.heldBack(ev)
			return nil
		}
	}
	return w.relayEvent(ctx, s, ev, rep, round)
}

// laterPublished returns an event of evs (ev's settlement's) after ev that
// is marked published, or nil.
func laterPublished(evs []store.StatusEvent, ev store.StatusEvent) *store.StatusEvent {
	for i := range evs {
		if evs[i].Seq > ev.Seq && evs[i].PublishedAt != nil {
			return &evs[i]
		}
	}
	return nil
}

// superseded marks published, without publishing it, an event whose
// settlement has a later event published: republished now it would reach
// subscribers after that later one (an S after its chargeback R), and one
// that no longer remembers its message_id would end at it. A later event
// is only published after the earlier ones (relayEarlier, and
// ProviderStatus's earlierFirst), so this one went out before it and only
// its mark was lost (a Marker write that failed, a crash before it).
func (w *Sweeper) superseded(ctx context.Context, s store.Settlement, ev, later store.StatusEvent, round *relayRound) error {
	if err := w.Store.MarkPublished(ctx, ev.MessageID, w.now().UTC()); err != nil {
		return fmt.Errorf("relay %s: mark it published (superseded by %s): %w", ev.MessageID, later.MessageID, err)
	}
	round.done[ev.MessageID] = true
	w.Log.Warn().Str("provider", s.Provider).Str("request_id", messages.MaskPANs(s.RequestID)).Str("event_message_id", ev.MessageID).Int("seq", ev.Seq).
		Str("later_event_message_id", later.MessageID).Int("later_seq", later.Seq).
		Msg("status event not confirmed as published, but a later event of its settlement was: marked published, not republished after it")
	return nil
}

// relayEarlier publishes, in order, the events evs of ev's settlement s
// before ev (lower seq) that are still unpublished: a round that read the later
// event first (past the cursor, before wrapping to the oldest) or a later
// event recorded after an earlier one the broker refused. One left
// unpublished (refused, unreadable) marks the settlement held; one that can
// never be published (not a valid document: its settlement is marked) is
// not waited for.
func (w *Sweeper) relayEarlier(ctx context.Context, s store.Settlement, ev store.StatusEvent, evs []store.StatusEvent, rep *SweepReport, round *relayRound) error {
	for _, e := range evs {
		if e.Seq >= ev.Seq || e.PublishedAt != nil || round.done[e.MessageID] {
			continue
		}
		if later := laterPublished(evs, e); later != nil {
			if err := w.superseded(ctx, s, e, *later, round); err != nil {
				return err
			}
			continue
		}
		if err := w.relayEvent(ctx, s, e, rep, round); err != nil {
			return err
		}
		if round.held[ev.Key] {
			return nil
		}
		w.Log.Info().Str("provider", s.Provider).Str("request_id", messages.MaskPANs(s.RequestID)).Str("event_message_id", e.MessageID).
			Str("later_event_message_id", ev.MessageID).Msg("relayed an earlier event of the settlement before its later one")
	}
	return nil
}

// heldBack logs a later event of a settlement left in the outbox behind
// an earlier one (counted and alerted on as that one is).
func (w *Sweeper) heldBack(ev store.StatusEvent) {
	w.Log.Warn().Str("provider", ev.Provider).Str("request_id", messages.MaskPANs(ev.RequestID)).Str("event_message_id", ev.MessageID).Int("seq", ev.Seq).
		Msg("status event not relayed: an earlier event of its settlement is still unpublished; it is relayed after it")
}

// relayEvent publishes one event of settlement s and marks it published;
// one the broker refuses holds the settlement's later events this round.
func (w *Sweeper) relayEvent(ctx context.Context, s store.Settlement, ev store.StatusEvent, rep *SweepReport, round *relayRound) error {
	err := eventOut{w.Pub, w.Store, w.Marks}.publish(ctx, s, ev)
	var invalid *InvalidStatusError
	if errors.As(err, &invalid) {
		// Recorded by a version that did not check its statuses: it is
		// never published; the settlement is marked for a person.
		if err := w.markInvalid(ctx, s, invalid); err != nil {
			if broker.IsMessageRefused(err) {
				// Its parked copy refused: tried again next round; the
				// others are relayed all the same.
				round.refused = append(round.refused, fmt.Errorf("relay %s: %w", ev.MessageID, err))
				round.held[ev.Key] = true
				return nil
			}
			return fmt.Errorf("relay %s: %w", ev.MessageID, err)
		}
		return nil
	}
	if broker.IsMessageRefused(err) {
		// The broker refused this one message (no queue bound for its
		// store, a full queue): the others are relayed all the same, and
		// it is tried again when the relay comes round to it.
		// Counted (action "unrelayed", alert SettlementStatusNotRelayed):
		// one refused for good waits unseen otherwise.
		// The settlement's later events wait behind it.
		round.refused = append(round.refused, fmt.Errorf("relay %s: %w", ev.MessageID, err))
		round.held[ev.Key] = true
		w.Metrics.sweptOne(s.Provider, string(s.State), "unrelayed")
		return nil
	}
	if err != nil {
		return fmt.Errorf("relay %s: %w", ev.MessageID, err)
	}
	round.done[ev.MessageID] = true
	rep.Relayed++
	w.Metrics.sweptOne(s.Provider, string(s.State), "relayed")
	w.Log.Warn().Str("provider", s.Provider).Str("request_id", messages.MaskPANs(s.RequestID)).Str("event_message_id", ev.MessageID).
		Msg("status event recorded but never confirmed as published: relayed")
	return nil
}

// invalidEventAdvice ends the parked reason markInvalid writes: what the
// operator does with such a settlement (the verdict stands; only its
// document cannot be sent).
const invalidEventAdvice = "; its verdict is recorded (money moved or not as it says) but the order system never received it: " +
	"tell it by other means (`show REQUEST_ID` gives the verdict), then purge this parked copy (a replay publishes nothing and parks it again)"

// markInvalid parks, once, a settlement whose recorded status event is not
// a valid PaymentSettlementStatus: a copy of its request goes to the
// parked queue (so `parked ls` lists it with its reason), then the reason
// is recorded on the settlement. Its verdict is never changed or guessed.
// A settlement an earlier version marked in the store only (its reason
// without invalidEventAdvice) gets its copy too.
func (w *Sweeper) markInvalid(ctx context.Context, s store.Settlement, invalid *InvalidStatusError) error {
	w.Log.Error().Str("provider", s.Provider).Str("request_id", messages.MaskPANs(s.RequestID)).Err(invalid).
		Msg("recorded status event is not a valid PaymentSettlementStatus: not relayed")
	if s.ParkedReason != "" && (!strings.HasPrefix(s.ParkedReason, store.ParkedInvalidEvent) || strings.HasSuffix(s.ParkedReason, invalidEventAdvice)) {
		return nil
	}
	reason := store.ParkedInvalidEvent + invalid.Error() + invalidEventAdvice
	// The copy first (as parkStored): recorded first, a copy whose publish
	// failed would never be sent. A recording that fails after it sends
	// another copy next round.
	parking := newParking()
	if err := parkMessage(ctx, w.Pub, storedRequest(s), broker.ParkedQueue(s.Provider), broker.RequestQueue(s.Provider), reason, s.Attempts, parking); err != nil {
		return err
	}
	_, _, err := w.Store.Transition(ctx, s.Key, []store.State{s.State}, s.State, store.Change{ParkedReason: &reason, Note: "invalid status event",
		Refs: map[string]string{refParking: parking}}, nil)
	if errors.Is(err, store.ErrStateConflict) {
		return nil // it moved meanwhile; the next round looks again
	}
	if err == nil {
		w.Metrics.sweptOne(s.Provider, string(s.State), "parked")
		w.Log.Warn().Str("provider", s.Provider).Str("request_id", messages.MaskPANs(s.RequestID)).Str("parked_reason", reason).Msg("settlement parked by the sweeper")
	}
	return err
}

// parkOverdue parks acknowledged settlements past their provider's
// status deadline, reading each enabled provider's own (Store.Stale), at
// most Batch a round, going on after the last one the previous round
// handled (readPage).
func (w *Sweeper) parkOverdue(ctx context.Context, now time.Time, rep *SweepReport) error {
	var refused []error
	for name, p := range w.Providers {
		deadline := providers.FactsOf(p).StatusDeadline
		if deadline <= 0 {
			continue
		}
		if err := w.parkOverdueOf(ctx, name, deadline, now, rep, &refused); err != nil {
			return errors.Join(append(refused, err)...)
		}
	}
	return errors.Join(refused...)
}

// parkOverdueOf parks one provider's page of overdue settlements; a
// parked copy the broker or publisher refuses is added to refused.
func (w *Sweeper) parkOverdueOf(ctx context.Context, name string, deadline time.Duration, now time.Time, rep *SweepReport, refused *[]error) error {
	w.cursorMu.Lock()
	after := w.parkAfter[name]
	w.cursorMu.Unlock()
	stale, err := readPage(after, w.batch(), func(after store.StaleCursor, limit int) ([]store.Settlement, error) {
		ss, err := w.Store.Stale(ctx, []string{name}, []store.State{store.StateAcknowledged}, now.Add(-deadline), after, limit)
		return ss, w.skipUnreadable("park", err)
	}, func(s store.Settlement) string { return s.RequestID })
	if err != nil {
		return err
	}
	// The next round goes on after the last settlement handled here;
	// after an empty read, from the oldest.
	next := after
	if len(stale) == 0 {
		next = store.StaleCursor{}
	}
	defer func() {
		w.cursorMu.Lock()
		if w.parkAfter == nil {
			w.parkAfter = map[string]store.StaleCursor{}
		}
		w.parkAfter[name] = next
		w.cursorMu.Unlock()
	}()
	for _, s := range stale {
		reason := fmt.Sprintf("%s acknowledged this settlement at %s but sent no status within %s: ask %s for its status; "+
			"it is never submitted again (replaying it only clears this parking, and a late status is still applied)",
			name, s.UpdatedAt.Format(time.RFC3339), deadline, name)
		if err := w.parkStored(ctx, s, reason); err != nil {
			if !broker.IsMessageRefused(err) {
				return err
			}
			// This one copy (a header the publisher cannot send): the
			// others are parked all the same. It stays the oldest
			// acknowledged (SettlementAcknowledgedStuck) and is tried
			// again when the sweeper comes round to it.
			*refused = append(*refused, fmt.Errorf("park %s: %w", messages.MaskPANs(s.RequestID), err))
		} else {
			rep.Parked++
		}
		next = s.Cursor()
	}
	return nil
}

// resume republishes the requests of settlements stuck in flight.
func (w *Sweeper) resume(ctx context.Context, now time.Time, rep *SweepReport) error {
	if w.StuckAfter <= 0 || len(w.Providers) == 0 {
		return nil
	}
	// Only the providers this worker runs, filtered by the store before
	// the batch limit: the oldest rows of another could fill every batch.
	names := slices.Sorted(maps.Keys(w.Providers))
	stale, err := w.Store.Stale(ctx, names, inFlight, now.Add(-w.StuckAfter), store.StaleCursor{}, w.batch())
	if err := w.skipUnreadable("resume", err); err != nil {
		return err
	}
	var refused []error
	for _, s := range stale {
		// Recorded first: the history shows it, and the next round leaves
		// the settlement alone for another StuckAfter.
		note := fmt.Sprintf("swept: no progress since %s; request republished", s.UpdatedAt.Format(time.RFC3339))
		if _, _, err := w.Store.Transition(ctx, s.Key, []store.State{s.State}, s.State, store.Change{Note: note}, nil); err != nil {
			if errors.Is(err, store.ErrStateConflict) {
				continue // it moved meanwhile
			}
			return err
		}
		msg := storedRequest(s)
		msg.Metadata.Set(HeaderSwept, "true")
		msg.Metadata.Set(broker.HeaderReadyAt, broker.ReadyAt(time.Now()))
		err := w.Pub.Publish(ctx, "", broker.RequestQueue(s.Provider), msg)
		var tooLarge *broker.HeadersTooLargeError
		if errors.As(err, &tooLarge) {
			// Its recorded headers, with the resume's own, do not fit a
			// frame: no later round can send it either. Parked once,
			// with a copy that fits (parkMessage drops the largest
			// headers and names them), instead of tried every
			// StuckAfter for ever.
			reason := fmt.Sprintf("made no progress in state %s since %s and its request cannot be republished to resume it: %v; "+
				"replaying this copy resumes it from the store, as the sweeper would have",
				s.State, s.UpdatedAt.Format(time.RFC3339), tooLarge)
			if perr := w.parkStored(ctx, s, reason); perr == nil {
				rep.Parked++
				continue
			} else {
				err = errors.Join(err, fmt.Errorf("park it instead: %w", perr))
			}
		}
		if err != nil {
			// Counted (alert SettlementNotResumed): its note restarted its
			// age, so SettlementInFlightStuck does not see it.
			w.Metrics.sweptOne(s.Provider, string(s.State), "unresumed")
			if broker.IsMessageRefused(err) {
				refused = append(refused, fmt.Errorf("resume %s: %w", messages.MaskPANs(s.RequestID), err))
				continue
			}
			return errors.Join(append(refused, fmt.Errorf("resume %s: %w", messages.MaskPANs(s.RequestID), err))...)
		}
		rep.Resumed++
		w.Metrics.sweptOne(s.Provider, string(s.State), "resumed")
		w.Log.Warn().Str("provider", s.Provider).Str("request_id", messages.MaskPANs(s.RequestID)).Str("state", string(s.State)).
			Time("updated_at", s.UpdatedAt).Msg("settlement made no progress past its deadline: request republished to resume it")
	}
	return errors.Join(refused...)
}

// parkStored puts a copy of the settlement's request in the provider's
// parked queue, then records reason on the settlement.
func (w *Sweeper) parkStored(ctx context.Context, s store.Settlement, reason string) error {
	// The parked copy first: recorded first, a copy whose publish failed
	// was lost for good (Stale skips parked rows), and the settlement was
	// parked with nothing in the parked queue to list or replay. A
	// recording that fails after the copy is published parks it again
	// next round (a second copy; replaying either clears the parking).
	msg := storedRequest(s)
	parking := newParking()
	if err := parkMessage(ctx, w.Pub, msg, broker.ParkedQueue(s.Provider), broker.RequestQueue(s.Provider), reason, s.Attempts, parking); err != nil {
		return err
	}
	if _, _, err := w.Store.Transition(ctx, s.Key, []store.State{s.State}, s.State, store.Change{ParkedReason: &reason, Note: "parked by the sweeper",
		Refs: map[string]string{refParking: parking}}, nil); err != nil {
		if errors.Is(err, store.ErrStateConflict) {
			// The verdict arrived meanwhile: the copy is stale, and its
			// replay only republishes the recorded verdict.
			w.Log.Info().Str("provider", s.Provider).Str("request_id", messages.MaskPANs(s.RequestID)).
				Msg("the verdict arrived while the sweeper parked the settlement: its parked copy can be purged")
			return nil
		}
		return err
	}
	w.Metrics.sweptOne(s.Provider, string(s.State), "parked")
	w.Metrics.outcome(s.Provider, "parked")
	w.Log.Warn().Str("provider", s.Provider).Str("request_id", messages.MaskPANs(s.RequestID)).Str("parked_reason", reason).Msg("settlement parked by the sweeper")
	return nil
}

// storedRequest rebuilds a request message from the store.
func storedRequest(s store.Settlement) *message.Message {
	msg := message.NewMessage(uuid.NewString(), s.Request)
	for k, v := range s.Headers {
		msg.Metadata.Set(k, v)
	}
	for _, k := range []string{HeaderAttempt, HeaderLastError, HeaderPoll, HeaderParkedReason, HeaderParkedAt, HeaderParkedAttempts, HeaderParkedFrom, broker.HeaderReplayed, broker.HeaderReplayMAC, broker.HeaderParking} {
		delete(msg.Metadata, k)
	}
	if s.ContentType != "" {
		msg.Metadata.Set(broker.MetaContentType, s.ContentType)
	}
	return msg
}

func (w *Sweeper) batch() int {
	if w.Batch > 0 {
		return w.Batch
	}
	return 500
}

func (w *Sweeper) roundTimeout() time.Duration {
	switch {
	case w.RoundTimeout > 0:
		return w.RoundTimeout
	case w.Interval > 0:
		return 10 * w.Interval
	}
	return 5 * time.Minute
}

func (w *Sweeper) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}
