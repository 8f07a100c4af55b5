package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
	"github.com/settlement-worker/settlement-worker/tracing"
)

// ProviderStatus is the Watermill handler for a provider's asynchronous
// status queue (Radial's q.Payments.Settlements.Status.<suffix>). It matches
// each PaymentSettlementStatus to the settlement it answers, records the
// verdict and publishes our status event. A status that cannot be parsed or
// matched is parked with the reason, never dropped.
//
// Correlation rule (Radial's status carries no requestId; it echoes the
// ClientContext we sent):
//
//  1. The worker sends a ClientContext unique per settlement, derived from
//     provider and requestId (correlationID), and keeps the order system's
//     own ClientContext for our events. A status whose ClientContext is one
//     of our correlation ids matches exactly that settlement, which must
//     agree on OrderId, TenderType, SettlementType and Amount (else the
//     status is parked as conflicting) and must have been submitted (a
//     submitting settlement qualifies: the call did reach the provider).
//  2. Otherwise (no ClientContext, or one that is not ours: settlements
//     stored before correlation ids were unique keep their old one) the
//     status matches on StoreId, OrderId, TenderType, SettlementType and
//     Amount, and on that legacy correlation id when it has one. Only an
//     acknowledged candidate can take it, never a submitting one (its call
//     may not have reached the provider), and only when no other candidate
//     was submitted or is finished (the status could be theirs); with none
//     acknowledged, a finished one (a chargeback R after an S). More than
//     one candidate at that step is ambiguous: the status is parked naming
//     them, never guessed. A status without ClientContext is never applied
//     to a settlement that carries one of our correlation ids: we sent it
//     that id, which Radial echoes ("if a ClientContext value is provided
//     in the request, the same value is provided"), so the status is
//     another settlement's (one not made by the worker) or lost the id;
//     with only such look-alikes it is parked naming them.
//  3. Dedup is per settlement: a status whose AMQP message_id produced one
//     of the settlement's events and that says what that event says (its
//     verdict, an R's DeclineReason), or whose verdict (and DeclineReason)
//     repeats the settlement's latest event, is a redelivery or a repeat:
//     the recorded event is republished with its message_id. A status
//     that says something else under a known message_id is a new status.
//     A different verdict (an R chargeback after an S) is a further event,
//     except an S for a refused settlement: a repeat of an earlier S, an S
//     overtaken by its R or a reversal cannot be told apart, so it is
//     parked (overturns) and the R stands. A further event is published
//     after the settlement's earlier ones (apply, earlierFirst).
//  4. No candidate: parked with "no settlement matches", except a status
//     whose ClientContext is one of our correlation ids made for a
//     settlement of another store: parked as conflicting too, naming it.
//
// A conflicting status's reason names the settlement (provider/requestId),
// its state and the fields in which the status differs from it; it is
// never applied to it. So does an invalid status's (one that fails
// Validate) when its ClientContext is one of our correlation ids.
type ProviderStatus struct {
	// Provider is the provider's name (radial).
	Provider string
	// Queue is the provider's status queue (for parked_from_queue).
	Queue string
	// Store is the settlement store.
	Store store.Store
	// Outage, when set, holds a delivery whose run failed while the store
	// does not answer, and runs it again once it does (StoreOutage).
	Outage *StoreOutage
	// Marks, when set, takes the marks of confirmed status events and
	// writes them in batches, off the handler's path (markDone); nil
	// writes each at once.
	Marks *store.Marker
	// Pub publishes our status events and parked statuses.
	Pub Publisher
	// Log is the handler's logger.
	Log zerolog.Logger
	// Metrics, when set, counts outcomes.
	Metrics *Metrics
	// Crash, when set, is called at crash points (test builds only).
	Crash func(point string)
	// MaxBytes parks a status whose body is larger, unread (0: no limit).
	// The worker sets it from MAX_REQUEST_BYTES.
	MaxBytes int64
	// Requests, when set (shared with the provider's Settlement handler),
	// spares decoding the stored request again for our event.
	Requests *Requests
	// Redact, when set, removes the provider's secrets from a status's
	// DeclineReason (providers.StatusSource.Redact).
	Redact func(string) string
	// RetryRuns and RetryFor bound a status whose runs keep failing while
	// the store answers (HandleSafely): it is parked once it failed
	// RetryRuns runs (default 40), or at least twice over RetryFor
	// (default 10 minutes) since its first failure. The worker sets them
	// from the status source (providers.StatusSource.RetryRuns, RetryFor).
	RetryRuns int
	RetryFor  time.Duration
}

// OrderKey is StatusOrderKey for the keyed subscriber, except that a
// status above MaxBytes is not read: its key is "" (parked one at a time).
//
// A panic while decoding (a decoder bug) keys the status "" and leaves it
// to the handler, which decodes it again under HandleSafely and parks it
// with the panic: the keyed subscriber calls OrderKey in its delivery
// loop, where a panic ended the process, and every replica in turn as the
// status was redelivered.
func (h *ProviderStatus) OrderKey(msg *message.Message) (key string) {
	if h.tooLarge(msg) {
		return ""
	}
	defer func() {
		if r := recover(); r != nil {
			h.Log.Error().Str("message_id", messages.MaskPANs(msg.UUID)).Str("panic", messages.MaskPANs(fmt.Sprint(r))).
				Msg("decoding a provider status panicked; the handler parks it")
			key = ""
		}
	}()
	return StatusOrderKey(msg)
}

