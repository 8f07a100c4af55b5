package handlers

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/money"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
	"github.com/settlement-worker/settlement-worker/tracing"
)

// Crash points: places where a test build may kill the worker (see
// Settlement.Crash) to prove that a crash at each step boundary neither loses
// a settlement nor debits twice.
const (
	// CrashAfterConfirm is after ConfirmFunds answered that the funds are
	// available, before that is recorded (with the move to submitting):
	// the redelivery confirms again.
	CrashAfterConfirm    = "after_confirm"
	CrashAfterSettleCall = "after_settle_call"
	// CrashAfterTerminalCommit is after the terminal state and its event
	// were committed, before the event is published (the outbox relays it).
	CrashAfterTerminalCommit = "after_terminal_commit"
	CrashAfterStatusPublish  = "after_status_publish"
)

// RetryPolicy bounds retries of transient failures.
type RetryPolicy struct {
	// Delays are the waits before attempt 2, 3, ...; the last one repeats.
	Delays []time.Duration
	// MaxAttempts is the total number of attempts before a message is parked.
	MaxAttempts int
}

func (p RetryPolicy) delay(attempt int) time.Duration {
	if len(p.Delays) == 0 {
		return time.Second
	}
	i := attempt - 1
	if i >= len(p.Delays) {
		i = len(p.Delays) - 1
	}
	if i < 0 {
		i = 0
	}
	return p.Delays[i]
}

// Settlement is the Watermill handler for one provider's request queue: it
// runs confirm funds then debit (credits skip the confirm), records every
// step durably before and after each provider call, and ends every request
// in a status event, a retry or a parked message.
//
// Exactly one debit: the request's state is read under a per-order lock; a
// terminal request republishes its recorded status and never reaches the
// provider; a request found in "submitting" (a crash or timeout after the
// call may have reached the provider) is recovered through the provider's
// idempotency (Reconciler, or Settle again with the same key) — never by a
// blind new submission; an acknowledged (asynchronous) request is never
// submitted again.
type Settlement struct {
	// Provider is the provider client.
	Provider providers.Provider
	// Store is the durable settlement store.
	Store store.Store
	// Outage, when set, holds a delivery whose run failed while the store
	// does not answer, and runs it again once it does (StoreOutage).
	Outage *StoreOutage
	// Marks, when set, takes the marks of confirmed status events and
	// writes them in batches, off the handler's path (markDone); nil
	// writes each at once.
	Marks *store.Marker
	// ReplayKeys, when set (STORE_ENCRYPTION_KEY), are the keys a replayed
	// copy must be signed with (broker.HeaderReplayMAC) to resume a
	// parked settlement (replayCopy).
	ReplayKeys *store.Keyring
	// Pub publishes status events, retries and parked messages with confirms.
	Pub Publisher
	// Retry is the retry policy for transient failures.
	Retry RetryPolicy
	// RequireTenderType also lists a missing or malformed tender_type
	// header among the request's problems, even when the provider's Facts
	// do not. Either way such a request is parked, since no valid
	// PaymentSettlementStatus can report it without a TenderType.
	RequireTenderType bool
	// CallTimeout bounds each provider call (0: the provider's Facts, else 15s).
	CallTimeout time.Duration
	// Log is the handler's logger.
	Log zerolog.Logger
	// PendingDeadline parks a settlement still pending at the provider
	// this long after it was first pending (0: no deadline); checked on
	// every poll, answered or failed.
	PendingDeadline time.Duration
	// StuckAfter is the sweeper's STUCK_AFTER. A poll that finds the
	// settlement still pending records so (a transition to pending, with
	// no change) when, by the next poll, its last update would be half
	// that old: a live poll loop never looks stuck to the sweeper, which
	// would publish another copy of the request (another poll loop) every
	// StuckAfter. 0 records nothing.
	StuckAfter time.Duration
	// Metrics, when set, counts outcomes.
	Metrics *Metrics
	// Crash, when set, is called at each crash point (test builds only).
	Crash func(point string)
	// MaxRequestBytes parks a request message whose body is larger, before
	// it is parsed, recorded or sent to the provider (0: no limit). The
	// worker sets it from MAX_REQUEST_BYTES.
	MaxRequestBytes int64
	// LockWait is how long a delivery waits for its order's lock (held by
	// another delivery of the same order) before it is deferred through the
	// shortest retry queue, without counting an attempt, so that a burst
	// for one order does not occupy every consumer. 0 waits as long as the
	// handler's budget.
	LockWait time.Duration
	// Requests, when set (shared with the provider's ProviderStatus
	// handler), takes each request as it is submitted, so that its status
	// handler need not decode the stored request again.
	Requests *Requests
	// Now is this host's clock (nil: time.Now). Tests set it to play a
	// replica whose clock differs from the others'.
	Now func() time.Time
	// shared is the offset of the store's shared clock (clock.go).
	shared sharedClock
}

// Refs the pipeline records on a settlement (besides the provider's own).
const (
	// refPendingSince records when a settlement first became pending.
	refPendingSince = "pending_since"
	// refCallSentAt records, durably before the call, when the last
	// Settle call was sent (RFC 3339 with nanoseconds).
	refCallSentAt = "call_sent_at"
	// refCallNotSent is "true" when the last Settle call failed in a way
	// that proves the provider did not act on it (providers.WasNotSent).
	refCallNotSent = "call_not_sent"
	// refCallAnsweredAt records when the answer to the last call came, when
	// it marked the call not sent or left its outcome unknown (a timeout, a
	// lost reply, a bare 503) (RFC 3339 with nanoseconds). call_sent_at is written
	// before Settle runs, and Settle may send the call later (a provider
	// that reads first: Miva's refund loads the payment list); the call
	// was sent before its answer, so a settle window counted from the
	// answer covers a late commit of it.
	refCallAnsweredAt = "call_answered_at"
	// refCallNotMade is "true" when the call marked not sent was never
	// made (the order lock was lost before it), "false" when it was made
	// and answered "not sent" (providers.WasNotSent). Without an
	// idempotency key such an answer (a proxy's 503) may follow a call the
	// provider acted on, which is why the retry reads first; a sibling of
	// the same amount must take it for a call that may have moved money
	// (unnamedMove).
	refCallNotMade = "call_not_made"
	// refAttemptsBase is the attempt count the retry budget counts from:
	// when the settlement was last replayed after parking, or, while it
	// is pending, when the provider last answered (the move to pending,
	// a poll that found it still pending), so that only consecutive
	// failed polls spend the budget.
	refAttemptsBase = "attempts_base"
	// refParking identifies the settlement's current parking (newParking,
	// recorded with each parked reason, "" once a replay resumes it): its
	// parked copies carry it (broker.HeaderParking), and only a replay of
	// that parking resumes the settlement (replayCopy).
	refParking = "parking"
)

// delivery is one delivery of a request message as the pipeline
// understands it: the message, its parsed request, and what the steps of
// this run share (the attempt, the lock held, the logger).
type delivery struct {
	// msg is the delivered message (retries and parking copy it).
	msg *message.Message
	// log carries the request's fields, and the state being run.
	log        zerolog.Logger
	req        *messages.PaymentSettlementRequest
	key        store.Key
	storeID    string
	tenderType string
	// attempt is the attempt of this delivery within the current retry
	// budget (attempts recorded in the store since the last replay, plus
	// this one); attempts are counted in the store, never read from a
	// header that a publisher could set.
	attempt int
	// counted is set once this delivery's attempt is recorded.
	counted bool
	// unrecorded is set while a new debit is not in the store yet: it is
	// registered with its funds confirmation's outcome (recordDebit).
	unrecorded bool
	problems   []string
	// unreportable lists why no valid PaymentSettlementStatus can carry
	// this request's outcome (statusProblems); such a request is parked.
	unreportable []string
	preq         *providers.Request
	lock         lockRef
}

// lockRef names the order lock a delivery holds, to check it before each
// provider call.
type lockRef struct{ storeID, orderID string }

// syncAttempt derives the attempt numbers from the stored settlement: the
// delivery about to run is attempt s.Attempts+1 overall (the provider sees
// that number, e.g. in Radial's ConfirmFunds requestId) and
// s.Attempts+1-base within the retry budget.
func (in *delivery) syncAttempt(s store.Settlement) {
	base := attemptsBase(s)
	n := s.Attempts
	if !in.counted {
		n++
	}
	in.attempt = max(1, n-base)
	in.preq.Attempt = max(1, n)
}

// attemptsBase is the attempt count the retry budget of s counts from
// (refAttemptsBase; 0 when none is recorded).
func attemptsBase(s store.Settlement) int {
	base, _ := strconv.Atoi(s.Refs[refAttemptsBase])
	return base
}

