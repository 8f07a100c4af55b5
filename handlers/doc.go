// Package handlers holds the settlement pipeline: the Watermill handlers for
// a provider's request queue (Settlement) and for a provider's asynchronous
// status queue (ProviderStatus), and the Sweeper that finds what would
// otherwise wait forever.
//
// # The settlement state machine
//
// A settlement is recorded in the store (package store) before and after
// every provider call; each delivery of its request reads the recorded state
// under the order's lock and runs the step of that state. This table is the
// whole machine; Settlement.run is its loop, read top to bottom.
//
//	state         step run on delivery                     a crash during or after the step means
//	------------  ---------------------------------------  ---------------------------------------------
//	(new)         size bound, parse, validate once;         nothing recorded, or "received": the
//	              a valid debit is not recorded yet: it     redelivery resumes; an invalid request
//	              runs confirming's step unrecorded (its    ends R here, or is parked unrecorded when
//	              first attempt), then is registered with   no valid status can report it (below).
//	              the outcome in ONE write: "" → received   A new debit's funds confirmation is a
//	              → confirming → confirmed → submitting     read: a crash during or after it leaves
//	              with call_sent_at (or → confirming when   nothing recorded, and the redelivery
//	              it failed, then withheld or retried);     confirms again. A registration that
//	              others: Register (→ received)             finds the requestId recorded meanwhile
//	                                                        treats the delivery as a duplicate
//	received      debit → confirming; credit → Prepare      nothing sent yet: the redelivery starts over
//	              (baseline refs), record call_sent_at,
//	              → submitting
//	confirming    count the attempt, ConfirmFunds           a read at the provider, or one it answers
//	              → submitting with call_sent_at through    from its record when asked again (the refs
//	              confirmed (one write), or → withheld (R)  returned with a failure are recorded: the
//	              (a failure: records the refs returned)    retry sends Radial the same requestId):
//	                                                        repeated safely, also after it answered
//	                                                        (CrashAfterConfirm: nothing of its answer
//	                                                        is recorded yet; for a new debit, nothing)
//	confirmed     record call_sent_at → submitting          nothing sent yet (rows of earlier versions,
//	                                                        which recorded confirmed on its own)
//	submitting    fresh: Settle                             UNCERTAIN: the provider may have committed,
//	              uncertain (a redelivery, not proven             or may commit late. The next delivery
//	              unsent): wait until call_sent_at +              waits out Facts.SettleWindow, then
//	              SettleWindow, then Reconcile; found →           Reconcile; found → its outcome; not found
//	              its outcome; not found → Settle again            → Settle again with the same key when the
//	              (idempotent providers) or park                   provider is Idempotent, else park for a
//	              (others)                                         person: never a blind second capture
//	acknowledged  nothing: the verdict arrives on the       the status handler moves it to settled or
//	              provider's status queue (never            refused; the sweeper parks it after
//	              resubmitted)                              Facts.StatusDeadline. The status may come
//	                                                        first: the move to acknowledged then finds
//	                                                        the verdict recorded, and the request ends
//	pending       Poll after RecheckAfter; still pending:   a read: repeated safely; parked after
//	              recorded as such every STUCK_AFTER/2,     PENDING_DEADLINE (checked on every poll,
//	              so the live loop never looks stuck, and   answered or failed: a failed one past it
//	              when polls before it failed: the retry    parks too, saying so), or after
//	              budget starts over (attempts_base).       MaxAttempts consecutive failed polls
//	              Resubmit (nothing at the provider, send   (below). After a Resubmit's record: as
//	              again: a Paysafe refund after 3404):      submitting (the call is recorded, so
//	              record call_sent_at (compared with the    never sent again blindly); answered
//	              last call's record, attempt counted)      pending again, pending_since is kept
//	              → submitting, then Settle as a fresh      and PENDING_DEADLINE still applies
//	              call (resubmitPolled)
//	settled       republish the recorded event(s)           the event and the state were committed
//	refused                                                 together (the outbox); the sweeper relays
//	withheld                                                an event never marked as published
//
// Publish marks: once the broker confirmed an event, its mark (published_at)
// is queued on a store.Marker and written with others in one statement,
// after the handler moved on (Settlement.Marks). Nothing waits for it: an
// event whose mark is not written yet (or is lost in a crash) is still in
// the outbox, and the relay publishes it again, with its message_id, after
// OUTBOX_RELAY_AFTER (at least once, as for a crash at
// CrashAfterStatusPublish). The relay of the process that published it
// flushes the Marker first; other replicas' relays only see events older
// than OUTBOX_RELAY_AFTER (at least 1s), far above a mark's delay.
//
// Order lock: every step above runs under its order's lock (store.LockOrder;
// one order's settlements and statuses never interleave), with one
// exception: a provider status that names, by its correlation id, a
// settlement awaiting its verdict (submitting or acknowledged) is applied
// without the lock (ProviderStatus.awaited). Its move is a compare-and-set
// from those states, so it applies once and never over another step's
// write, and it compares the parking it read (the sweeper parks a
// settlement where it is, without the lock; under the lock too a status
// compares it, and reads the settlement again on a conflict); anything
// else a status can meet goes through the lock. A status
// answering this process's own call is applied without even looking the
// settlement up: from the row the settlement handler kept when it
// recorded the call (submitting: the status may come before the call's
// answer is recorded), then recorded it acknowledged (Requests,
// ProviderStatus.inProcess), matched exactly as the look-up would match
// it. That copy may be stale (the sweeper parks a settlement awaiting its
// status without moving its state; another replica or path may have
// moved it), so its move also compares
// the parking (store.Change.IfNotParked): on any conflict the status is
// looked up and handled as it would have been without the copy. The lock
// can be lost while a step runs (its PostgreSQL session ended: CheckLock
// stops the next call, not one under way), so a move within submitting
// (or from pending, resubmitPolled) that announces a new call, or marks
// the last one not sent, compares the record of the last call it read
// (call_sent_at, call_not_sent): of two
// deliveries resubmitting one settlement, one records its call, the other
// fails the compare and makes no call. A move out of submitting that
// records what this delivery's call answered (settled, refused,
// acknowledged, pending, or a parking) compares that record too, and the
// attempt count the delivery read (ownCall): another delivery that took
// the settlement over counted its attempt before calling the provider,
// also when its reconciliation repeats the call without recording one
// (Frisbii's). A stale answer so loses the compare, records nothing and
// leaves the settlement to the delivery that owns the last call
// (staleCall; before, a replica paused after a refused call published R
// over the other's capture). A reconciliation checks the lock
// again once the provider answered: the other settlements whose records it
// must not take were listed before that read, so a sibling run meanwhile
// under the lost lock would have its record taken for this request's (S
// with no money moved); with the lock lost it concludes nothing and is
// retried. A delivery that
// finds the lock held waits at most Settlement.LockWait (ORDER_LOCK_WAIT),
// then is deferred: republished unchanged through the shortest retry queue
// with no attempt counted and nothing recorded, so that a burst for one
// order frees its consumers for other orders. A crash in between loses
// nothing: the copy is confirmed before the delivery is acked.
//
// Identity: a delivery of a known requestId must carry the recorded body
// (fingerprint: its numbers compared as values, "100.0" and "+0100.00"
// USD being the recorded "100.00", a Quantity "2.0" the recorded "2":
// PaymentSettlementRequest.MatchesFingerprint, or, for a record an
// earlier version fingerprinted as received, its recorded body read again)
// and the recorded money-steering headers (store_id, tender_type,
// original_authorization_amount and the provider's Facts.MoneyHeaders),
// each compared trimmed and under every spelling of its name a provider
// could read (case: headerIdentity), original_authorization_amount as an
// amount in the request's currency ("150.0" is "150.00"); otherwise it is
// parked, naming the header, and the recorded settlement goes on
// untouched. The recorded headers are compared as sent: a card number in
// one (sealed at rest with STORE_ENCRYPTION_KEY, store.Encrypted) is
// opened by the read, and the parked reason quotes it masked
// (describeHeader). A delivery that is the recorded request written another way
// goes on with the recorded body (resumeRecorded): that is what the
// provider is sent again and what the status echoes, since Radial
// deduplicates on the document. A settlement past received is never
// validated again.
//
// Status events: no invalid document is ever published. Every
// PaymentSettlementStatus the worker builds is encoded and given
// messages.ValidateStatusDocument's verdict before it is recorded
// (newStatusEvent, through messages.EncodeStatus, which reaches that
// verdict from the value without parsing the document unless a string
// would not survive XML unchanged); one that fails is never recorded. Its first publish, right after the
// commit, sends the bytes that were checked without parsing them again:
// publishRecorded compares the body the store returned with the one just
// validated and, unless they are the same bytes (an event the settlement
// already had under the same DedupKey), checks it first. Every publish of a
// body read back from the store — a duplicate's republish, a repeated
// provider status, the outbox relay — checks it again (eventOut.publish), so
// that an event recorded by a version that did not check, or altered in
// the database, is not published either. A request above MaxRequestBytes is parked
// before it is parsed. A new request whose status would break Radial's
// schema — its Amount, currency, SettlementType, payment context or the
// ids a status echoes are invalid, or the store_id or tender_type header
// is missing or malformed — is parked, with the validator's reasons, before
// it is recorded or sent to the provider: no verdict on it could be
// reported. An invalid request whose echoed values are all valid ends R
// with its problems as the DeclineReason (package messages, doc.go).
//
// Errors have one classification (providers.ClassOf): Permanent ends the
// request with R; Unresolved parks it for a person at once; Transient is
// retried through the retry queues (attempts counted in the store, never in
// a header) until MaxAttempts, then parked. The budget counts from the
// settlement's attempts_base ref: the attempt count at its last replay
// and, while it is pending, at the provider's last answer (the move to
// pending, a poll that found it still pending). A pending settlement is
// thus parked after MaxAttempts CONSECUTIVE failed polls ("N consecutive
// polls failed; last error: …"), never for failures each followed by an
// answer, however many in all; the delay of a failed poll's retry grows
// with the consecutive failures (Retry.Delays, in order) and starts over
// after an answer. The count lives in the store (attempts, attempts_base),
// as every attempt count does: a crash or redelivery resumes it as
// recorded. A retry or poll copy whose publish fails is sent again by the
// router's in-place run of the same delivery, which makes no other attempt
// (a run from the top would call the provider again at once, no delay). A transient error that proves the
// call did not reach the provider (providers.WasNotSent) lets the next
// attempt submit at once instead of waiting for the settle window; for a
// provider without idempotency keys it reconciles first, once the settle
// window has passed since that answer came (call_answered_at), so that an
// answer that wrongly said "not sent" (a proxy's 503 after the call went
// through, or while it goes on to a provider that commits it late) cannot
// lead to a second capture or refund. A transient failure that leaves the
// outcome unknown records its answer's time too (markAnswered): every
// settle window counts from the later of call_sent_at and
// call_answered_at. call_sent_at and call_answered_at
// are recorded, and the window counted, on the clock replicas share (the
// host's corrected to the store's, store.Store.SharedNow: clock.go): one
// replica records a call, another, its clock minutes ahead, may run the
// retry. A replica that has not read the store's clock yet runs no step
// (Settlement.clockReady). Every provider call is given that clock
// (providers.WithClock), for the times a provider records in Refs and
// compares on another replica (Frisbii's first use of a key). A handler
// panic parks the message
// once with the panic as its reason (Settlement.HandleSafely).
package handlers