// tooLarge reports whether msg's body is above MaxBytes.
func (h *ProviderStatus) tooLarge(msg *message.Message) bool {
	return h.MaxBytes > 0 && int64(len(msg.Payload)) > h.MaxBytes
}

var awaiting = []store.State{store.StateSubmitting, store.StateAcknowledged}
var finished = []store.State{store.StateSettled, store.StateRefused}

// Handle implements message.NoPublishHandlerFunc.
func (h *ProviderStatus) Handle(msg *message.Message) (err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(msg.Context()), statusBudget)
	defer cancel()
	ctx, span := tracing.Start(tracing.Extract(ctx, msg), h.Provider+" status",
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("settlement.provider", h.Provider), attribute.String("messaging.message.id", messages.MaskPANs(msg.UUID))))
	defer func() { tracing.End(span, err) }()
	log := h.Log.With().Str("provider", h.Provider).Str("message_id", messages.MaskPANs(msg.UUID)).Logger()
	defer func() {
		// A status the store refuses to record (an identifier that is not
		// text) would fail on every delivery, handed back in-process by
		// the keyed subscriber forever: parked instead.
		if errors.Is(err, store.ErrInvalidText) {
			err = h.park(ctx, msg, "provider status cannot be recorded: "+err.Error(), log)
		}
	}()

	if h.tooLarge(msg) {
		return h.park(ctx, msg, fmt.Sprintf("provider status body is %d bytes, above MAX_REQUEST_BYTES (%d): not read, not applied to any settlement", len(msg.Payload), h.MaxBytes), log)
	}
	st, err := statusOf(msg)
	if err != nil {
		return h.park(ctx, msg, "unparseable provider status: "+err.Error(), log)
	}
	if err := st.Validate(); err != nil {
		return h.park(ctx, msg, "invalid provider status: "+err.Error()+h.invalidFor(ctx, st), log)
	}
	// Radial's decline reason is free text it may have written a card
	// number (or echoed our API key) into: it is recorded, republished in
	// our status and logged, so it is masked here, once, and compared
	// masked (sameVerdict).
	if h.Redact != nil {
		st.DeclineReason = h.Redact(st.DeclineReason)
	}
	st.DeclineReason = messages.MaskPANs(st.DeclineReason)
	log = log.With().Str("order_id", messages.MaskPANs(st.OrderID())).Str("store_id", messages.MaskPANs(st.StoreID)).
		Str("settlement_status", st.SettlementStatus).Logger()
	msgID := storableMessageID(msg.Metadata.Get(broker.MetaMessageID))

	// The usual case, without the order lock and, when it answers this
	// process's own call, without a look-up: the status names, by its
	// correlation id, a settlement awaiting its verdict.
	if target, req, ok := h.inProcess(st); ok {
		err := h.apply(ctx, msg, st, target, req, awaiting, nil, msgID, log)
		if !errors.Is(err, store.ErrStateConflict) && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		log.Debug().Str("request_id", messages.MaskPANs(target.RequestID)).Msg("the settlement moved or was parked since this process recorded its call; looking it up")
	}
	if target, ok, err := h.awaited(ctx, st); err != nil {
		return err
	} else if ok {
		err := h.apply(ctx, msg, st, target, nil, awaiting, nil, msgID, log)
		if !errors.Is(err, store.ErrStateConflict) && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		log.Debug().Str("request_id", messages.MaskPANs(target.RequestID)).Msg("the settlement moved or was parked meanwhile; applying the status under the order lock")
	}

	unlock, err := h.Store.LockOrder(ctx, h.Provider, st.StoreID, st.OrderID())
	if err != nil {
		return fmt.Errorf("lock order: %w", err)
	}
	defer unlock()

	err = h.underLock(ctx, msg, st, msgID, log)
	if errors.Is(err, store.ErrStateConflict) {
		// Moved under the lock: by a writer that takes none (the sweeper
		// parks a settlement where it is), between the read and the move.
		// Read again, once: a status for a parked settlement is recorded
		// as one, now, rather than handed back.
		log.Debug().Msg("the settlement moved or was parked while the status was applied under the order lock; reading it again")
		err = h.underLock(ctx, msg, st, msgID, log)
	}
	return err
}