// Handle implements message.NoPublishHandlerFunc. It returns an error only
// when the broker or the store is unavailable, so that the message is
// requeued; every other outcome is acked.
func (h *Settlement) Handle(msg *message.Message) (err error) {
	// The settlement must finish even when the worker is asked to stop: its
	// context is detached from the router's and bounded instead.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(msg.Context()), h.budget())
	defer cancel()
	// One span per delivery (an attempt), in the trace the request's
	// headers carry.
	ctx, span := tracing.Start(tracing.Extract(ctx, msg), "settle "+h.Provider.Name(),
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("settlement.provider", h.Provider.Name()), attribute.String("messaging.message.id", messages.MaskPANs(msg.UUID))))
	defer func() { tracing.End(span, err) }()

	log := h.Log.With().Str("provider", h.Provider.Name()).Str("message_id", messages.MaskPANs(msg.UUID)).Logger()

	if sent, err := h.sendUnsentCopy(ctx, msg, log); sent {
		return err
	}
	if n := int64(len(msg.Payload)); h.MaxRequestBytes > 0 && n > h.MaxRequestBytes {
		reason := fmt.Sprintf("request body is %d bytes, above MAX_REQUEST_BYTES (%d): not parsed, not recorded, not sent to %s, no status published; "+
			"send a smaller request (or raise MAX_REQUEST_BYTES and replay)", n, h.MaxRequestBytes, h.Provider.Name())
		log.Warn().Int64("bytes", n).Msg("request too large; parking it")
		return h.park(ctx, msg, 0, reason, log)
	}

	if bad := msg.Metadata.Get(broker.HeaderUnreadable); bad != "" {
		reason := fmt.Sprintf("request headers the worker's AMQP client cannot read: %s; not parsed, not recorded, not sent to %s, no status published: "+
			"send the request again without them", maskedText(bad, 1000), h.Provider.Name())
		log.Warn().Str("headers", maskedText(bad, 1000)).Msg("request headers cannot be read; parking it")
		return h.park(ctx, msg, 0, reason, log)
	}
	req, err := decodeRequest(msg)
	if err != nil {
		log.Warn().Err(err).Msg("request cannot be parsed; parking it")
		return h.park(ctx, msg, 0, "unparseable request: "+err.Error(), log)
	}
	in := h.understand(msg, req, attemptOf(msg))
	span.SetAttributes(attribute.String("settlement.request_id", messages.MaskPANs(in.key.RequestID)), attribute.String("settlement.order_id", messages.MaskPANs(req.OrderID())),
		attribute.String("settlement.type", req.SettlementType))
	// The order and store ids are the sender's: one holding a card number
	// is masked here (it is sent, recorded and routed on as it is).
	log = log.With().Str("request_id", messages.MaskPANs(in.key.RequestID)).Str("order_id", messages.MaskPANs(req.OrderID())).
		Str("store_id", messages.MaskPANs(in.storeID)).Str("settlement_type", req.SettlementType).Logger()
	if req.PaymentContext != nil {
		log = log.With().Str("account", messages.MaskAccount(req.PaymentContext.PaymentAccountUniqueID.Value)).Logger()
	}
	in.log = log

	// Every delivery that passes the identity checks below has the same
	// store, order and requestId as the recorded request, so it takes the
	// same lock: deliveries of one requestId are serialized, as are the
	// settlements of one order.
	// A provider that acts on one store whatever store_id says
	// (Facts.OneStore) has one order under every store_id: one lock.
	lockKey, lockStore := req.OrderID(), h.orderStore(in.storeID)
	if lockKey == "" {
		lockKey = "request:" + in.key.RequestID
	}
	unlock, err := h.lockOrder(ctx, lockStore, lockKey)
	if errors.Is(err, errOrderBusy) {
		return h.deferBusy(ctx, in, lockKey)
	}
	if err != nil {
		return fmt.Errorf("lock order %s: %w", messages.MaskPANs(lockKey), err)
	}
	defer unlock()
	in.lock = lockRef{storeID: lockStore, orderID: lockKey}

	// A new request that no valid PaymentSettlementStatus can answer is
	// parked before anything is recorded or sent: its outcome could never
	// be reported. A request already recorded is never checked again.
	if len(in.unreportable) > 0 {
		switch _, err := h.Store.Get(ctx, in.key); {
		case errors.Is(err, store.ErrNotFound):
			reason := h.unreportableReason(in)
			log.Warn().Str("reason", reason).Msg("no valid status can answer this request; parking it")
			return h.park(ctx, msg, 0, reason, log)
		case err != nil:
			return fmt.Errorf("look up %s: %w", messages.MaskPANs(in.key.RequestID), err)
		}
	}

	// A new, valid debit is not recorded before its funds are confirmed:
	// that step is a read at the provider, and a crash during it loses
	// nothing (the redelivery finds no record and confirms again). It is
	// registered with the confirmation's outcome, in one write, durably
	// before the settle call (recordDebit): one write instead of two.
	var s store.Settlement
	var created bool
	if len(in.problems) == 0 && req.SettlementType == messages.SettlementDebit {
		switch got, gerr := h.Store.Get(ctx, in.key); {
		case errors.Is(gerr, store.ErrNotFound):
			s, created = h.newSettlement(msg, in), true
			s.State, s.Attempts = store.StateConfirming, 1
			in.unrecorded, in.counted = true, true
		case gerr != nil:
			return fmt.Errorf("look up %s: %w", messages.MaskPANs(in.key.RequestID), gerr)
		default:
			s = got
		}
	} else {
		s, created, err = h.Store.Register(ctx, h.newSettlement(msg, in))
	}
	if errors.Is(err, store.ErrInvalidText) {
		return h.unrecordable(ctx, in, err)
	}
	if err != nil {
		return fmt.Errorf("register %s: %w", messages.MaskPANs(in.key.RequestID), err)
	}
	if !created {
		if reason := h.identityMismatch(s, req, msg); reason != "" {
			log.Warn().Str("recorded_state", string(s.State)).Msg(reason)
			return h.park(ctx, msg, 0, reason, log)
		}
		log.Info().Str("state", string(s.State)).Msg("request seen before; resuming from its recorded state")
		h.resumeRecorded(s, in, log)
	}
	if s.ParkedReason != "" && (ownCopy(msg) || !replayCopy(msg, h.ReplayKeys, s.Refs[refParking]) || parkingRecorded(msg)) {
		// Only a replay (a person's act) resumes a parked settlement. A
		// poll or retry copy of another loop of this request (a duplicate
		// ran one beside the loop that parked it), or a duplicate from the
		// order system, stops here: the parking waits for a person.
		if msg.Metadata.Get(broker.MetaRedelivered) == "true" || parkingRecorded(msg) {
			// Handed back and delivered again: perhaps the very delivery
			// that recorded the parking, whose parked copy was never
			// published (the broker restarting, the worker killed in
			// between). Or that very delivery run again in place (the
			// router's retry of a run that returned an error: same
			// message, not redelivered), which recorded the parking and
			// failed to publish the copy. Its copy is parked again so that
			// the parked queue holds the settlement (at worst twice), never
			// nothing.
			return h.parkAs(ctx, msg, 0, s.ParkedReason, s.Refs[refParking], log)
		}
		if staleReplay(msg, s.Refs[refParking]) && !ownCopy(msg) {
			// A replay of an earlier parking (deferred while its order
			// was busy, or kept and sent again): that parking was
			// resumed, and the settlement parked again since, whose
			// parked copy waits for a person's replay.
			log.Warn().Str("parked_reason", truncate(s.ParkedReason, 200)).
				Msg("a replay of an earlier parking of this settlement, parked again since: not resumed, changes nothing (replay its current parked copy)")
			return nil
		}
		if unsignedReplay(msg, h.ReplayKeys, s.Refs[refParking]) && !ownCopy(msg) {
			// A replay's copy (perhaps moved by a CLI without the
			// worker's keys) whose signature does not verify: dropped,
			// the parked queue would no longer hold the settlement.
			// Parked again, saying why; a forged one so ends where a
			// person sees it.
			return h.parkAs(ctx, msg, 0, "a replayed copy whose signature ("+broker.HeaderReplayMAC+") the worker's STORE_ENCRYPTION_KEY does not verify: "+
				"not resumed; replay it with the settlement-worker CLI configured with the worker's keys (it was parked: "+truncate(s.ParkedReason, 300)+")", s.Refs[refParking], log)
		}
		log.Info().Str("parked_reason", truncate(s.ParkedReason, 200)).
			Msg("parked for a person: this delivery is not a replay and changes nothing (a replay resumes the settlement)")
		return nil
	}
	if s.ParkedReason != "" {
		nothing, err := h.nothingToReplay(ctx, s)
		if err != nil {
			return err
		}
		if nothing {
			// A replay has nothing to resume or publish. Its copy goes
			// back to the parked queue with the settlement's reason and
			// parking, which stay: one parked copy, the settlement still
			// marked (cleared, the republish would park the copy and the
			// next sweep another one, or, with no event, ack it: nothing
			// left to say the order system was never told).
			log.Warn().Str("parked_reason", truncate(s.ParkedReason, 200)).
				Msg("replayed, but its verdict has no valid status document to publish: parked again as it was")
			return h.parkAs(ctx, msg, 0, s.ParkedReason, s.Refs[refParking], log)
		}
	}
	if s.ParkedReason != "" {
		// A parked request was replayed by an operator: it gets a fresh
		// retry budget (attempts counted from here) and, when pending, a
		// fresh deadline.
		none := ""
		ch := store.Change{ParkedReason: &none, Note: "replayed after parking",
			Refs: map[string]string{refAttemptsBase: strconv.Itoa(s.Attempts), refParking: ""}}
		if s.State == store.StatePending || s.Refs[refPendingSince] != "" {
			// Also a settlement pending before and parked while its
			// poll's call was sent again (resubmitPolled): answered
			// pending again, it keeps pending_since (outcome).
			ch.Refs[refPendingSince] = time.Now().UTC().Format(time.RFC3339)
		}
		if s, _, err = h.Store.Transition(ctx, s.Key, []store.State{s.State}, s.State, ch, nil); err != nil {
			return fmt.Errorf("unpark %s: %w", messages.MaskPANs(in.key.RequestID), err)
		}
		log.Info().Msg("replayed after parking; resuming")
	}
	in.syncAttempt(s)
	// A request is validated once, when it is new: a settlement past
	// received resumes from the store and is never refused again.
	if len(in.problems) > 0 && s.State == store.StateReceived {
		reason := messages.MaskPANs("invalid request: " + strings.Join(in.problems, "; "))
		log.Warn().Str("reason", reason).Msg("refusing invalid request")
		in.log = log
		return h.finish(ctx, s, in, ending{to: store.StateRefused, verdict: messages.StatusRejected, reason: reason})
	}
	in.log = log.With().Int("attempt", in.attempt).Logger()
	return h.run(ctx, s, in)
}

// nothingToReplay reports whether a replay of parked settlement s can
// neither resume nor publish anything: its recorded status event is not a
// valid document (the sweeper's store.ParkedInvalidEvent), or it ended
// without one (finish: a verdict no valid status can report).
func (h *Settlement) nothingToReplay(ctx context.Context, s store.Settlement) (bool, error) {
	if strings.HasPrefix(s.ParkedReason, store.ParkedInvalidEvent) {
		return true, nil
	}
	if !s.State.Terminal() {
		return false, nil
	}
	evs, err := h.Store.Statuses(ctx, s.Key)
	if err != nil {
		return false, fmt.Errorf("read statuses of %s: %w", messages.MaskPANs(s.RequestID), err)
	}
	for _, ev := range evs {
		if len(ev.Body) > 0 && validateStatusDocument(ev.Body) != nil {
			return true, nil
		}
	}
	return len(evs) == 0, nil
}

// identityMismatch compares a delivery of a known requestId with the
// recorded request: its body (fingerprint) and every header that steers
// money (the generic ones and the provider's Facts.MoneyHeaders). It
// returns why the delivery is not the recorded request, or "".
func (h *Settlement) identityMismatch(s store.Settlement, req *messages.PaymentSettlementRequest, msg *message.Message) string {
	if !req.MatchesFingerprint(s.Fingerprint) && !sameAsRecorded(s, req) {
		return fmt.Sprintf("requestId %q was already used by a different request (%s); this delivery was not applied. %s",
			messages.MaskPANs(s.RequestID), recordedAs(s), sendAgainAdvice(messages.MaskPANs(s.RequestID)))
	}
	for _, name := range h.moneyHeaders() {
		var norm func(string) string
		if name == HeaderOriginalAuthAmount {
			// An amount: "150.0" is the recorded "150.00" (the body's
			// fingerprint matched, so the currency is the recorded one).
			norm = func(v string) string {
				c, _ := money.Canonical(v, req.Amount.CurrencyCode)
				return c
			}
		}
		if headerIdentity(msg.Metadata, name, norm) != headerIdentity(s.Headers, name, norm) {
			return fmt.Sprintf("requestId %q was recorded with header %s %s but this delivery has %s; it was not applied (%s). %s",
				messages.MaskPANs(s.RequestID), name, describeHeader(headerIdentity(s.Headers, name, nil)), describeHeader(headerIdentity(msg.Metadata, name, nil)),
				recordedAs(s), sendAgainAdvice(messages.MaskPANs(s.RequestID)))
		}
	}
	return ""
}

// sameAsRecorded reports whether req is the request recorded in s, read
// from its recorded body: for a record whose fingerprint an earlier
// version computed from the request as received (its amounts as written),
// which a copy spelling them another way does not match. A record whose
// body is gone (retention) or does not decode is not req.
func sameAsRecorded(s store.Settlement, req *messages.PaymentSettlementRequest) bool {
	if len(s.Request) == 0 {
		return false
	}
	rec, err := decodeRequestAs(s.Request, s.ContentType)
	return err == nil && rec.Fingerprint() == req.Fingerprint()
}

// recordedAs describes the recorded request of a parked duplicate: what it
// settles and how far it got, so that whoever reads the parked reason
// knows the money under that requestId is being (or was) moved.
func recordedAs(s store.Settlement) string {
	return fmt.Sprintf("recorded: %s of %s %s for order %s, now %s, goes on unchanged",
		s.SettlementType, s.Amount, s.Currency, strconv.Quote(maskedText(s.OrderID, 64)), s.State)
}

// sendAgainAdvice is what a parked duplicate that is not the recorded
// request asks of a person: a new requestId is for a different
// settlement only; the recorded one sent again under a new requestId
// would move its money a second time.
func sendAgainAdvice(requestID string) string {
	return fmt.Sprintf("Compare the two first (settlement-worker show %s): if this is the recorded settlement sent again with other details, "+
		"do not send it under a new requestId, which would move the money a second time; only a different settlement takes a new requestId", requestID)
}

// resumeRecorded makes a delivery that is the recorded request s (its
// identity matched) go on as the recorded request: when its body is that
// request written another way (amounts spelled otherwise: "100.0" for
// "100.00"), the recorded body is what the provider is sent and the
// status echoes. A provider that deduplicates on the document (Radial,
// on requestId and content) would refuse the other spelling under the
// same requestId as another request. The delivery's problems are the
// recorded request's. A recorded body that is gone (retention) or does
// not decode leaves the delivery's.
func (h *Settlement) resumeRecorded(s store.Settlement, in *delivery, log zerolog.Logger) {
	if len(s.Request) == 0 || bytes.Equal(s.Request, in.msg.Payload) {
		return
	}
	rec, err := decodeRequestAs(s.Request, s.ContentType)
	if err != nil || rec.SameAsReceived(in.req) {
		return
	}
	log.Info().Msg("this delivery writes the recorded request another way; going on with the recorded one")
	// Judged as the recorded request too: a spelling of the same values
	// may break a rule the recorded text keeps (more digits than the
	// schema reads), and a settlement still received is refused for its
	// request's problems.
	again := h.understand(in.msg, rec, in.attempt)
	in.req, in.preq.Message = rec, rec
	in.problems, in.unreportable = again.problems, again.unreportable
}