// underLock applies the status with the order lock held: it finds the
// settlement it answers (rules 1, 2 and 4), republishes a redelivery or a
// repeat, parks what cannot be applied, and applies the rest.
func (h *ProviderStatus) underLock(ctx context.Context, msg *message.Message, st *messages.PaymentSettlementStatus, msgID string, log zerolog.Logger) error {
	exact, cands, reason, err := h.candidates(ctx, st)
	if err != nil {
		return err
	}
	if exact != nil {
		cands = []store.Settlement{*exact}
	}
	if len(cands) == 0 {
		return h.park(ctx, msg, reason, log)
	}

	// A redelivery (same message_id) of a status already applied to one of
	// the candidates: republish what was recorded for it. Only an event
	// that says what the status says is its redelivery: a status that says
	// something else under a known message_id (a chargeback R published
	// under the id of the S, by a publisher that reuses ids) is a new
	// status, handled below, never acked as the old one.
	// Each candidate's events are read once (read), for this check and for
	// the target's below.
	read := map[store.Key][]store.StatusEvent{}
	statuses := func(key store.Key) ([]store.StatusEvent, error) {
		if evs, ok := read[key]; ok {
			return evs, nil
		}
		evs, err := h.Store.Statuses(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("read statuses of %s: %w", messages.MaskPANs(key.RequestID), err)
		}
		read[key] = evs
		return evs, nil
	}
	if msgID != "" {
		for _, c := range cands {
			evs, err := statuses(c.Key)
			if err != nil {
				return err
			}
			for _, ev := range evs {
				if dedupMessageID(ev.DedupKey) == msgID && says(ev, st) {
					log.Info().Str("request_id", messages.MaskPANs(c.RequestID)).Msg("provider status redelivered; republishing our event")
					return h.parkInvalid(ctx, msg, h.out().publish(ctx, c, ev), log)
				}
			}
		}
	}

	target, from, reason := pick(exact, cands)
	if target == nil {
		return h.park(ctx, msg, reason, log)
	}
	log = log.With().Bool("exact_correlation", exact != nil).Logger()

	evs, err := statuses(target.Key)
	if err != nil {
		return err
	}
	// The same verdict again (under a new message_id, or none): a repeat of
	// the latest event, not a new one.
	if n := len(evs); n > 0 && sameVerdict(*target, evs[n-1], st) {
		log.Info().Msg("provider status repeats the latest verdict; republishing our event")
		return h.parkInvalid(ctx, msg, h.out().publish(ctx, *target, evs[n-1]), log)
	}
	if reason := overturns(*target, evs, st); reason != "" {
		return h.park(ctx, msg, reason, log)
	}
	if containsState(finished, target.State) {
		from = []store.State{target.State} // the state just checked
	}

	return h.apply(ctx, msg, st, *target, nil, from, evs, msgID, log)
}