// headerIdentity is the value of header name that is part of a request's
// identity: its trimmed value, and the trimmed value of every header whose
// name is name in another case (a provider may read those: Frisbii's
// Charge_Handle), each as Name=value, sorted. A duplicate that differs
// only there names the same value for the exact name yet may steer money.
// norm, when not nil, rewrites each trimmed value in its canonical form
// (an amount's), so that two spellings of one value are one identity.
func headerIdentity(headers map[string]string, name string, norm func(string) string) string {
	if norm == nil {
		norm = func(v string) string { return v }
	}
	v := norm(strings.TrimSpace(headers[name]))
	var variants []string
	for k, hv := range headers {
		if k != name && strings.EqualFold(k, name) {
			variants = append(variants, k+"="+norm(strings.TrimSpace(hv)))
		}
	}
	if len(variants) == 0 {
		return v
	}
	slices.Sort(variants)
	if v != "" {
		variants = append([]string{name + "=" + v}, variants...)
	}
	return strings.Join(variants, "; ")
}

// unreportableReason is the parked reason of a request that no valid
// PaymentSettlementStatus can answer: the status's problems, and the
// request's own when it is also invalid.
func (h *Settlement) unreportableReason(in *delivery) string {
	var b strings.Builder
	fmt.Fprintf(&b, "not settled and no PaymentSettlementStatus published: a status for this request would break Radial's schema (%s)",
		strings.Join(in.unreportable, "; "))
	if len(in.problems) > 0 {
		fmt.Fprintf(&b, "; invalid request: %s", strings.Join(in.problems, "; "))
	}
	fmt.Fprintf(&b, "; not recorded, not sent to %s: fix the request and send it again", h.Provider.Name())
	return messages.MaskPANs(b.String())
}

// moneyHeaders are the headers that are part of a request's identity.
func (h *Settlement) moneyHeaders() []string {
	out := []string{HeaderStoreID, HeaderTenderType, HeaderOriginalAuthAmount}
	for _, m := range h.facts().MoneyHeaders {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// describeHeader quotes a header value for a parked reason (they are ids
// and amounts, never card data), or says it is absent.
func describeHeader(v string) string {
	if v == "" {
		return "absent"
	}
	return strconv.Quote(maskedText(v, 64))
}

// run advances the settlement from its recorded state until it ends, waits
// for an asynchronous verdict, or is handed to the retry queues. The states,
// the step each runs and what a crash in that step means are listed in the
// package documentation (doc.go).
func (h *Settlement) run(ctx context.Context, s store.Settlement, in *delivery) error {
	if err := h.clockReady(ctx); err != nil {
		return err
	}
	err := h.steps(ctx, s, in)
	if errors.Is(err, store.ErrInvalidText) && in.unrecorded {
		return h.unrecordable(ctx, in, err)
	}
	var rm *recordedMeanwhile
	if !errors.As(err, &rm) {
		return err
	}
	// A new debit's registration found its requestId recorded by another
	// delivery meanwhile (recordDebit): this delivery is a duplicate, so
	// it is checked as one and resumes from the record.
	rec := rm.s
	if reason := h.identityMismatch(rec, in.req, in.msg); reason != "" {
		in.log.Warn().Str("recorded_state", string(rec.State)).Msg(reason)
		return h.park(ctx, in.msg, 0, reason, in.log)
	}
	in.log.Info().Str("state", string(rec.State)).Msg("request recorded by another delivery meanwhile; resuming from its recorded state")
	h.resumeRecorded(rec, in, in.log)
	in.unrecorded, in.counted = false, false
	in.syncAttempt(rec)
	return h.steps(ctx, rec, in)
}

// unrecordable parks a new request the store refuses to record
// (store.ErrInvalidText: an identifier that is not text). Returned as an
// error, it would come back on every delivery with no answer; the checks
// before registration (understand) catch the known cases, this is the
// mechanism's own guard.
func (h *Settlement) unrecordable(ctx context.Context, in *delivery, err error) error {
	reason := "the request cannot be recorded: " + err.Error()
	in.log.Warn().Err(err).Msg("request cannot be recorded; parking")
	return h.park(ctx, in.msg, in.attempt, reason, in.log)
}

// recordedMeanwhile is recordDebit's error when the requestId was recorded
// by another delivery while this one confirmed its funds; s is the record.
type recordedMeanwhile struct{ s store.Settlement }

func (e *recordedMeanwhile) Error() string {
	return fmt.Sprintf("%s was recorded by another delivery (now %s) while its funds were confirmed", messages.MaskPANs(e.s.RequestID), e.s.State)
}

// steps is run's loop: the step of each state until the settlement ends,
// waits, or is handed to the retry queues.
func (h *Settlement) steps(ctx context.Context, s store.Settlement, in *delivery) error {
	freshSubmit := false
	base := in.log
	for {
		in.log = base.With().Str("state", string(s.State)).Logger()
		log := in.log
		var err error
		switch s.State {
		case store.StateWithheld, store.StateSettled, store.StateRefused:
			err := h.republish(ctx, s, log)
			var purged *PurgedStatusError
			if errors.As(err, &purged) {
				return h.park(ctx, in.msg, 0, h.purgedDuplicateReason(s), log)
			}
			var invalid *InvalidStatusError
			if errors.As(err, &invalid) {
				return h.park(ctx, in.msg, 0, "duplicate of a finished request whose recorded status is not republished: "+invalid.Error(), log)
			}
			return err

		case store.StateReceived:
			next := store.StateSubmitting
			if in.req.SettlementType == messages.SettlementDebit {
				next = store.StateConfirming
			}
			freshSubmit = next == store.StateSubmitting
			ch := store.Change{IncAttempts: true, Note: "attempt " + strconv.Itoa(in.preq.Attempt)}
			if next == store.StateSubmitting {
				if p, ok := h.Provider.(providers.Preparer); ok {
					if err := h.checkLock(ctx, in); err != nil {
						return h.failed(ctx, s, in, "prepare", err)
					}
					perr := h.timed("prepare", func(cctx context.Context) error {
						var e error
						ch.Refs, e = p.Prepare(cctx, in.preq)
						return e
					}, ctx)
					if perr != nil {
						return h.failed(ctx, s, in, "prepare", perr)
					}
				}
				ch.Refs = mergeRefs(mergeRefs(ch.Refs, refCallSentAt, h.stamp(ctx)), refCallNotSent, "false")
			}
			s, err = h.move(ctx, s, next, ch)
			in.counted = err == nil

		case store.StateConfirming:
			if s, err = h.countAttempt(ctx, s, in); err != nil {
				return err
			}
			if in.preq.AuthorizationAmount.Currency == "" {
				in.preq.AuthorizationAmount = in.preq.Amount
			}
			if err := h.checkLock(ctx, in); err != nil {
				return h.failed(ctx, s, in, "confirm funds", err)
			}
			in.preq.Refs = s.Refs
			var cr providers.ConfirmResult
			cerr := h.timed("confirm_funds", func(cctx context.Context) error {
				var e error
				cr, e = h.Provider.ConfirmFunds(cctx, in.preq)
				return e
			}, ctx)
			if cerr != nil {
				// The refs a provider returns with a failed confirmation
				// are recorded with the attempt, before the retry: the
				// next confirmation reads them (Radial: the requestId it
				// sends, the same one after a lost answer, so that a
				// reauthorization Radial performed is not performed again);
				// refs already recorded are not written again.
				if in.unrecorded {
					s, err = h.recordDebit(ctx, s, in, store.StateConfirming, store.Change{Refs: cr.Refs})
				} else if !hasRefs(s.Refs, cr.Refs) {
					s, err = h.move(ctx, s, store.StateConfirming, store.Change{Refs: cr.Refs, Note: "confirm funds failed"})
				}
				if err != nil {
					return err
				}
				return h.failed(ctx, s, in, "confirm funds", cerr)
			}
			if !cr.Available {
				reason := messages.MaskPANs(cr.Reason)
				if !strings.HasPrefix(reason, "funds not available") {
					reason = strings.TrimSuffix("funds not available: "+reason, ": ")
				}
				log.Info().Str("reason", reason).Msg("confirm funds failed; withholding the debit")
				if s, err = h.recordDebit(ctx, s, in, store.StateConfirming, store.Change{}); err != nil {
					return err
				}
				return h.finish(ctx, s, in, ending{to: store.StateWithheld, verdict: messages.StatusRejected, reason: reason})
			}
			// Confirmed and submitting are recorded in one write (for a
			// new debit, with its registration), with the time of the
			// settle call, durably before the call. A crash before it
			// leaves the settlement in confirming, or unrecorded: the
			// redelivery repeats the confirmation, a read.
			h.crash(CrashAfterConfirm)
			freshSubmit = true
			refs := mergeRefs(mergeRefs(cr.Refs, refCallSentAt, h.stamp(ctx)), refCallNotSent, "false")
			ch := store.Change{Refs: refs, Note: "submitting to provider",
				Via: []store.Waypoint{{State: store.StateConfirmed, Note: "funds confirmed"}}}
			if in.unrecorded {
				s, err = h.recordDebit(ctx, s, in, store.StateSubmitting, ch)
			} else {
				s, err = h.move(ctx, s, store.StateSubmitting, ch)
			}

		case store.StateConfirmed:
			// Only rows recorded by earlier versions, which moved to
			// confirmed on its own. The time of the call is recorded with
			// the move, durably before the call: a crash after it makes
			// the attempt uncertain.
			freshSubmit = true
			s, err = h.move(ctx, s, store.StateSubmitting, store.Change{Note: "submitting to provider",
				Refs: map[string]string{refCallSentAt: h.stamp(ctx), refCallNotSent: "false"}})

		case store.StateSubmitting:
			return h.submitting(ctx, s, in, freshSubmit)

		case store.StateAcknowledged:
			log.Info().Msg("provider already acknowledged this settlement; its verdict arrives asynchronously (never resubmitted)")
			return nil

		case store.StatePending:
			poller, ok := h.Provider.(providers.Poller)
			if !ok {
				return fmt.Errorf("settlement %s is pending but provider %s cannot be polled", messages.MaskPANs(s.RequestID), h.Provider.Name())
			}
			in.preq.Refs = s.Refs
			var out providers.Outcome
			perr := h.timed("poll", func(cctx context.Context) error {
				var e error
				out, e = poller.Poll(cctx, in.preq)
				return e
			}, ctx)
			if perr != nil {
				return h.failed(ctx, s, in, "poll", perr)
			}
			if out.Kind == providers.Resubmit {
				return h.resubmitPolled(ctx, s, in, out)
			}
			return h.outcome(ctx, s, in, out)

		default:
			return fmt.Errorf("settlement %s has unknown state %q", messages.MaskPANs(s.RequestID), s.State)
		}
		if err != nil {
			return err
		}
	}
}

// submitting runs the submitting state: Settle on a fresh attempt; after an
// attempt whose outcome is unknown, first wait out the provider's settle
// window, then reconcile (or, for an idempotent provider, submit again with
// the same key); a non-idempotent provider whose records still show nothing
// is parked for a person, never submitted again. After an attempt answered
// "not sent", an idempotent provider is called again at once; a
// non-idempotent one is, after the same wait, read first and called again
// only when its records show nothing.
func (h *Settlement) submitting(ctx context.Context, s store.Settlement, in *delivery, fresh bool) error {
	log := in.log
	facts := h.facts()
	uncertain := !fresh && s.Refs[refCallNotSent] != "true"
	// Without an idempotency key, a call answered "not sent" is read at
	// the provider before it is sent again (below); that read sees a late
	// commit only once the settle window has passed since the call was
	// sent: a proxy may answer 503 while the call goes on to the provider.
	// The window counts from the later of call_sent_at and the answer
	// (call_answered_at): the call may be sent after its record.
	if uncertain || (!fresh && !facts.Idempotent) {
		sentAt := s.UpdatedAt // rows recorded before call_sent_at existed
		if t, err := time.Parse(time.RFC3339Nano, s.Refs[refCallSentAt]); err == nil {
			sentAt = t
		}
		if t, err := time.Parse(time.RFC3339Nano, s.Refs[refCallAnsweredAt]); err == nil && t.After(sentAt) {
			sentAt = t
		}
		if wait := sentAt.Add(facts.SettleWindow).Sub(h.clock(ctx)); wait > 0 {
			log.Info().Dur("wait", wait).Time("call_sent_at", sentAt).
				Msg("the last call may still be committed by the provider; reconciling after its settle window")
			return h.schedule(ctx, s, in, wait, true, "waiting for the settle window before reconciling")
		}
	}
	var err error
	if s, err = h.countAttempt(ctx, s, in); err != nil {
		return err
	}
	if err := h.checkLock(ctx, in); err != nil {
		if fresh {
			// The call this delivery recorded was not made.
			s = h.markNotSent(ctx, s, false)
		}
		return h.failed(ctx, s, in, "settle", err)
	}
	in.preq.Refs = s.Refs
	if uncertain {
		out, found, rerr := h.reconcile(ctx, s, in)
		switch {
		case rerr != nil:
			return h.failed(ctx, s, in, "reconcile", rerr)
		case found:
			log.Info().Str("outcome", string(out.Kind)).Msg("reconciled an earlier attempt with the provider")
			return h.outcome(ctx, s, in, out)
		case !facts.Idempotent:
			reason := fmt.Sprintf("the settle call sent at %s got no answer that tells whether %s acted on it (a timeout, a lost reply, or an error a proxy may give after forwarding the call) and %s shows no trace of it after its settle window (%s): "+
				"it is not known whether money moved, and %s has no idempotency key, so it is not sent again; check the order with %s, then settle it by hand",
				s.Refs[refCallSentAt], h.Provider.Name(), h.Provider.Name(), facts.SettleWindow, h.Provider.Name(), h.Provider.Name())
			return h.parkSettlement(ctx, s, in, reason)
		}
		log.Info().Msg("an earlier attempt may have reached the provider; resubmitting with the same idempotency key")
		ch := store.Change{Note: "resubmitting", Refs: map[string]string{refCallSentAt: h.stamp(ctx), refCallNotSent: "false"}, IfRefs: lastCall(s)}
		if s, err = h.move(ctx, s, store.StateSubmitting, ch); err != nil {
			return err
		}
	} else if !fresh {
		// The last call's answer said it did not reach the provider: send
		// again. Without an idempotency key that answer is all that stands
		// between a retry and a second capture (a proxy's 503 after the
		// call went through), so the provider's records are read first.
		if !facts.Idempotent {
			out, found, rerr := h.reconcile(ctx, s, in)
			switch {
			case rerr != nil:
				return h.failed(ctx, s, in, "reconcile", rerr)
			case found:
				log.Warn().Str("outcome", string(out.Kind)).Msg("the provider holds the call its answer said was not sent; recording its outcome, not sending again")
				return h.outcome(ctx, s, in, out)
			}
		}
		ch := store.Change{Note: "resubmitting (last call not sent)", Refs: map[string]string{refCallSentAt: h.stamp(ctx), refCallNotSent: "false"}, IfRefs: lastCall(s)}
		if s, err = h.move(ctx, s, store.StateSubmitting, ch); err != nil {
			return err
		}
	}
	out, serr := h.settle(ctx, s, in)
	h.crash(CrashAfterSettleCall)
	if serr != nil {
		switch {
		case providers.WasNotSent(serr):
			s = h.markNotSent(ctx, s, true)
		case providers.ClassOf(serr) == providers.Transient:
			s = h.markAnswered(ctx, s)
		}
		return h.failed(ctx, s, in, "settle", serr)
	}
	return h.outcome(ctx, s, in, out)
}

// resubmitPolled sends again a pending settlement whose poll found
// nothing at the provider and answered providers.Resubmit (a Paysafe
// refund refused until its settlement was batched). The call is recorded
// before it is made, as a first call is: the settlement moves back to
// submitting with call_sent_at (and the provider's Prepare refs, the
// poll's Refs), comparing the last call's record (lastCall) and counting
// the attempt in the same write; then submitting's step calls Settle. A
// crash or an uncertain answer after it leaves the call recorded: the
// next delivery waits out the settle window and reconciles, never sends
// it again blindly (the poll sent it itself before, with nothing
// recorded, and a redelivery asked again at once: two refunds when the
// first committed late). pending_since is kept (outcome): answered
// pending again, the settlement is still bound by its PENDING_DEADLINE.
func (h *Settlement) resubmitPolled(ctx context.Context, s store.Settlement, in *delivery, out providers.Outcome) error {
	refs := out.Refs
	if p, ok := h.Provider.(providers.Preparer); ok {
		if err := h.checkLock(ctx, in); err != nil {
			return h.failed(ctx, s, in, "prepare", err)
		}
		var prepared map[string]string
		perr := h.timed("prepare", func(cctx context.Context) error {
			var e error
			prepared, e = p.Prepare(cctx, in.preq)
			return e
		}, ctx)
		if perr != nil {
			return h.failed(ctx, s, in, "prepare", perr)
		}
		for k, v := range prepared {
			refs = mergeRefs(refs, k, v)
		}
	}
	refs = mergeRefs(mergeRefs(refs, refCallSentAt, h.stamp(ctx)), refCallNotSent, "false")
	in.log.Info().Msg("the poll found nothing at the provider and asks for the call again; recording it before it is made")
	next, err := h.move(ctx, s, store.StateSubmitting, store.Change{IncAttempts: !in.counted, Refs: refs, IfRefs: lastCall(s),
		Note: "resubmitting (the poll found nothing at the provider)"})
	if err != nil {
		return err
	}
	in.counted = true
	in.syncAttempt(next)
	return h.submitting(ctx, next, in, true)
}

// markNotSent records that s's last call provably did not reach the
// provider (a providers.WasNotSent failure, or a lost order lock that
// stopped it before it was made), so that the retry need not wait for the
// settle window, nor, without an idempotency key, take it for a call that
// may have moved money. It compares the call it marks (lastCall) and the
// attempt count it read: another delivery's call recorded meanwhile, or
// its attempt counted (a repeat under the same key records no new call),
// is left as it is. On failure s is
// returned unchanged (the retry then treats the call as uncertain). made
// tells a call made and answered "not sent" from one never made
// (refCallNotMade).
func (h *Settlement) markNotSent(ctx context.Context, s store.Settlement, made bool) store.Settlement {
	next, err := h.move(ctx, s, store.StateSubmitting, store.Change{Note: "call not sent",
		Refs: map[string]string{refCallNotSent: "true", refCallAnsweredAt: h.stamp(ctx), refCallNotMade: strconv.FormatBool(!made)}, IfRefs: lastCall(s), IfAttempts: s.Attempts})
	if err != nil {
		return s
	}
	return next
}

// markAnswered records when the answer of s's last call, uncertain (a
// timeout, a lost reply, a bare 503 that a proxy may give after it
// forwarded the call), came (refCallAnsweredAt): the call was sent before
// it, possibly well after call_sent_at (Settle may read first), so the
// settle window counted from the answer covers a late commit of it. It
// compares the call it marks (lastCall) and the attempt count it read, as
// markNotSent does; on failure s is returned unchanged (the window then
// counts from call_sent_at).
func (h *Settlement) markAnswered(ctx context.Context, s store.Settlement) store.Settlement {
	next, err := h.move(ctx, s, store.StateSubmitting, store.Change{Note: "call answered, outcome unknown",
		Refs: map[string]string{refCallAnsweredAt: h.stamp(ctx)}, IfRefs: lastCall(s), IfAttempts: s.Attempts})
	if err != nil {
		return s
	}
	return next
}

// lastCall is the record of s's last settle call (its time, and whether
// it provably did not reach the provider), for a move within submitting to
// compare (store.Change.IfRefs): the state alone does not change when
// another delivery records a call of its own meanwhile (its order lock
// lost with a store session), and a second call recorded over the first
// would capture twice without an idempotency key, or mark another
// delivery's call in flight "not sent".
func lastCall(s store.Settlement) map[string]string {
	return map[string]string{refCallSentAt: s.Refs[refCallSentAt], refCallNotSent: s.Refs[refCallNotSent]}
}

// ownCall makes ch, a move out of s (submitting) that records what this
// delivery's provider call answered (a verdict, an acknowledgement,
// pending, a parking), compare the call it answers: the last call's record
// (lastCall) and the attempt count it read (store.Change.IfAttempts). The
// state alone does not tell: another delivery that took the settlement
// over meanwhile (this one's order lock lost with its store session, or
// this process paused) counted its attempt and called the provider in the
// same state, through a recorded resubmit or a reconciliation that repeats
// the call (Frisbii's), and may have moved money this answer knows nothing
// of. Such a move fails the compare (staleCall) and records nothing: the
// settlement is that delivery's. Moves out of other states are returned
// unchanged.
func ownCall(s store.Settlement, ch store.Change) store.Change {
	if s.State != store.StateSubmitting {
		return ch
	}
	ch.IfRefs, ch.IfAttempts = lastCall(s), s.Attempts
	return ch
}

// staleCall reports whether err, from a move of s out of submitting made
// with ownCall, means that another delivery took the settlement over after
// the call this delivery answers: its attempt count changed (a delivery
// counts its attempt before it calls the provider, or records a call, in
// submitting). Then nothing was recorded, and this delivery leaves the
// settlement to that one, which ends it, retries it or parks it (its
// message is not acked before), and says so in its log. The last call's
// record changed with the count as read is no takeover: this delivery's
// own mark (markNotSent) committed with its answer lost, which it cannot
// tell; the conflict is returned and the message handed back (acked, it
// would leave the settlement in submitting for no delivery).
func (h *Settlement) staleCall(ctx context.Context, s store.Settlement, err error, log zerolog.Logger) bool {
	if s.State != store.StateSubmitting || !errors.Is(err, store.ErrStateConflict) {
		return false
	}
	cur, gerr := h.Store.Get(ctx, s.Key)
	if gerr != nil || cur.Attempts == s.Attempts {
		return false
	}
	log.Warn().Str("state", string(cur.State)).Int("attempts", cur.Attempts).Int("attempts_read", s.Attempts).
		Str("call_sent_at", cur.Refs[refCallSentAt]).Str("call_sent_at_read", s.Refs[refCallSentAt]).
		Msg("another delivery took this settlement over after this delivery's call (its order lock was lost): the call's answer is not recorded; the settlement is left to that delivery")
	return true
}

// reconcile asks a Reconciler whether an earlier attempt reached the
// provider; found=false without a Reconciler.
func (h *Settlement) reconcile(ctx context.Context, s store.Settlement, in *delivery) (providers.Outcome, bool, error) {
	r, ok := h.Provider.(providers.Reconciler)
	if !ok {
		return providers.Outcome{}, false, nil
	}
	claimed, err := h.claimedRefs(ctx, s)
	if err != nil {
		return providers.Outcome{}, false, err
	}
	in.preq.Claimed = claimed
	var out providers.Outcome
	var found bool
	err = h.timed("reconcile", func(cctx context.Context) error {
		var e error
		out, found, e = r.Reconcile(cctx, in.preq)
		return e
	}, ctx)
	// The other settlements' records were listed before the provider's
	// were read: a sibling that started meanwhile, under the order lock
	// this delivery lost (its session ended, or this process paused past
	// the lease), made a record the list does not claim, which this
	// request would take for its own (S with no money moved). Held at the
	// end, the lock was held throughout: nothing of the order ran between.
	if lerr := h.checkLock(ctx, in); lerr != nil {
		return providers.Outcome{}, false, providers.TransientError("", ReasonLockLostReconciling, lerr)
	}
	return out, found, err
}

// ReasonLockLostReconciling is what a delivery logs when its order lock
// was lost while it reconciled: what the provider showed may belong to a
// sibling settlement that ran meanwhile, so nothing is concluded from it.
const ReasonLockLostReconciling = "the order lock was lost while the earlier call was reconciled (store session ended): what the provider showed may be another settlement's; not concluded, retrying"

// settle calls the provider's Settle with our correlation id as the
// request's ClientContext (Radial correlates its asynchronous status on it).
// s is the row that recorded the call: it is kept for the status handler
// (Requests.called), which applies a status answering the call from it,
// also one that comes before the call's answer is recorded; it is dropped
// when the answer leaves no status awaited for it (awaitsStatus).
func (h *Settlement) settle(ctx context.Context, s store.Settlement, in *delivery) (providers.Outcome, error) {
	h.Requests.called(s, in.msg.Payload, in.msg.Metadata.Get(broker.MetaContentType), in.req)
	req := *in.req
	req.ClientContext = s.CorrelationID
	preq := *in.preq
	preq.Message = &req
	var out providers.Outcome
	err := h.timed("settle", func(cctx context.Context) error {
		var e error
		out, e = h.Provider.Settle(cctx, &preq)
		return e
	}, ctx)
	if !awaitsStatus(out, err) {
		h.Requests.unkeep(s.Key)
	}
	return out, err
}

// awaitsStatus reports whether a call that answered out, err leaves the
// settlement awaiting the provider's status for it: accepted, or failed in
// a way that may have reached the provider (a timeout, an answer that it
// was not sent) and is retried. A verdict, pending, a permanent or an
// unresolved failure finish or park it: a status then is handled from the
// store (its compare-and-set from the row would fail).
func awaitsStatus(out providers.Outcome, err error) bool {
	if err != nil {
		return providers.ClassOf(err) == providers.Transient
	}
	return out.Kind == providers.Accepted
}

// countAttempt records, once per delivery and before its first provider
// call, that an attempt starts: attempts are counted in the store.
func (h *Settlement) countAttempt(ctx context.Context, s store.Settlement, in *delivery) (store.Settlement, error) {
	if in.counted {
		return s, nil
	}
	next, err := h.move(ctx, s, s.State, store.Change{IncAttempts: true, Note: "attempt " + strconv.Itoa(in.preq.Attempt)})
	if err != nil {
		return s, err
	}
	in.counted = true
	in.syncAttempt(next)
	return next, nil
}

// recordDebit registers a new debit (in.unrecorded) in state to with ch,
// in one write: its history is "" → received → confirming (its first
// attempt, counted) → ch's waypoints → to. A debit already recorded is
// returned as it is. A registration that finds the requestId recorded
// meanwhile (another delivery of it, under another order lock: its
// headers differ) records nothing and returns a *recordedMeanwhile: run
// then treats this delivery as a duplicate of the record.
func (h *Settlement) recordDebit(ctx context.Context, s store.Settlement, in *delivery, to store.State, ch store.Change) (store.Settlement, error) {
	if !in.unrecorded {
		return s, nil
	}
	ch.IncAttempts = true
	if to == store.StateConfirming {
		ch.Note = "attempt 1"
	} else {
		ch.Via = append([]store.Waypoint{{State: store.StateConfirming, Note: "attempt 1"}}, ch.Via...)
	}
	// s is the new settlement Handle built (newSettlement): Register takes
	// its request fields, the state and history from to and ch.
	rec, created, err := h.Store.RegisterMoving(ctx, s, to, ch)
	if err != nil {
		return s, fmt.Errorf("register %s: %w", messages.MaskPANs(in.key.RequestID), err)
	}
	if !created {
		return s, &recordedMeanwhile{rec}
	}
	in.unrecorded = false
	in.syncAttempt(rec)
	return rec, nil
}

// LockChecker is implemented by stores that can tell whether an order lock
// taken with LockOrder is still held (a PostgreSQL session can be lost while
// the worker holds its advisory lock).
type LockChecker interface {
	CheckLock(ctx context.Context, provider, storeID, orderID string) error
}

// ReasonLockLost is what a delivery logs when checkLock finds its order
// lock lost: the provider is not called, and the delivery is retried.
const ReasonLockLost = "the order lock was lost before the provider call (store session ended); not called, retrying"

// checkLock verifies, right before a provider call, that the order lock is
// still held; a lost lock is a transient failure (the call is not made).
func (h *Settlement) checkLock(ctx context.Context, in *delivery) error {
	c, ok := h.Store.(LockChecker)
	if !ok {
		return nil
	}
	if err := c.CheckLock(ctx, h.Provider.Name(), in.lock.storeID, in.lock.orderID); err != nil {
		return providers.NotSentError("", ReasonLockLost, err)
	}
	return nil
}

// claimedRefs lists the provider references recorded by the other
// settlements of s's order, for Reconcile. For a provider without
// idempotency keys, another settlement of the order of the same type and
// amount that moved money, or may have, without naming its record
// (unnamedMove) makes the order ambiguous: a record Reconcile finds could
// be that one's, so the reconciliation is Unresolved and parks for a
// person.
func (h *Settlement) claimedRefs(ctx context.Context, s store.Settlement) ([]string, error) {
	others, err := h.Store.Find(ctx, store.Correlation{Provider: s.Provider, StoreID: h.orderStore(s.StoreID), OrderID: s.OrderID})
	if err != nil {
		return nil, fmt.Errorf("find the other settlements of order %s: %w", messages.MaskPANs(s.OrderID), err)
	}
	var out, unnamed []string
	for _, o := range others {
		switch {
		case o.RequestID == s.RequestID:
		case o.Refs["provider_ref"] != "":
			out = append(out, o.Refs["provider_ref"])
		case unnamedMove(o) && o.SettlementType == s.SettlementType && o.Amount == s.Amount:
			unnamed = append(unnamed, messages.MaskPANs(o.RequestID))
		}
	}
	if len(unnamed) > 0 && !h.facts().Idempotent {
		return nil, providers.UnresolvedError("", fmt.Sprintf(
			"order %s is ambiguous: settlement(s) %s of the same amount moved money, or may have, without naming the %s record, so a record found now could be theirs; check the order with %s",
			messages.MaskPANs(s.OrderID), strings.Join(unnamed, ", "), h.Provider.Name(), h.Provider.Name()), nil)
	}
	return out, nil
}

// unnamedMove reports whether settlement o moved money at its provider, or
// may have, without naming the record it made (no provider_ref): it is
// settled, or a call of it was sent whose outcome is not recorded yet
// (submitting, unless its last call was never made: its order lock was
// lost before it; acknowledged; pending), parked for a person or not. A
// call answered "not sent" counts as sent (as does one marked so before
// call_not_made existed): only non-idempotent providers consult the answer
// (claimedRefs), and without an idempotency key that answer may follow a
// call the provider acted on (a proxy's 503: the retry reads the
// provider's records for that reason). Taking it for a call that moved
// nothing let a same-amount sibling settle S over its capture while it
// captured again. A settlement still before its call, refused or withheld
// moved nothing.
func unnamedMove(o store.Settlement) bool {
	if o.Refs["provider_ref"] != "" {
		return false
	}
	switch o.State {
	case store.StateSettled, store.StateAcknowledged, store.StatePending:
		return true
	case store.StateSubmitting:
		return o.Refs[refCallNotSent] != "true" || o.Refs[refCallNotMade] != "true"
	}
	return false
}

// outcome records what the provider answered.
func (h *Settlement) outcome(ctx context.Context, s store.Settlement, in *delivery, out providers.Outcome) error {
	log := in.log
	refs := mergeRefs(out.Refs, "provider_ref", out.Ref)
	switch out.Kind {
	case providers.Accepted:
		acked, err := h.move(ctx, s, store.StateAcknowledged, ownCall(s, store.Change{Refs: refs, Note: "acknowledged by provider"}))
		if err != nil {
			// Moved meanwhile (the status came first, another delivery
			// took over): the row kept for the call is stale.
			h.Requests.unkeep(s.Key)
			if h.staleCall(ctx, s, err, log) {
				return nil
			}
			done, derr := h.verdictFirst(ctx, s, refs, err, log)
			if derr != nil || !done {
				return cmp.Or(derr, err)
			}
			h.Metrics.outcome(h.Provider.Name(), "acknowledged")
			return nil
		}
		// The row the status answering this call will ask for: the
		// status handler applies it from this copy (Requests).
		h.Requests.acknowledged(acked)
		h.Metrics.outcome(h.Provider.Name(), "acknowledged")
		log.Info().Msg("provider acknowledged the settlement; waiting for its status")
		return nil
	case providers.Settled:
		s.Refs = mergeRefs(s.Refs, "provider_ref", out.Ref)
		return h.finish(ctx, s, in, ending{to: store.StateSettled, verdict: messages.StatusSettled, reason: "", refs: refs})
	case providers.Refused:
		reason := out.Reason
		if reason == "" {
			reason = "refused by provider"
		}
		return h.finish(ctx, s, in, ending{to: store.StateRefused, verdict: messages.StatusRejected, reason: reason, refs: refs})
	case providers.Pending:
		// The retry budget of a pending settlement counts consecutive
		// failed polls: every answer (the move to pending, a poll that
		// finds it still pending) restarts it (refAttemptsBase), so that
		// a long pending spell with occasional failures is not parked
		// for failures each followed by an answer.
		answered := strconv.Itoa(s.Attempts)
		if s.State != store.StatePending {
			// A settlement pending before (its poll asked for the call
			// again: resubmitPolled) keeps its start: a call answered
			// pending again does not start its PENDING_DEADLINE over.
			since := time.Now().UTC().Format(time.RFC3339)
			if _, err := time.Parse(time.RFC3339, s.Refs[refPendingSince]); err == nil {
				since = s.Refs[refPendingSince]
			}
			refs = mergeRefs(mergeRefs(refs, refPendingSince, since), refAttemptsBase, answered)
			var err error
			if s, err = h.move(ctx, s, store.StatePending, ownCall(s, store.Change{Refs: refs, Note: "pending at provider"})); err != nil {
				if h.staleCall(ctx, s, err, log) {
					return nil
				}
				return err
			}
		} else if _, err := time.Parse(time.RFC3339, s.Refs[refPendingSince]); err != nil {
			// No readable start (a row of an older version, a damaged
			// ref): without one no deadline ever applies, and the poll
			// loop would run for ever in silence. The clock starts now.
			in.log.Warn().Str("pending_since", s.Refs[refPendingSince]).Msg("pending settlement without a readable pending_since: its PENDING_DEADLINE is counted from now")
			if s, err = h.move(ctx, s, store.StatePending, store.Change{Note: "pending_since unreadable: counted from now",
				Refs: map[string]string{refPendingSince: time.Now().UTC().Format(time.RFC3339), refAttemptsBase: answered}}); err != nil {
				return err
			}
		} else if failedPolls := s.Attempts - attemptsBase(s); failedPolls > 0 {
			// The polls before this one failed: this answer ends the run.
			// Recording it also keeps the live loop from looking stuck.
			var err error
			if s, err = h.move(ctx, s, store.StatePending, store.Change{Note: fmt.Sprintf("still pending at provider (after %d failed polls)", failedPolls),
				Refs: map[string]string{refAttemptsBase: answered}}); err != nil {
				return err
			}
		} else if h.StuckAfter > 0 && time.Since(s.UpdatedAt)+h.nearestDelay(out.RecheckAfter) >= h.StuckAfter/2 {
			// The poll loop is alive: say so before the sweeper takes it
			// for a lost message (Sweeper.StuckAfter).
			var err error
			if s, err = h.move(ctx, s, store.StatePending, store.Change{Note: "still pending at provider"}); err != nil {
				return err
			}
		}
		if past := h.pastPendingDeadline(s); past != "" {
			return h.parkSettlement(ctx, s, in, past+": check it with the provider, then replay")
		}
		return h.schedule(ctx, s, in, out.RecheckAfter, true, "pending at provider")
	default:
		return fmt.Errorf("provider %s returned unknown outcome %q", h.Provider.Name(), out.Kind)
	}
}

// pastPendingDeadline says how long pending settlement s has been pending
// when that is longer than PendingDeadline, counted from its pending_since
// ref; "" when it is not, or no deadline applies (none configured, or no
// readable pending_since: outcome starts the clock on the next answer).
func (h *Settlement) pastPendingDeadline(s store.Settlement) string {
	since, err := time.Parse(time.RFC3339, s.Refs[refPendingSince])
	if err != nil || h.PendingDeadline <= 0 || time.Since(since) <= h.PendingDeadline {
		return ""
	}
	return fmt.Sprintf("still pending at the provider %s after %s (deadline %s)",
		since.Format(time.RFC3339), time.Since(since).Round(time.Second), h.PendingDeadline)
}

// verdictFirst handles a failed move to acknowledged (err) that found the
// settlement's verdict already recorded: the provider's status, applied
// without the order lock (from the row this handler kept when it recorded
// the call, ProviderStatus.inProcess, or looked up, ProviderStatus.awaited),
// came before the acknowledgement was written. The status handler recorded and published
// the verdict; the request is done (done=true). The acknowledgement's
// references, if any, are kept on the finished settlement. Any other
// failure is left to the caller (done=false, nil).
func (h *Settlement) verdictFirst(ctx context.Context, s store.Settlement, refs map[string]string, err error, log zerolog.Logger) (bool, error) {
	if !errors.Is(err, store.ErrStateConflict) {
		return false, nil
	}
	cur, gerr := h.Store.Get(ctx, s.Key)
	if gerr != nil || !containsState(finished, cur.State) {
		return false, nil
	}
	if len(refs) > 0 {
		if _, _, err := h.Store.Transition(ctx, s.Key, []store.State{cur.State}, cur.State,
			store.Change{Refs: refs, Note: "acknowledged by provider after its verdict"}, nil); err != nil {
			return false, fmt.Errorf("record the acknowledgement's references on %s: %w", messages.MaskPANs(s.RequestID), err)
		}
	}
	log.Info().Str("state", string(cur.State)).Msg("provider acknowledged the settlement after its status was recorded; nothing left to do")
	return true, nil
}

// failed handles a provider error (the one classification, providers.ClassOf):
// permanent ones refuse the request, unresolved ones park it for a person at
// once, transient ones are retried until the attempts run out, then parked.
func (h *Settlement) failed(ctx context.Context, s store.Settlement, in *delivery, op string, err error) error {
	log := in.log
	reason := providers.ReasonOf(err)
	switch providers.ClassOf(err) {
	case providers.Permanent:
		log.Warn().Err(err).Str("op", op).Msg("permanent provider failure; refusing")
		return h.finish(ctx, s, in, ending{to: store.StateRefused, verdict: messages.StatusRejected, reason: reason})
	case providers.Unresolved:
		log.Error().Err(err).Str("op", op).Msg("outcome cannot be decided without a person; parking")
		return h.parkSettlement(ctx, s, in, op+": "+reason)
	}
	reason = op + ": " + reason
	if s.State == store.StatePending {
		// PENDING_DEADLINE bounds a poll loop whose polls fail too: past
		// it, a failed poll parks the settlement as an answered one
		// would, not only when the retry budget runs out.
		if past := h.pastPendingDeadline(s); past != "" {
			log.Error().Err(err).Str("op", op).Msg("past the pending deadline and the poll failed; parking")
			return h.parkSettlement(ctx, s, in, fmt.Sprintf("%s; the last poll failed (%s), so it may have settled or failed since: check it with the provider, then replay", past, reason))
		}
	}
	if !in.counted {
		// A failure outside a counted attempt (a poll) still spends the
		// retry budget, so that it cannot loop forever. A pending
		// settlement's budget counts from its last answer (outcome):
		// in.attempt is the number of consecutive failed polls.
		var cerr error
		if s, cerr = h.countAttempt(ctx, s, in); cerr != nil {
			return cerr
		}
	}
	if in.attempt >= h.Retry.MaxAttempts {
		if s.State == store.StatePending {
			reason = fmt.Sprintf("%d consecutive polls failed; last error: %s", in.attempt, reason)
		} else {
			reason = fmt.Sprintf("retries exhausted after %d attempts; last error: %s", in.attempt, reason)
		}
		log.Error().Err(err).Msg("parking request")
		return h.parkSettlement(ctx, s, in, reason)
	}
	log.Warn().Err(err).Str("op", op).Msg("transient failure; retrying later")
	h.Metrics.retry(h.Provider.Name())
	return h.schedule(ctx, s, in, h.Retry.delay(in.attempt), false, reason)
}

// parkSettlement records the parked reason on the settlement, then parks
// its message.
func (h *Settlement) parkSettlement(ctx context.Context, s store.Settlement, in *delivery, reason string) error {
	reason = messages.MaskPANs(reason)
	parking := newParking()
	if _, _, err := h.Store.Transition(ctx, s.Key, []store.State{s.State}, s.State, ownCall(s, store.Change{ParkedReason: &reason, Note: "parked",
		Refs: map[string]string{refParking: parking}}), nil); err != nil {
		if h.staleCall(ctx, s, err, in.log) {
			return nil
		}
		return fmt.Errorf("record the parking of %s: %w", messages.MaskPANs(s.RequestID), err)
	}
	markParkingRecorded(in.msg)
	return h.parkAs(ctx, in.msg, in.attempt, reason, parking, in.log)
}

// markParkingRecorded notes on msg, in process, that its run recorded its
// settlement's parking: if the parked copy's publish fails, the router runs
// the handler again with msg (in place, not redelivered), and that run must
// park the copy again, not take itself for a duplicate of a parked
// settlement (which changes nothing and is acked: parked in the store,
// nothing in the parked queue). Never published (broker.Marshaler).
func markParkingRecorded(msg *message.Message) {
	msg.Metadata.Set(broker.MetaParkingRecorded, "true")
}

// parkingRecorded reports whether an earlier run of this very delivery
// recorded its settlement's parking (markParkingRecorded).
func parkingRecorded(msg *message.Message) bool {
	return msg.Metadata.Get(broker.MetaParkingRecorded) == "true"
}

// ending is how a settlement ends: its terminal state, the verdict of its
// status event (S or R) with the decline reason, and provider references
// to record with it.
type ending struct {
	to      store.State
	verdict string
	reason  string
	refs    map[string]string
}

// finish moves the settlement to its terminal state with a status event,
// recorded together (the outbox), and publishes it.
func (h *Settlement) finish(ctx context.Context, s store.Settlement, in *delivery, e ending) error {
	msg, log := in.msg, in.log
	to, verdict, reason, refs := e.to, e.verdict, messages.MaskPANs(e.reason), e.refs
	// The verdict clears a parking written meanwhile (a sweeper round;
	// while pending, another replica that lost the order lock): the
	// settlement is done, as when a late provider status ends a parked one.
	// Out of submitting, a parking another delivery recorded after its
	// own attempt makes this verdict stale instead (ownCall, staleCall).
	unparked := ""
	ch := store.Change{Refs: refs, Note: fmt.Sprintf("%s (%s)", to, verdict), ParkedReason: &unparked}
	if reason != "" {
		ch.DeclineReason = &reason
	}
	ev, err := newStatusEvent(s.Key, "final", statusFor(in.req, in.storeID, in.tenderType, verdict, reason))
	var invalid *InvalidStatusError
	if errors.As(err, &invalid) {
		// Only a request recorded before statuses were checked gets here
		// (new ones are parked before any call): the verdict is recorded,
		// without an event, and a person is told.
		parked := fmt.Sprintf("%s by %s, but %v; tell the order system by other means", to, h.Provider.Name(), invalid)
		ch.ParkedReason = &parked
		parking := newParking()
		ch.Refs = mergeRefs(ch.Refs, refParking, parking)
		ch.Note += ", no valid status"
		if _, _, err := h.Store.Transition(ctx, s.Key, []store.State{s.State}, to, ownCall(s, ch), nil); err != nil {
			if h.staleCall(ctx, s, err, log) {
				return nil
			}
			return fmt.Errorf("record %s for %s: %w", to, messages.MaskPANs(s.RequestID), err)
		}
		markParkingRecorded(msg)
		h.Metrics.outcome(h.Provider.Name(), string(to))
		return h.parkAs(ctx, msg, in.attempt, parked, parking, log)
	}
	if err != nil {
		return err
	}
	tctx, span := tracing.Start(ctx, "store.transition", trace.WithAttributes(
		attribute.String("settlement.from", string(s.State)), attribute.String("settlement.to", string(to))))
	next, rec, err := h.Store.Transition(tctx, s.Key, []store.State{s.State}, to, ownCall(s, ch), ev)
	tracing.End(span, err)
	if err != nil {
		if h.staleCall(ctx, s, err, log) {
			return nil
		}
		return fmt.Errorf("record %s for %s: %w", to, messages.MaskPANs(s.RequestID), err)
	}
	s = next
	h.crash(CrashAfterTerminalCommit)
	if err := h.out().publishRecorded(ctx, s, ev, *rec); err != nil {
		if err := leftToRelay(err, log); err != nil {
			return err
		}
	}
	h.crash(CrashAfterStatusPublish)
	h.Metrics.outcome(h.Provider.Name(), string(to))
	log.Info().Str("settlement_status", verdict).Str("decline_reason", reason).Msg("settlement finished")
	return nil
}

// purgedDuplicateReason is the parked reason of a delivery of finished
// settlement s whose status bodies retention emptied (PurgedStatusError):
// not a broken document, and nothing to settle.
func (h *Settlement) purgedDuplicateReason(s store.Settlement) string {
	verdict := string(s.State)
	if s.DeclineReason != "" {
		verdict += " (" + s.DeclineReason + ")"
	}
	return fmt.Sprintf("duplicate of request %s, %s (last changed %s): its status was not published again, because its request and status bodies were purged after the retention period (BODY_RETENTION); "+
		"nothing was changed and %s was not called. Read the verdict with `settlement-worker show %s` and tell the order system; this parked copy can then be purged (a replay parks it again)",
		messages.MaskPANs(s.RequestID), verdict, s.UpdatedAt.UTC().Format(time.RFC3339), h.Provider.Name(), messages.MaskPANs(s.RequestID))
}

// republish publishes a terminal settlement's recorded events again (same
// message ids) without touching the provider.
func (h *Settlement) republish(ctx context.Context, s store.Settlement, log zerolog.Logger) error {
	evs, err := h.Store.Statuses(ctx, s.Key)
	if err != nil {
		return fmt.Errorf("read statuses of %s: %w", messages.MaskPANs(s.RequestID), err)
	}
	for _, ev := range evs {
		if err := h.out().publish(ctx, s, ev); err != nil {
			if broker.IsMessageRefused(err) {
				// Recorded, and in the outbox when never confirmed: the
				// relay publishes it (and the settlement's later events
				// after it, never ahead of it) and counts it while it is
				// refused. Handed back, this duplicate would only be
				// refused again, over and over.
				log.Warn().Err(err).Str("event_message_id", ev.MessageID).
					Msg("duplicate of a finished request: the broker refused its recorded status event; not handed back (an event never confirmed stays in the outbox, which the sweeper relays each round)")
				return nil
			}
			return err
		}
	}
	h.Metrics.outcome(h.Provider.Name(), "duplicate")
	log.Info().Int("events", len(evs)).Msg("duplicate of a finished request: republished its status, provider not called")
	return nil
}

func (h *Settlement) move(ctx context.Context, s store.Settlement, to store.State, ch store.Change) (store.Settlement, error) {
	ctx, span := tracing.Start(ctx, "store.transition", trace.WithAttributes(
		attribute.String("settlement.from", string(s.State)), attribute.String("settlement.to", string(to))))
	next, _, err := h.Store.Transition(ctx, s.Key, []store.State{s.State}, to, ch, nil)
	tracing.End(span, err)
	if err != nil {
		return s, fmt.Errorf("move %s from %s to %s: %w", messages.MaskPANs(s.RequestID), s.State, to, err)
	}
	return next, nil
}

// schedule republishes the message to the retry queue for delay, with the
// attempt count (unchanged for a poll) in its headers, and acks the original.
// A copy whose headers, the retry headers added, do not fit one frame of
// the broker (broker.HeadersTooLargeError) parks settlement s instead:
// handed back, the message would be delivered again at once and call the
// provider again at once, over and over.
func (h *Settlement) schedule(ctx context.Context, s store.Settlement, in *delivery, delay time.Duration, poll bool, reason string) error {
	msg, attempt, log := in.msg, in.attempt, in.log
	next := attempt + 1
	if poll {
		next = attempt
	}
	delay = h.nearestDelay(delay)
	cp := copyMessage(msg)
	// The worker's own copy, never a replay (ownCopy): a replay's marks,
	// its signature good for ever, would let anyone who reads the retry
	// queue resume the settlement once parked again (as parkedCopy).
	delete(cp.Metadata, broker.HeaderReplayed)
	delete(cp.Metadata, broker.HeaderReplayMAC)
	cp.Metadata.Set(HeaderAttempt, strconv.Itoa(next))
	cp.Metadata.Set(HeaderLastError, maskedText(reason, 500))
	if poll {
		cp.Metadata.Set(HeaderPoll, "true")
	} else {
		delete(cp.Metadata, HeaderPoll)
	}
	var tooLarge *broker.HeadersTooLargeError
	if err := h.toRetryQueue(ctx, cp, delay); errors.As(err, &tooLarge) {
		return h.parkSettlement(ctx, s, in, fmt.Sprintf("%s; not retried: its retry copy could not be sent: %v. Check the settlement (settlement-worker show %s), then replay it "+
			"(a parked copy without its largest headers says which it lacks) or settle it by hand", reason, tooLarge, messages.MaskPANs(s.RequestID)))
	} else if err != nil {
		// The router runs this delivery again in place (the same
		// message): that run sends this copy again, and nothing else.
		// Run from the top, it would count another attempt and call the
		// provider again at once, with no delay (sendUnsentCopy).
		msg.SetContext(context.WithValue(msg.Context(), unsentCopyKey{}, &unsentCopy{msg: cp, queue: broker.RetryQueue(h.Provider.Name(), delay), next: next}))
		return fmt.Errorf("schedule retry: %w", err)
	}
	log.Info().Dur("delay", delay).Int("next_attempt", next).Msg("scheduled")
	return nil
}

// unsentCopy is a retry or poll copy a run of a delivery built but could
// not publish (schedule), kept in the message's context for the router's
// in-place run of the same delivery.
type unsentCopy struct {
	msg   *message.Message
	queue string
	next  int
}

type unsentCopyKey struct{}

// sendUnsentCopy publishes the copy an earlier run of this very delivery
// could not (schedule), and reports whether there was one: the attempt
// that copy retries is counted, and the provider was called for it. A
// redelivery (another message) runs from the top.
func (h *Settlement) sendUnsentCopy(ctx context.Context, msg *message.Message, log zerolog.Logger) (bool, error) {
	u, ok := msg.Context().Value(unsentCopyKey{}).(*unsentCopy)
	if !ok || u == nil {
		return false, nil
	}
	if err := h.Pub.Publish(ctx, "", u.queue, u.msg); err != nil {
		return true, fmt.Errorf("schedule retry (again): %w", err)
	}
	msg.SetContext(context.WithValue(msg.Context(), unsentCopyKey{}, (*unsentCopy)(nil)))
	log.Info().Str("queue", u.queue).Int("next_attempt", u.next).Msg("scheduled (the copy an earlier run of this delivery could not send; no other attempt made)")
	return true, nil
}

// errOrderBusy is lockOrder's answer when another delivery held the order's
// lock for all of LockWait.
var errOrderBusy = errors.New("order busy")

// lockOrder takes the order's lock, waiting at most LockWait (when set).
func (h *Settlement) lockOrder(ctx context.Context, storeID, orderKey string) (func(), error) {
	if h.LockWait <= 0 {
		return h.Store.LockOrder(ctx, h.Provider.Name(), storeID, orderKey)
	}
	lctx, cancel := context.WithTimeout(ctx, h.LockWait)
	defer cancel()
	unlock, err := h.Store.LockOrder(lctx, h.Provider.Name(), storeID, orderKey)
	if err != nil && ctx.Err() == nil && errors.Is(lctx.Err(), context.DeadlineExceeded) {
		return nil, errOrderBusy
	}
	return unlock, err
}

// deferBusy puts a delivery whose order another delivery holds back on the
// request path through the shortest retry queue, its headers unchanged (the
// attempt is not counted: nothing was tried), and acks it: the consumer is
// free for other orders meanwhile. Nothing was read or recorded for it.
func (h *Settlement) deferBusy(ctx context.Context, in *delivery, orderKey string) error {
	delay := h.nearestDelay(0)
	if err := h.toRetryQueue(ctx, copyMessage(in.msg), delay); err != nil {
		return fmt.Errorf("defer (order %s busy): %w", messages.MaskPANs(orderKey), err)
	}
	h.Metrics.outcome(h.Provider.Name(), "deferred")
	in.log.Info().Dur("delay", delay).Dur("lock_wait", h.LockWait).
		Msg("another delivery of this order holds its lock: deferred through the retry queue (no attempt counted)")
	return nil
}

// toRetryQueue publishes cp to the retry queue of delay (one of
// Retry.Delays), saying when it will be ready again in the request queue.
func (h *Settlement) toRetryQueue(ctx context.Context, cp *message.Message, delay time.Duration) error {
	cp.Metadata.Set(broker.HeaderReadyAt, broker.ReadyAt(time.Now().Add(delay)))
	return h.Pub.Publish(ctx, "", broker.RetryQueue(h.Provider.Name(), delay), cp)
}

// nearestDelay maps a wanted delay to the smallest configured retry queue
// that waits at least that long (or the longest one).
func (h *Settlement) nearestDelay(d time.Duration) time.Duration {
	best := time.Duration(0)
	for _, c := range h.Retry.Delays {
		if c >= d && (best == 0 || c < best) {
			best = c
		}
	}
	if best == 0 {
		for _, c := range h.Retry.Delays {
			best = max(best, c)
		}
	}
	if best == 0 {
		best = time.Second
	}
	return best
}

// park publishes the message, body and properties intact, to the parked
// queue with headers explaining why, and acks the original.
func (h *Settlement) park(ctx context.Context, msg *message.Message, attempt int, reason string, log zerolog.Logger) error {
	return h.parkAs(ctx, msg, attempt, reason, "", log)
}

// parkAs is park for a copy of a parked settlement: parking is its
// current parking (refParking), which the copy carries
// (broker.HeaderParking) for a replay to resume.
func (h *Settlement) parkAs(ctx context.Context, msg *message.Message, attempt int, reason, parking string, log zerolog.Logger) error {
	p := h.Provider.Name()
	reason = messages.MaskPANs(reason)
	if err := parkMessage(ctx, h.Pub, msg, broker.ParkedQueue(p), broker.RequestQueue(p), reason, attempt, parking); err != nil {
		return err
	}
	h.Metrics.outcome(p, "parked")
	log.Warn().Str("parked_reason", reason).Msg("message parked")
	return nil
}

// parkMessage publishes a copy of msg, body and properties intact, to the
// parked queue with headers saying why, when, after how many attempts
// (when attempts > 0) and where it came from, so that it can be replayed.
//
// A copy whose headers do not fit one frame of the broker
// (broker.HeadersTooLargeError: msg's headers filled it, and the worker's
// own added to them) is parked without msg's largest headers, as many as
// it takes, and its parked reason names them: handed back instead, the
// message would come again and fail the same way, forever.
func parkMessage(ctx context.Context, pub Publisher, msg *message.Message, parked, from, reason string, attempts int, parking string) error {
	err := pub.Publish(ctx, "", parked, parkedCopy(msg, from, reason, attempts, parking, nil, 0))
	var tooLarge *broker.HeadersTooLargeError
	if errors.As(err, &tooLarge) {
		err = pub.Publish(ctx, "", parked, fittedParkedCopy(msg, from, reason, attempts, parking, tooLarge.Max))
	}
	if err != nil {
		return fmt.Errorf("park message in %s: %w", parked, err)
	}
	return nil
}

// parkedCopy is msg's parked copy without its headers named in dropped,
// whose parked reason then says so (frame: the most its properties and
// headers may take); parking, when set, is the settlement's parking it
// was parked under (broker.HeaderParking).
func parkedCopy(msg *message.Message, from, reason string, attempts int, parking string, dropped []string, frame int) *message.Message {
	cp := copyMessage(msg)
	// The parking it was parked under, none other (a replay's copy
	// carries the one it resumed).
	delete(cp.Metadata, broker.HeaderParking)
	// A parked copy waits for a person: it carries no earlier replay's
	// marks, whose signature, good for ever, would let anyone who reads
	// the parked queue resume the settlement by sending the copy to the
	// request queue unchanged. The next replay marks and signs it anew.
	delete(cp.Metadata, broker.HeaderReplayed)
	delete(cp.Metadata, broker.HeaderReplayMAC)
	text := maskedText(reason, 2000)
	if len(dropped) > 0 {
		for _, k := range dropped {
			delete(cp.Metadata, k)
		}
		shown := dropped[:min(len(dropped), 10)]
		names := make([]string, len(shown))
		for i, k := range shown {
			names[i] = fmt.Sprintf("%q (%d bytes)", truncate(k, 60), len(msg.Metadata[k]))
		}
		if more := len(dropped) - len(shown); more > 0 {
			names = append(names, fmt.Sprintf("and %d more", more))
		}
		note := fmt.Sprintf(" [this parked copy lacks the message's header(s) %s: with the worker's parking headers, its headers were above the %d bytes one frame of the broker holds (frame_max)]",
			strings.Join(names, ", "), frame)
		note = maskedText(note, 1500)
		text = maskedText(reason, 2000-len(note)) + note
	}
	cp.Metadata.Set(HeaderParkedReason, text)
	cp.Metadata.Set(HeaderParkedAt, time.Now().UTC().Format(time.RFC3339))
	cp.Metadata.Set(HeaderParkedFrom, from)
	if attempts > 0 {
		cp.Metadata.Set(HeaderParkedAttempts, strconv.Itoa(attempts))
	}
	if parking != "" {
		cp.Metadata.Set(broker.HeaderParking, parking)
	}
	return cp
}

// fittedParkedCopy is msg's parked copy without as many of msg's largest
// headers as it takes for its properties and headers to fit frame bytes.
func fittedParkedCopy(msg *message.Message, from, reason string, attempts int, parking string, frame int) *message.Message {
	var keys []string
	for k := range msg.Metadata {
		if !strings.HasPrefix(k, "amqp_") && !strings.HasPrefix(k, "_watermill_") {
			keys = append(keys, k)
		}
	}
	entry := func(k string) int { return 1 + len(k) + 1 + 4 + len(msg.Metadata[k]) }
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(entry(b), entry(a)), strings.Compare(a, b)) })
	var dropped []string
	for {
		cp := parkedCopy(msg, from, reason, attempts, parking, dropped, frame)
		p, err := broker.Marshaler{}.Marshal(cp)
		over := broker.HeaderFrameBytes(p) - frame
		if err != nil || over <= 0 || len(dropped) == len(keys) {
			return cp
		}
		for over > 0 && len(dropped) < len(keys) {
			k := keys[len(dropped)]
			dropped = append(dropped, k)
			over -= entry(k)
		}
	}
}