// apply records the status as target's verdict — a move from one of the
// states from, with our status event, after target's events evs — and
// publishes our event, made from req when set (target's request decoded
// by this process: the in-process row has no body), else from target's. A store error is returned wrapped
// (ErrStateConflict when target is no longer in one of the states from).
// The move of a target awaiting its verdict and read unparked also
// compares the parking (ErrStateConflict when the settlement is parked):
// the sweeper parks a settlement where it is, without the order lock, so
// it may have parked it since target was read (or kept by this process:
// inProcess), and a status for a parked settlement must never be recorded
// as for an unparked one (its "..., after it was parked" note lost).
//
// A later status (target finished) first publishes, in order, target's
// earlier events never confirmed as published (earlierFirst): our event
// for a chargeback R must not reach the order system ahead of the S it
// reverses, whose publish failed on another replica that hands its status
// back and republishes it later.
func (h *ProviderStatus) apply(ctx context.Context, msg *message.Message, st *messages.PaymentSettlementStatus,
	target store.Settlement, req *messages.PaymentSettlementRequest, from []store.State, evs []store.StatusEvent, msgID string, log zerolog.Logger) error {
	log = log.With().Str("request_id", messages.MaskPANs(target.RequestID)).Logger()
	refused := false
	if containsState(finished, target.State) {
		var err error
		if refused, err = h.earlierFirst(ctx, target, evs, log); err != nil {
			return err
		}
	}
	events := len(evs)
	to := store.StateSettled
	if st.SettlementStatus == messages.StatusRejected {
		to = store.StateRefused
	}
	ours := h.ourStatusFrom(target, st, req)
	ev, err := newStatusEvent(target.Key, dedupKey(events+1, st.SettlementStatus, msgID), ours)
	if err != nil {
		// Our status for this verdict would break the schema (a settlement
		// recorded before statuses were checked): not applied, not
		// published; the provider's status is kept for a person.
		return h.parkInvalid(ctx, msg, err, log)
	}
	ch := store.Change{Note: "provider status " + st.SettlementStatus}
	if st.DeclineReason != "" || to == store.StateRefused {
		r := st.DeclineReason // an R's, even empty: sameVerdict reads it once bodies are purged
		ch.DeclineReason = &r
	}
	if !containsState(finished, target.State) {
		// The verdict ends any parking of a settlement that awaited it
		// (the sweeper's status deadline, a panic, retries exhausted):
		// what the person was to find out is now known. The note says
		// whether it was parked as read; a parking since fails the move
		// (IfNotParked), and the status reads it again.
		none := ""
		ch.ParkedReason = &none
		ch.IfNotParked = target.ParkedReason == ""
		if target.ParkedReason != "" {
			ch.Note += ", after it was parked"
			log.Info().Str("parked_reason", truncate(target.ParkedReason, 200)).Msg("provider status for a parked settlement; its parking is cleared")
		}
	}
	s, rec, err := h.Store.Transition(ctx, target.Key, from, to, ch, ev)
	if err != nil {
		return fmt.Errorf("record provider status for %s: %w", messages.MaskPANs(target.RequestID), err)
	}
	if h.Crash != nil {
		h.Crash(CrashAfterTerminalCommit)
	}
	if refused {
		// Published now, it would overtake the earlier event the broker
		// refused: both are the outbox relay's, which goes in order.
		log.Warn().Msg("an earlier event of this settlement was refused by the broker; this one is left to the outbox relay, after it")
		return nil
	}
	if err := h.out().publishRecorded(ctx, s, ev, *rec); err != nil {
		return leftToRelay(err, log)
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

// earlierFirst publishes, in order, target's events evs that were never
// confirmed as published (a replica's publish failed and it handed its
// status back; a mark still queued only republishes one under its
// message_id, which subscribers drop). A failure is returned: the later
// status is handed back, unrecorded, and comes again. An event the broker
// refuses stops it with refused=true: the later event is recorded but
// left to the outbox relay, behind it. An event that can never be
// published (not valid, purged) is not waited for.
func (h *ProviderStatus) earlierFirst(ctx context.Context, target store.Settlement, evs []store.StatusEvent, log zerolog.Logger) (refused bool, err error) {
	for _, ev := range evs {
		if ev.PublishedAt != nil {
			continue
		}
		err := h.out().publish(ctx, target, ev)
		var invalid *InvalidStatusError
		var purged *PurgedStatusError
		switch {
		case err == nil:
			log.Info().Str("event_message_id", ev.MessageID).Msg("published an earlier event of the settlement, never confirmed, before its later status")
		case errors.As(err, &invalid), errors.As(err, &purged):
			log.Warn().Err(err).Str("event_message_id", ev.MessageID).Msg("an earlier event of the settlement cannot be published; the later status is not held back by it")
		case broker.IsMessageRefused(err):
			return true, nil
		default:
			return false, fmt.Errorf("publish %s's earlier event %s before its later status: %w", messages.MaskPANs(target.RequestID), ev.MessageID, err)
		}
	}
	return false, nil
}

// candidates applies correlation rules 1, 2 and 4. It returns the
// settlement whose correlation id the status carries (exact), or else the
// settlements the fields (and a legacy correlation id) match; with neither,
// the reason to park.
func (h *ProviderStatus) candidates(ctx context.Context, st *messages.PaymentSettlementStatus) (exact *store.Settlement, cands []store.Settlement, reason string, err error) {
	c := h.fields(st)
	var byCtx []store.Settlement
	if st.ClientContext != "" {
		var own *store.Settlement
		if own, byCtx, err = h.byCorrelation(ctx, st); err != nil {
			return nil, nil, "", err
		}
		if own != nil {
			if !sameMoney(*own, c) {
				return nil, nil, conflict(st, c, *own), nil
			}
			return own, nil, "", nil
		}
		// Not one of ours: a legacy correlation id (or a stranger's).
		c.CorrelationID = st.ClientContext
	}
	cands, err = h.Store.Find(ctx, c)
	if err != nil {
		return nil, nil, "", fmt.Errorf("find settlements by fields: %w", err)
	}
	if st.ClientContext == "" {
		// Every settlement with one of our correlation ids was sent with
		// it as ClientContext, which Radial echoes in its status: a status
		// without one is not theirs (another settlement of the order, or
		// Radial left the id out). Only legacy settlements can take it.
		var ours []store.Settlement
		legacy := cands[:0:0]
		for _, s := range cands {
			if ownCorrelation(s) {
				ours = append(ours, s)
			} else {
				legacy = append(legacy, s)
			}
		}
		if cands = legacy; len(cands) == 0 && len(ours) > 0 {
			return nil, nil, fmt.Sprintf("status carries no ClientContext, but settlement(s) %s, which match its fields, were sent with our correlation id as ClientContext, which %s echoes in their statuses: "+
				"it is the status of another settlement of order %s (not made by the worker) or %s left the id out; not applied, ask %s which settlement it is for",
				describe(ours), h.Provider, st.OrderID(), h.Provider, h.Provider), nil
		}
	}
	if len(cands) > 0 {
		return nil, cands, "", nil
	}
	if len(byCtx) > 0 {
		return nil, nil, conflict(st, c, byCtx[0]), nil
	}
	none := fmt.Sprintf("no settlement matches store %s, order %s, tender %s, %s %s %s, ClientContext %q",
		st.StoreID, st.OrderID(), st.TenderType, st.SettlementType, c.Amount, st.Amount.CurrencyCode, st.ClientContext)
	// One of our correlation ids made for a settlement of another store
	// (byCorrelation looks in the status's store only): the status
	// disagrees with our record, so it is parked all the same, but the
	// reason names that settlement, which the person would otherwise have
	// to search for.
	o, err := h.ownAnywhere(ctx, st.ClientContext)
	if err != nil {
		// Only the reason's detail was looked for: parked all the same.
		return nil, nil, none + " (" + err.Error() + ")", nil
	}
	if o != nil {
		return nil, nil, conflict(st, c, *o), nil
	}
	return nil, nil, none, nil
}

// ownAnywhere returns the settlement of h's provider, in any store, that
// correlation id cc was made for (nil when cc is none of ours). It is read
// for a parked reason only, never to apply a status.
func (h *ProviderStatus) ownAnywhere(ctx context.Context, cc string) (*store.Settlement, error) {
	if !strings.HasPrefix(cc, correlationPrefix) {
		return nil, nil
	}
	ss, err := h.Store.Find(ctx, store.Correlation{Provider: h.Provider, CorrelationID: cc})
	if err != nil {
		return nil, fmt.Errorf("the settlement this correlation id was made for could not be looked up: %w", err)
	}
	for i := range ss {
		if ownCorrelation(ss[i]) {
			return &ss[i], nil
		}
	}
	return nil, nil
}

// invalidFor is what an invalid status's parked reason adds when its
// ClientContext is one of our correlation ids: the settlement (any store)
// whose verdict it may carry, which it neither settles nor refuses.
func (h *ProviderStatus) invalidFor(ctx context.Context, st *messages.PaymentSettlementStatus) string {
	o, err := h.ownAnywhere(ctx, st.ClientContext)
	switch {
	case err != nil:
		return " (" + err.Error() + ")"
	case o == nil:
		return ""
	}
	return fmt.Sprintf("; its ClientContext is our correlation id for %s/%s (%s), which it neither settles nor refuses: "+
		"ask %s for that settlement's status (settlement-worker show %s)", o.Provider, messages.MaskPANs(o.RequestID), o.State, o.Provider, messages.MaskPANs(o.RequestID))
}

// conflict is the reason to park status st, whose ClientContext is the
// correlation id of settlement o but whose fields c (rule 2's) disagree
// with o's: it names o, its state and the fields that differ. The status
// is not applied: a status that disagrees with our record is not trusted.
func conflict(st *messages.PaymentSettlementStatus, c store.Correlation, o store.Settlement) string {
	whose := "the correlation id of"
	if ownCorrelation(o) {
		whose = "our correlation id for"
	}
	key := o.Provider + "/" + messages.MaskPANs(o.RequestID)
	return fmt.Sprintf("ClientContext %q is %s %s (%s), but the status has %s: conflicting, not applied, %s left %s; "+
		"ask %s which settlement this status is for (settlement-worker show %s)",
		st.ClientContext, whose, key, o.State, differences(o, c), key, o.State, o.Provider, messages.MaskPANs(o.RequestID))
}

// differences lists the fields in which the status's fields c differ from
// settlement o, by their names in Radial's status: "StoreId S2 (ours S1),
// Amount 90.00 USD (ours 100.00 USD)".
func differences(o store.Settlement, c store.Correlation) string {
	var out []string
	field := func(name, status, ours string) {
		if status != ours {
			out = append(out, fmt.Sprintf("%s %s (ours %s)", name, orQuoted(status), orQuoted(ours)))
		}
	}
	field("StoreId", c.StoreID, o.StoreID)
	field("OrderId", c.OrderID, o.OrderID)
	field("TenderType", c.TenderType, o.TenderType)
	field("SettlementType", c.SettlementType, o.SettlementType)
	field("Amount", strings.TrimSpace(c.Amount+" "+c.Currency), strings.TrimSpace(o.Amount+" "+o.Currency))
	if len(out) == 0 {
		return "no field that differs" // not reached: a conflict differs in one
	}
	return strings.Join(out, ", ")
}

// orQuoted is v, or "" quoted when it is empty.
func orQuoted(v string) string {
	if v == "" {
		return `""`
	}
	return v
}

// fields is the correlation a status's own fields select (rule 2).
func (h *ProviderStatus) fields(st *messages.PaymentSettlementStatus) store.Correlation {
	amount := st.Amount.Value
	if m, err := st.Amount.Money(); err == nil {
		amount = m.String()
	}
	return store.Correlation{
		Provider: h.Provider, StoreID: st.StoreID, OrderID: st.OrderID(), TenderType: st.TenderType,
		SettlementType: st.SettlementType, Amount: amount, Currency: st.Amount.CurrencyCode,
	}
}

// byCorrelation finds the settlements of the status's store whose
// correlation id is its ClientContext, and among them the one that id was
// made for (own: rule 1), if any.
func (h *ProviderStatus) byCorrelation(ctx context.Context, st *messages.PaymentSettlementStatus) (own *store.Settlement, byCtx []store.Settlement, err error) {
	byCtx, err = h.Store.Find(ctx, store.Correlation{Provider: h.Provider, StoreID: st.StoreID, CorrelationID: st.ClientContext})
	if err != nil {
		return nil, nil, fmt.Errorf("find settlements by ClientContext: %w", err)
	}
	for i := range byCtx {
		if ownCorrelation(byCtx[i]) {
			return &byCtx[i], byCtx, nil
		}
	}
	return nil, byCtx, nil
}

// sameMoney reports whether s is the settlement the fields c describe: its
// order, tender, type, amount and currency.
func sameMoney(s store.Settlement, c store.Correlation) bool {
	return s.OrderID == c.OrderID && s.TenderType == c.TenderType && s.SettlementType == c.SettlementType &&
		s.Amount == c.Amount && s.Currency == c.Currency
}

// awaited returns the settlement a status can be applied to without the
// order lock (when inProcess has no row for it, or its row was stale): the
// one its correlation id was made for (rule 1), with the
// status's money, while it awaits its verdict (submitting or
// acknowledged). Everything else — a settlement already finished, a
// conflict, a status without one of our correlation ids — goes through
// the order lock.
//
// Why no lock is needed here: the move to the verdict is a compare-and-set
// from the awaiting states, so it applies at most once, and only if
// nothing moved the settlement since it was read; it also compares the
// parking of a settlement read unparked (the sweeper parks without the
// order lock and without moving the state). On a conflict the status is
// applied again under the lock, from the row as it is then. A settlement
// awaiting its verdict has no status events (events are recorded only
// with a move to a final state, and final states are never left), so no
// earlier status can have been applied to it and our event is its first.
// The request handler may hold the order's lock meanwhile (the provider
// can send its status before the handler recorded "acknowledged"); it
// finds the verdict recorded when its own write fails (Settlement.outcome)
// and ends there. Settlements and statuses therefore still never disagree:
// only the waiting is gone, the status no longer queues a whole write
// behind the request's.
func (h *ProviderStatus) awaited(ctx context.Context, st *messages.PaymentSettlementStatus) (store.Settlement, bool, error) {
	if st.ClientContext == "" {
		return store.Settlement{}, false, nil
	}
	own, _, err := h.byCorrelation(ctx, st)
	if err != nil || own == nil || !sameMoney(*own, h.fields(st)) || !containsState(awaiting, own.State) {
		return store.Settlement{}, false, err
	}
	return *own, true, nil
}

// inProcess returns the settlement a status answering this process's own
// call can be applied to without a look-up: the row the settlement handler
// kept when it recorded the call (Requests.called: submitting; a status
// may come before the call's answer is recorded) or, once recorded, the
// settlement acknowledged (Requests.acknowledged), when the status names
// it exactly as awaited would have found it — its correlation id, made
// for it (rule 1), in the status's store, with the status's money — while
// it is, as kept, awaiting its verdict and not parked — and the request
// this process decoded for it, which our event is made from (the row
// keeps no body). Both are taken out: they serve one status
// (a repeat, a chargeback, a redelivery after a failure look the
// settlement up and decode its stored request).
//
// The row may be stale by now; apply's move, a compare-and-set from the
// awaiting states that also compares the parking, then fails and
// the status takes the look-up. A move that succeeds finds the settlement
// as the look-up would have: awaiting its verdict (no status events), not
// parked, and with the same request, ids and money, which no transition
// changes. Anything else the status could meet (finished, parked, another
// replica's call with no row here, a status that differs) takes the
// look-up, unchanged. A row kept at submitting serves a status for any
// call of the settlement (its correlation id is made from its key: every
// call carries it, and Radial's status carries nothing that tells one
// call from another), as the look-up serves it: one that comes while the
// call is in flight, or after it failed in a way that may have reached
// Radial; the settlement handler's acknowledged write then loses to the
// verdict (Settlement.verdictFirst).
func (h *ProviderStatus) inProcess(st *messages.PaymentSettlementStatus) (store.Settlement, *messages.PaymentSettlementRequest, bool) {
	if st.ClientContext == "" {
		return store.Settlement{}, nil, false
	}
	fields := h.fields(st)
	// Requests keeps only rows whose correlation id was made for them
	// (ownCorrelation, checked when kept: a correlation id never changes),
	// so it is not derived again here (a SHA-256 and two allocations per
	// status, 1.8 % of the worker's CPU in a profile).
	return h.Requests.awaitedRow(st.ClientContext, func(s store.Settlement) bool {
		return s.Provider == h.Provider && s.StoreID == st.StoreID && s.CorrelationID == st.ClientContext &&
			sameMoney(s, fields) && containsState(awaiting, s.State) && s.ParkedReason == ""
	})
}

// pick chooses the settlement that takes the status and the states to
// transition it from, or says why none can (rules 1 and 2).
func pick(exact *store.Settlement, cands []store.Settlement) (*store.Settlement, []store.State, string) {
	if exact != nil {
		switch {
		case containsState(awaiting, exact.State):
			return exact, awaiting, ""
		case containsState(finished, exact.State):
			return exact, finished, ""
		}
		return nil, nil, fmt.Sprintf("ClientContext %q is request %s's, which is %s: it has not been submitted, not applied",
			exact.CorrelationID, messages.MaskPANs(exact.RequestID), exact.State)
	}
	inState := func(states ...store.State) []store.Settlement {
		var out []store.Settlement
		for _, c := range cands {
			if containsState(states, c.State) {
				out = append(out, c)
			}
		}
		return out
	}
	if ack := inState(store.StateAcknowledged); len(ack) == 1 {
		// A look-alike that was submitted (its answer may be lost) or that
		// is finished (a later status: a chargeback, a repeat) could be
		// the status's settlement as well: without one of our correlation
		// ids nothing tells its verdict from the acknowledged one's.
		if others := inState(store.StateSubmitting, store.StateSettled, store.StateRefused); len(others) > 0 {
			return nil, nil, "ambiguous: acknowledged settlement " + describe(ack) + " and " + describe(others) +
				" all match and the status carries none of our correlation ids (the first verdict of the one or the verdict or a later status of another); not applied"
		}
		return &ack[0], []store.State{store.StateAcknowledged}, ""
	} else if len(ack) > 1 {
		return nil, nil, "ambiguous: acknowledged settlements " + describe(ack) + " all match and the status carries none of our correlation ids; not applied"
	}
	if sub := inState(store.StateSubmitting); len(sub) > 0 {
		return nil, nil, "settlement(s) " + describe(sub) + " match but are still submitting, and the status carries none of our correlation ids (the call may not have reached the provider); not applied"
	}
	if fin := inState(finished...); len(fin) == 1 {
		return &fin[0], finished, ""
	} else if len(fin) > 1 {
		return nil, nil, "ambiguous: finished settlements " + describe(fin) + " all match a later status that carries none of our correlation ids; not applied"
	}
	return nil, nil, fmt.Sprintf("settlement(s) %s match but none has been submitted yet", describe(cands))
}

// overturns says why status st is not applied to target, refused, when st
// is an S ("" when it may be applied). Radial sends further statuses after
// a verdict (a chargeback R after an S), but an S after an R cannot be
// told apart: the earlier S re-sent under a new message_id, an S overtaken
// by its chargeback (replicas order one order's statuses only within a
// process), or a reversal of the R. Applying it would publish an S after
// the R, perhaps wrongly, so a person decides.
func overturns(target store.Settlement, evs []store.StatusEvent, st *messages.PaymentSettlementStatus) string {
	if target.State != store.StateRefused || st.SettlementStatus != messages.StatusSettled {
		return ""
	}
	history := "none"
	if len(evs) > 0 {
		vs := make([]string, len(evs))
		for i, ev := range evs {
			vs[i] = ev.SettlementStatus
		}
		history = strings.Join(vs, ", ")
	}
	return fmt.Sprintf("status S for request %s, which is refused (our events: %s): a repeat of an earlier S, an S overtaken by the R, "+
		"or a reversal of the R cannot be told apart; not applied, check the settlement with %s",
		messages.MaskPANs(target.RequestID), history, target.Provider)
}

// describe lists settlements as "req-1 (acknowledged), req-2 (acknowledged)".
func describe(ss []store.Settlement) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = fmt.Sprintf("%s (%s)", messages.MaskPANs(s.RequestID), s.State)
	}
	return strings.Join(parts, ", ")
}