func (h *Settlement) timed(op string, f func(context.Context) error, ctx context.Context) error {
	ctx, span := tracing.Start(ctx, op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("settlement.provider", h.Provider.Name())))
	cctx, cancel := context.WithTimeout(ctx, h.callTimeout())
	defer cancel()
	// The provider reads the pipeline's clock (the replicas' shared one)
	// for any time it records in Refs and compares on another replica.
	cctx = providers.WithClock(cctx, h.callClock())
	start := time.Now()
	err := f(cctx)
	h.Metrics.call(h.Provider.Name(), op, time.Since(start), err)
	tracing.End(span, err)
	return err
}

func (h *Settlement) crash(point string) {
	if h.Crash != nil {
		h.Crash(point)
	}
}

func (h *Settlement) callTimeout() time.Duration {
	if h.CallTimeout > 0 {
		return h.CallTimeout
	}
	if t := h.facts().CallTimeout; t > 0 {
		return t
	}
	return 15 * time.Second
}

// facts are the provider's declared facts.
func (h *Settlement) facts() providers.Facts { return providers.FactsOf(h.Provider) }

// orderStore is the store an order belongs to for its lock and its
// siblings: storeID, or "" (every store) when the provider acts on one
// store whatever store_id says (Facts.OneStore).
func (h *Settlement) orderStore(storeID string) string {
	if h.facts().OneStore {
		return ""
	}
	return storeID
}

// budget bounds one delivery: a few provider calls plus store and broker work.
func (h *Settlement) budget() time.Duration { return 4*h.callTimeout() + 30*time.Second }

// attemptOf reads the attempt header (1 when absent or unreadable).
func attemptOf(msg *message.Message) int {
	if n, err := strconv.Atoi(msg.Metadata.Get(HeaderAttempt)); err == nil && n > 0 {
		return n
	}
	return 1
}

// replayCopy reports whether msg is a copy `parked replay` moved back
// (broker.HeaderReplayed): a replay publishes to the request queue
// directly (the default exchange), never through the intake exchange or
// another one, where a publisher's request with that header comes from.
// With keys (ReplayKeys: STORE_ENCRYPTION_KEY, which the operator
// commands share), the copy must also carry a signature they verify
// (broker.HeaderReplayMAC): a publisher allowed to use the default
// exchange can send a copy to the request queue as a replay does.
//
// It must also be a replay of parking, the settlement's current parking
// (refParking; "" for one parked by an earlier version): its
// broker.HeaderParking, signed with the rest, names it. A replay's copy
// kept for later (deferred through a retry queue while its order was
// busy, which keeps its headers; read off a queue and sent again) does
// not resume a later parking of the settlement.
func replayCopy(msg *message.Message, keys *store.Keyring, parking string) bool {
	replayed := msg.Metadata.Get(broker.HeaderReplayed)
	if replayed == "" || msg.Metadata.Get(broker.MetaExchange) != "" || msg.Metadata.Get(broker.HeaderParking) != parking {
		return false
	}
	if keys == nil {
		return true
	}
	return keys.VerifyMAC(broker.ReplayMACInput(msg.Metadata.Get(broker.MetaMessageID), replayed, parking, msg.Payload), msg.Metadata.Get(broker.HeaderReplayMAC))
}