// sameVerdict reports whether target's latest recorded event ev already
// says what st says: the same S, or the same R with the same
// DeclineReason. An R whose body retention emptied is compared with the
// DeclineReason target keeps (that of its latest R).
func sameVerdict(target store.Settlement, ev store.StatusEvent, st *messages.PaymentSettlementStatus) bool {
	if len(ev.Body) == 0 && ev.SettlementStatus == messages.StatusRejected && st.SettlementStatus == messages.StatusRejected {
		return target.DeclineReason == st.DeclineReason
	}
	return says(ev, st)
}

// says reports whether recorded event ev says what status st says: the
// same verdict and, for an R, the same DeclineReason. An event whose body
// retention emptied is taken at its verdict: its reason can no longer be
// read (its republish parks the status: PurgedStatusError).
func says(ev store.StatusEvent, st *messages.PaymentSettlementStatus) bool {
	if ev.SettlementStatus != st.SettlementStatus {
		return false
	}
	if st.SettlementStatus != messages.StatusRejected || len(ev.Body) == 0 {
		return true
	}
	prev, err := messages.DecodeSettlementStatus(ev.Body)
	return err == nil && prev.DeclineReason == st.DeclineReason
}

// ourStatus rebuilds the status from the stored request, so that the order
// system gets its own ClientContext (not our correlation id) and payment
// context back. The request is Requests' decode of the stored bytes when it
// has one, else they are decoded here, by their recorded content type as
// the settlement handler decoded them.
func (h *ProviderStatus) ourStatus(s store.Settlement, st *messages.PaymentSettlementStatus) messages.PaymentSettlementStatus {
	return h.ourStatusFrom(s, st, nil)
}

// ourStatusFrom is ourStatus made from req, s's request as this process
// decoded it, when set (the in-process row, which has no body).
func (h *ProviderStatus) ourStatusFrom(s store.Settlement, st *messages.PaymentSettlementStatus, req *messages.PaymentSettlementRequest) messages.PaymentSettlementStatus {
	if req == nil {
		req = h.Requests.take(s)
	}
	var err error
	if req == nil {
		// Read as the settlement handler read it (decodeRequestAs: the
		// content type's media type, case aside): "Application/JSON" is
		// JSON, "application/xml; profile=json" XML.
		req, err = decodeRequestAs(s.Request, s.ContentType)
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

// parkInvalid parks the provider status when err is an
// *InvalidStatusError (our event for it would not be a valid document) or
// a *PurgedStatusError (retention emptied our event) and returns any other
// err unchanged.
func (h *ProviderStatus) parkInvalid(ctx context.Context, msg *message.Message, err error, log zerolog.Logger) error {
	var purged *PurgedStatusError
	if errors.As(err, &purged) {
		return h.park(ctx, msg, "provider status not applied: it repeats a verdict already recorded and published; "+purged.Error()+
			"; nothing was changed. Check the verdict with `settlement-worker show "+messages.MaskPANs(purged.RequestID)+"`; this parked copy can then be purged", log)
	}
	var invalid *InvalidStatusError
	if errors.As(err, &invalid) {
		return h.park(ctx, msg, "provider status not applied: "+invalid.Error(), log)
	}
	return leftToRelay(err, log)
}

// leftToRelay is nil for an event of a recorded verdict that the broker
// refused (no queue bound for its store, a full queue): it stays in the
// outbox, which the sweeper relays each round, message by message. Handed
// back, the provider's status would be retried in place by the keyed
// subscriber forever, holding its order and a prefetch slot for good (with
// as many such statuses as slots, every order's). Other errors are
// returned.
func leftToRelay(err error, log zerolog.Logger) error {
	if broker.IsMessageRefused(err) {
		log.Warn().Err(err).Msg("the broker refused our status event; the verdict is recorded and the outbox relay tries it again each sweep")
		return nil
	}
	return err
}

func (h *ProviderStatus) park(ctx context.Context, msg *message.Message, reason string, log zerolog.Logger) error {
	reason = messages.MaskPANs(reason) // the log line below, as parkMessage does for the copy
	if err := parkMessage(ctx, h.Pub, msg, broker.ProviderStatusParkedQueue(h.Provider), h.Queue, reason, 0, ""); err != nil {
		return err
	}
	h.Metrics.outcome(h.Provider, "status_parked")
	log.Warn().Str("parked_reason", reason).Msg("provider status parked")
	return nil
}

// dedupKey is the DedupKey of a settlement's seq-th event: unique per
// settlement and event, carrying the verdict and the AMQP message_id of the
// provider status that produced it (the secondary dedup key).
func dedupKey(seq int, verdict, msgID string) string {
	return fmt.Sprintf("ps:%d:%s:amqp:%s", seq, verdict, msgID)
}

// storableMessageID is the AMQP message_id id as the store can keep it in
// a DedupKey: as it is when it is valid text, else "sha256:" and the hex
// of its SHA-256. A message_id with a NUL byte or invalid UTF-8 (the store
// refuses those in identifiers) otherwise failed every delivery of its
// status, which the keyed subscriber hands back in-process forever.
func storableMessageID(id string) string {
	if utf8.ValidString(id) && !strings.Contains(id, "\x00") {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// dedupMessageID returns the provider status message_id recorded in a
// DedupKey ("" when none): dedupKey's form, or "amqp:<id>" as recorded
// before dedup was per settlement.
func dedupMessageID(key string) string {
	if i := strings.Index(key, ":amqp:"); strings.HasPrefix(key, "ps:") && i >= 0 {
		return key[i+len(":amqp:"):]
	}
	if id, ok := strings.CutPrefix(key, "amqp:"); ok {
		return id
	}
	return ""
}

func containsState(set []store.State, s store.State) bool {
	for _, x := range set {
		if x == s {
			return true
		}
	}
	return false
}

// statusBudget bounds the handling of one provider status.
const statusBudget = time.Minute

// StatusOrderKey is the key under which a provider's statuses are applied
// one at a time, in queue order: the store and order the status names (an S
// and its chargeback R must not overtake each other). A status that cannot
// be read has the key "" (they are parked one at a time).
//
// The decoded status is kept in the message's context for the handler
// (statusOf), so that a status is decoded once.
func StatusOrderKey(msg *message.Message) string {
	st, err := decodeStatus(msg.Payload)
	msg.SetContext(context.WithValue(msg.Context(), decodedStatusKey{}, &decodedStatus{payload: msg.Payload, st: st, err: err}))
	if err != nil {
		return ""
	}
	return st.StoreID + "/" + st.OrderID()
}

// decodeStatus is messages.DecodeSettlementStatus (a variable so that
// tests can count the decodes).
var decodeStatus = messages.DecodeSettlementStatus

// decodedStatusKey is the context key of a status StatusOrderKey decoded.
type decodedStatusKey struct{}

// decodedStatus is a decoded status and the payload it was decoded from.
type decodedStatus struct {
	payload []byte
	st      *messages.PaymentSettlementStatus
	err     error
}

// statusOf decodes the provider status msg carries, or returns the one
// StatusOrderKey decoded from that very payload (the same bytes in
// memory: a message copied or given another payload is decoded again). It
// returns a copy, which the caller may change.
func statusOf(msg *message.Message) (*messages.PaymentSettlementStatus, error) {
	d, ok := msg.Context().Value(decodedStatusKey{}).(*decodedStatus)
	if !ok || !samePayload(d.payload, msg.Payload) {
		return decodeStatus(msg.Payload)
	}
	if d.err != nil {
		return nil, d.err
	}
	cp := *d.st
	return &cp, nil
}

// samePayload reports whether a and b are the same bytes in memory.
func samePayload(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// out is where this handler's status events go.
func (h *ProviderStatus) out() eventOut { return eventOut{h.Pub, h.Store, h.Marks} }