// staleReplay reports whether msg looks like a replay's copy (the replay
// header, through no exchange) of another parking than parking, the
// settlement's current one.
func staleReplay(msg *message.Message, parking string) bool {
	return msg.Metadata.Get(broker.HeaderReplayed) != "" && msg.Metadata.Get(broker.MetaExchange) == "" && msg.Metadata.Get(broker.HeaderParking) != parking
}

// unsignedReplay reports whether msg looks like a replay's copy of the
// current parking (the replay header, through no exchange) that
// replayCopy refuses for its signature (keys set).
func unsignedReplay(msg *message.Message, keys *store.Keyring, parking string) bool {
	return keys != nil && msg.Metadata.Get(broker.HeaderReplayed) != "" && msg.Metadata.Get(broker.MetaExchange) == "" &&
		msg.Metadata.Get(broker.HeaderParking) == parking && !replayCopy(msg, keys, parking)
}

// newParking is a new parking's identity (refParking): when, and a random
// part that no other parking shares.
func newParking() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(b[:])
}

// ownCopy reports whether msg is a poll or retry copy the worker made
// (schedule sets settlement_poll or settlement_attempt; a replay drops
// both, and storedRequest writes neither).
func ownCopy(msg *message.Message) bool {
	return msg.Metadata.Get(HeaderPoll) != "" || msg.Metadata.Get(HeaderAttempt) != ""
}

// decodeRequest parses the body according to its content type.
func decodeRequest(msg *message.Message) (*messages.PaymentSettlementRequest, error) {
	return decodeRequestAs(msg.Payload, msg.Metadata.Get(broker.MetaContentType))
}

// decodeRequestAs parses body by contentType's media type (parameters and
// case aside): a delivery's, or a stored request's recorded one.
func decodeRequestAs(body []byte, contentType string) (*messages.PaymentSettlementRequest, error) {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	switch ct {
	case "", ContentTypeXML, "text/xml":
		return messages.DecodeSettlementRequest(body)
	case ContentTypeJSON:
		return messages.DecodeSettlementRequestJSON(body)
	default:
		return nil, fmt.Errorf("content type %q is not supported (use %s or %s)", ct, ContentTypeXML, ContentTypeJSON)
	}
}

// understand validates the request and its headers and builds the
// provider's view of it. Problems are collected, not returned: a request that
// parses but is invalid ends with status R naming every problem.
func (h *Settlement) understand(msg *message.Message, req *messages.PaymentSettlementRequest, attempt int) *delivery {
	in := &delivery{
		msg:        msg,
		log:        h.Log,
		req:        req,
		storeID:    strings.TrimSpace(msg.Metadata.Get(HeaderStoreID)),
		tenderType: strings.TrimSpace(msg.Metadata.Get(HeaderTenderType)),
		attempt:    attempt,
	}
	in.key = store.Key{Provider: h.Provider.Name(), RequestID: req.RequestID}
	if in.key.RequestID == "" {
		// No idempotency key: key the record by content so that a duplicate
		// still maps to the same refusal.
		in.key.RequestID = "no-request-id-" + req.Fingerprint()[:24]
	}
	var verrs messages.ValidationErrors
	valid := true
	if err := req.Validate(); err != nil {
		valid = false
		if errors.As(err, &verrs) {
			for _, v := range verrs {
				in.problems = append(in.problems, v.Path+" "+v.Rule)
			}
		} else {
			in.problems = append(in.problems, err.Error())
		}
	}
	switch {
	case in.storeID == "":
		in.problems = append(in.problems, "header "+HeaderStoreID+" is required")
	case utf8.RuneCountInString(in.storeID) > 100: // characters, as the schema counts
		in.problems = append(in.problems, "header "+HeaderStoreID+" must be at most 100 characters")
	}
	if (h.RequireTenderType || h.facts().RequireTenderType) && (utf8.RuneCountInString(in.tenderType) < 2 || utf8.RuneCountInString(in.tenderType) > 4) {
		in.problems = append(in.problems, fmt.Sprintf("header %s is required and must be 2 to 4 characters (got %q)", HeaderTenderType, in.tenderType))
	}
	in.unreportable = statusProblems(req, in.storeID, in.tenderType)
	// Header bytes are not checked by any decoder: one that is not text (a
	// NUL byte, invalid UTF-8) could be neither recorded (the store
	// refuses it in an identifier) nor echoed unchanged by a status.
	for _, h := range []struct{ name, v string }{{HeaderStoreID, in.storeID}, {HeaderTenderType, in.tenderType}} {
		if strings.IndexByte(h.v, 0) >= 0 || !utf8.ValidString(h.v) {
			in.unreportable = append(in.unreportable, fmt.Sprintf("header %s is not valid text (a NUL byte or invalid UTF-8): %q", h.name, h.v))
		}
	}
	in.preq = &providers.Request{
		Provider:   h.Provider.Name(),
		RequestID:  in.key.RequestID,
		StoreID:    in.storeID,
		TenderType: in.tenderType,
		OrderID:    req.OrderID(),
		Type:       req.SettlementType,
		Attempt:    attempt,
		Headers:    headersOf(msg),
		Message:    req,
	}
	if amt, err := req.Amount.Money(); err == nil {
		in.preq.Amount = amt
	} else if valid {
		// A valid Amount that is no whole int64 of minor units (18 digits
		// of USD): no provider can take it, and one that reads the message
		// (not Request.Amount) would send it as it is.
		in.problems = append(in.problems, fmt.Sprintf("PaymentSettlementRequest/Amount cannot be settled: %v", errors.Unwrap(err)))
	}
	if v := strings.TrimSpace(msg.Metadata.Get(HeaderOriginalAuthAmount)); v != "" {
		auth, err := messages.Amount{CurrencyCode: req.Amount.CurrencyCode, Value: v}.Money()
		switch {
		case err != nil:
			in.problems = append(in.problems, fmt.Sprintf("header %s %q is not a decimal amount in %s", HeaderOriginalAuthAmount, v, req.Amount.CurrencyCode))
		case !auth.IsPositive():
			in.problems = append(in.problems, fmt.Sprintf("header %s must be positive (got %s)", HeaderOriginalAuthAmount, v))
		default:
			in.preq.AuthorizationAmount = auth
		}
	} else if req.SettlementType == messages.SettlementDebit {
		h.Log.Info().Str("request_id", messages.MaskPANs(in.key.RequestID)).Msg("no original_authorization_amount header: confirming funds for the settlement Amount")
	}
	return in
}

func (h *Settlement) newSettlement(msg *message.Message, in *delivery) store.Settlement {
	corr := correlationID(in.key, in.req)
	amount := in.req.Amount.Value
	if in.preq.Amount.Currency != "" {
		amount = in.preq.Amount.String()
	}
	// The ClientContext is recorded with its card numbers masked: the
	// column is neither sealed nor emptied by retention. Our status events
	// echo it as sent, from the request body (ourStatus falls back to the
	// recorded one only when the body is gone).
	return store.Settlement{
		Key:            in.key,
		Fingerprint:    in.req.Fingerprint(),
		StoreID:        in.storeID,
		OrderID:        in.req.OrderID(),
		TenderType:     in.tenderType,
		SettlementType: in.req.SettlementType,
		Amount:         amount,
		Currency:       in.req.Amount.CurrencyCode,
		ClientContext:  messages.MaskPANs(in.req.ClientContext),
		CorrelationID:  corr,
		Request:        msg.Payload,
		ContentType:    msg.Metadata.Get(broker.MetaContentType),
		Headers:        h.storedHeaders(msg),
	}
}

// storedHeaders are the headers a new settlement records. Those that steer
// money (moneyHeaders, under any case of their names) are kept as sent: a
// duplicate's identity and the sweeper's re-drive compare and send them;
// with STORE_ENCRYPTION_KEY the store seals a value of theirs that holds a
// card number (store.Encrypted), without it the worker warns at start.
// Every other one has its card numbers masked (messages.MaskPANs), in its
// name and its value: the headers column is not emptied by retention, and
// a sender's note holding a card number would stay there for good.
func (h *Settlement) storedHeaders(msg *message.Message) map[string]string {
	all := headersOf(msg)
	money := h.moneyHeaders()
	out := make(map[string]string, len(all))
	for k, v := range all {
		if slices.ContainsFunc(money, func(m string) bool { return strings.EqualFold(m, k) }) {
			out[k] = v
			continue
		}
		out[messages.MaskPANs(k)] = messages.MaskPANs(v)
	}
	return out
}

// headersOf returns the message's AMQP headers without properties.
func headersOf(msg *message.Message) map[string]string {
	out := make(map[string]string, len(msg.Metadata))
	for k, v := range msg.Metadata {
		if !strings.HasPrefix(k, "amqp_") {
			out[k] = v
		}
	}
	return out
}

func copyMessage(msg *message.Message) *message.Message {
	cp := message.NewMessage(msg.UUID, msg.Payload)
	for k, v := range msg.Metadata {
		cp.Metadata.Set(k, v)
	}
	return cp
}

func mergeRefs(refs map[string]string, k, v string) map[string]string {
	if v == "" {
		return refs
	}
	out := make(map[string]string, len(refs)+1)
	for a, b := range refs {
		out[a] = b
	}
	out[k] = v
	return out
}

// hasRefs reports whether refs holds every key of want with its value.
func hasRefs(refs, want map[string]string) bool {
	for k, v := range want {
		if refs[k] != v {
			return false
		}
	}
	return true
}

// maskedText is s with its card numbers masked (messages.MaskPANs), then
// cut to n bytes: masked before the cut, which could leave a card
// number's first digits no mask recognizes.
func maskedText(s string, n int) string { return truncate(messages.MaskPANs(s), n) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// out is where this handler's status events go.
func (h *Settlement) out() eventOut { return eventOut{h.Pub, h.Store, h.Marks} }
