package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/sandbox/radial"
)

// straggle is how long the demo keeps listening after the last expected
// outcome, so that an unexpected extra event (a second debit, a late
// duplicate) still shows up in the summary.
const straggle = time.Second

// statusEvent is one PaymentSettlementStatus event as the order system
// receives it.
type statusEvent struct {
	at        time.Time
	requestID string
	order     string
	status    string
	reason    string
	typ       string
	amount    string
	messageID string
	// clientContext is the status's ClientContext, which must be the
	// request's own (empty when it had none).
	clientContext string
	// contract lists where the event departs from the README's AMQP
	// contract (properties, headers, routing key).
	contract []string
}

// tracker matches status events to scenarios and lets the demo wait for
// outcomes.
type tracker struct {
	out     *printer
	mu      sync.Mutex
	byID    map[string]*scenario
	seen    map[string]string // message_id → request id
	foreign int               // events of other runs
	changed chan struct{}
}

func newTracker(out *printer, scs []*scenario) *tracker {
	t := &tracker{out: out, byID: map[string]*scenario{}, seen: map[string]string{}, changed: make(chan struct{})}
	for _, s := range scs {
		t.byID[s.id] = s
	}
	return t
}

// notifyLocked wakes the waiters.
func (t *tracker) notifyLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// wait returns when cond (called under the lock) holds or ctx ends.
func (t *tracker) wait(ctx context.Context, cond func() bool) error {
	for {
		t.mu.Lock()
		ok, ch := cond(), t.changed
		t.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// onStatus records and prints one status event.
func (t *tracker) onStatus(d amqp.Delivery) {
	ev := statusEvent{
		at:        time.Now(),
		requestID: d.CorrelationId,
		order:     broker.Stringify(d.Headers[headerOrderID]),
		status:    broker.Stringify(d.Headers[headerSettlementStatus]),
		messageID: d.MessageId,
	}
	if ev.requestID == "" {
		ev.requestID = broker.Stringify(d.Headers[headerRequestID])
	}
	ev.contract = checkContract(d)
	st, err := messages.DecodeSettlementStatus(d.Body)
	if err == nil {
		ev.reason, ev.typ, ev.clientContext = st.DeclineReason, st.SettlementType, st.ClientContext
		if st.SettlementStatus != ev.status {
			ev.contract = append(ev.contract, fmt.Sprintf("header settlement_status %q but the body says %q", ev.status, st.SettlementStatus))
		}
		ev.amount = st.Amount.Value + " " + st.Amount.CurrencyCode
		if ev.order == "" {
			ev.order = st.OrderID()
		}
		if ev.status == "" {
			ev.status = st.SettlementStatus
		}
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.byID[ev.requestID]
	if s == nil {
		t.foreign++
		return
	}
	line := fmt.Sprintf("%s  %-15s  order %-20s  %-6s %-10s  msg %s", ev.status, ev.requestID, ev.order, ev.typ, ev.amount, short(ev.messageID))
	if ev.reason != "" {
		line += fmt.Sprintf("  %q", ev.reason)
	}
	if err != nil {
		line += "  (body does not decode: " + err.Error() + ")"
	}
	if first, dup := t.seen[ev.messageID]; dup && ev.messageID != "" {
		s.repeats++
		t.out.event("STATUS", "%s  (repeat of msg %s for %s: dropped)", line, short(ev.messageID), first)
		return
	}
	t.seen[ev.messageID] = ev.requestID
	if len(s.events) > 0 {
		line += "  (later status)"
	}
	s.events = append(s.events, ev)
	t.out.event("STATUS", "%s", line)
	t.notifyLocked()
}

// setParked records the parked copy of a scenario's message.
func (t *tracker) setParked(s *scenario, reason string, problems []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s.parked = reason
	s.parkedProblems = problems
	t.notifyLocked()
}

// checkParked checks a parked message against the README: body and
// properties intact, headers parked_reason, parked_at (RFC 3339),
// parked_attempts and parked_from_queue.
func checkParked(m amqp.Delivery, s *scenario) []string {
	var p []string
	if !bytes.Equal(m.Body, s.body) {
		p = append(p, "the parked body differs from the published one")
	}
	if m.ContentType != contentTypeXML || m.MessageId != s.id {
		p = append(p, fmt.Sprintf("properties not intact: content type %q, message_id %q", m.ContentType, m.MessageId))
	}
	if broker.Stringify(m.Headers[headerParkedReason]) == "" {
		p = append(p, "no parked_reason header")
	}
	if _, err := time.Parse(time.RFC3339, broker.Stringify(m.Headers[headerParkedAt])); err != nil {
		p = append(p, fmt.Sprintf("parked_at %q is not RFC 3339", broker.Stringify(m.Headers[headerParkedAt])))
	}
	if broker.Stringify(m.Headers[headerParkedAttempts]) == "" {
		p = append(p, "no parked_attempts header")
	}
	if got := broker.Stringify(m.Headers[headerParkedFrom]); got != broker.RequestQueue(provider) {
		p = append(p, fmt.Sprintf("parked_from_queue is %q, expected %q", got, broker.RequestQueue(provider)))
	}
	if broker.Stringify(m.Headers[headerStoreID]) != storeID {
		p = append(p, "the request's store_id header was not kept")
	}
	return p
}

// checkContract checks a status event against the README's contract:
// content type, type, persistent, message_id, correlation_id, the headers
// and the routing key settlement.status.<store_id>.
func checkContract(d amqp.Delivery) []string {
	var p []string
	want := func(what, got, exp string) {
		if got != exp {
			p = append(p, fmt.Sprintf("%s is %q, expected %q", what, got, exp))
		}
	}
	want("content type", d.ContentType, contentTypeXML)
	want("type", d.Type, broker.StatusMessageType)
	if d.DeliveryMode != amqp.Persistent {
		p = append(p, "not persistent")
	}
	if d.MessageId == "" {
		p = append(p, "no message_id")
	}
	want("header request_id", broker.Stringify(d.Headers[headerRequestID]), d.CorrelationId)
	want("header store_id", broker.Stringify(d.Headers[headerStoreID]), storeID)
	want("header provider", broker.Stringify(d.Headers[headerProvider]), provider)
	want("routing key", d.RoutingKey, broker.StatusRoutingKey(storeID))
	for _, h := range []string{headerSettlementStatus, headerOrderID} {
		if broker.Stringify(d.Headers[h]) == "" {
			p = append(p, "no "+h+" header")
		}
	}
	return p
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// scenarios runs the requests and returns their evaluated results.
func (d *demo) scenarios(ctx context.Context) (*results, error) {
	scs, err := buildScenarios(d.root, d.runID)
	if err != nil {
		return nil, err
	}
	admin, err := radial.NewAdminClient(d.radialBase, nil)
	if err != nil {
		return nil, err
	}
	tr := newTracker(d.out, scs)
	parkedQ := broker.ParkedQueue(provider)
	for _, q := range []string{d.opt.statusQueue, broker.RequestQueue(provider), parkedQ} {
		if err := d.bus.waitQueue(ctx, q, 15*time.Second); err != nil {
			return nil, err
		}
	}
	statusParked := queueDepth(d.bus.conn, broker.ProviderStatusParkedQueue(provider))
	if err := d.bus.consume(ctx, d.opt.statusQueue, tr.onStatus); err != nil {
		return nil, err
	}
	d.out.step("subscribed to %s (the order system's status queue, declared by the worker)", d.opt.statusQueue)

	d.out.section("sandbox authorizations (Radial's side of each order)")
	for _, s := range scs {
		if s.auth == nil {
			continue
		}
		if _, err := admin.Authorize(ctx, *s.auth); err != nil {
			return nil, err
		}
		d.out.event("AUTH", "%-20s  %s %s%s", s.auth.OrderID, s.auth.Amount, s.auth.Currency, script(s.auth))
	}

	d.out.section(fmt.Sprintf("requests → exchange %s, key %s (store %s); status events as they arrive",
		broker.IntakeExchange, broker.RequestRoutingKey(provider), storeID))
	octx, cancel := context.WithTimeout(ctx, d.opt.timeout)
	defer cancel()
	first := time.Now()

	var wg sync.WaitGroup
	parkedErr := make(chan error, len(scs))
	publish := func(s *scenario, again bool) error {
		if s.expect[0] == outParked {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m, err := d.bus.readParked(octx, parkedQ, s.id)
				if err != nil {
					parkedErr <- fmt.Errorf("%s: not found in %s: %w", s.id, parkedQ, err)
					return
				}
				reason := broker.Stringify(m.Headers[headerParkedReason])
				tr.setParked(s, reason, checkParked(m, s))
				d.out.event("PARKED", "%s  read back from %s (then removed): parked_reason %q, parked_attempts %s",
					s.id, parkedQ, reason, broker.Stringify(m.Headers[headerParkedAttempts]))
			}()
		}
		what := fmt.Sprintf("%-6s %-10s", s.typ, s.amount+" "+currency)
		if s.typ == "" {
			what = fmt.Sprintf("%-17s", "(not XML)")
		}
		acct := ""
		if s.account != "" {
			acct = " acct " + s.account
		}
		desc := s.what
		if again {
			desc = "the identical message again (same requestId, same body): must not be settled twice"
		}
		// Printed before the publish: the worker may answer before the
		// broker's confirm reaches us.
		d.out.event("PUBLISH", "%-15s  order %-20s  %s  %s%s — %s", s.id, s.order, what, s.tender, acct, desc)
		return d.bus.publish(octx, s)
	}
	phase := func(p int) []*scenario {
		var out []*scenario
		for _, s := range scs {
			if s.phase == p {
				out = append(out, s)
			}
		}
		return out
	}

	runErr := func() error {
		for _, s := range phase(phaseFirst) {
			if err := publish(s, false); err != nil {
				return err
			}
		}
		// The credit refunds what the seed's VC debit captured, and a
		// duplicate is sent once the original has its status.
		debited := scs[0]
		if err := tr.wait(octx, func() bool {
			for _, s := range scs {
				if s.resend && !s.started() {
					return false
				}
			}
			return debited.done()
		}); err != nil {
			return fmt.Errorf("waiting for %s (the debit the credit refunds) and the originals of duplicates: %w", debited.id, err)
		}
		for _, s := range scs {
			if s.resend {
				if err := publish(s, true); err != nil {
					return err
				}
			}
		}
		for _, s := range phase(phaseAfterDebit) {
			if err := publish(s, false); err != nil {
				return err
			}
		}
		// Faults are global to the sandbox: inject them only once every
		// other settle call is over.
		if err := tr.wait(octx, func() bool {
			for _, s := range scs {
				if s.phase != phaseAlone && s.callsSettle() && !s.started() {
					return false
				}
			}
			return true
		}); err != nil {
			return fmt.Errorf("waiting for the first outcomes before injecting faults: %w", err)
		}
		for _, s := range phase(phaseAlone) {
			before, err := admin.Calls(octx)
			if err != nil {
				return err
			}
			if s.faulty {
				if _, err := admin.SetFaults(octx, radial.EndpointSettle, radial.Faults{FailNext: failNext}); err != nil {
					return err
				}
				d.out.event("FAULTS", "sandbox: the next %d settle calls answer 503 (only %s is in flight)", failNext, s.id)
			}
			if err := publish(s, false); err != nil {
				return err
			}
			err = tr.wait(octx, s.done)
			if s.faulty {
				if _, ferr := admin.SetFaults(ctx, radial.EndpointSettle, radial.Faults{}); ferr != nil && err == nil {
					err = ferr
				}
			}
			if after, cerr := admin.Calls(ctx); cerr == nil {
				s.failed5xx = after.Settle.Failed5xx - before.Settle.Failed5xx
			}
			if err != nil {
				return fmt.Errorf("waiting for %s: %w", s.id, err)
			}
		}
		return tr.wait(octx, func() bool {
			for _, s := range scs {
				if !s.done() {
					return false
				}
			}
			return true
		})
	}()
	if runErr != nil && errors.Is(runErr, context.DeadlineExceeded) {
		runErr = fmt.Errorf("timed out after %s: %w", d.opt.timeout, runErr)
	}
	if runErr == nil {
		d.out.step("every expected outcome arrived %s after the first publish; listening %s more for stray events", since(first), straggle)
		select {
		case <-time.After(straggle):
		case <-ctx.Done():
		}
	}
	cancel()
	wg.Wait()
	close(parkedErr)
	for err := range parkedErr {
		if runErr == nil && !errors.Is(err, context.Canceled) {
			runErr = err
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	res := &results{scs: scs, runErr: runErr}
	tr.mu.Lock()
	res.foreign = tr.foreign
	tr.mu.Unlock()
	lctx, lcancel := context.WithTimeout(ctx, 10*time.Second)
	defer lcancel()
	if all, err := admin.Ledger(lctx, radial.LedgerFilter{}); err != nil {
		res.ledgerErr = err
	} else {
		res.setLedger(all, d.runID)
	}
	if c, err := admin.Calls(lctx); err == nil {
		res.calls = &c
	}
	if c, err := confirmAmounts(d.sandbox.logPath); err == nil {
		res.confirms = c
	}
	res.statusParked = queueDepth(d.bus.conn, broker.ProviderStatusParkedQueue(provider)) - statusParked
	tr.mu.Lock()
	res.evaluate()
	tr.mu.Unlock()
	if runErr != nil {
		d.out.fail("%v", runErr)
	}
	d.report(res)
	return res, runErr
}

// script describes an authorization's scripted behaviour.
func script(a *radial.Authorization) string {
	var parts []string
	if a.FundsOutcome != "" {
		parts = append(parts, "ConfirmFunds answers "+a.FundsOutcome)
	}
	if a.SettleVerdict != "" {
		parts = append(parts, fmt.Sprintf("settlements %s %q", a.SettleVerdict, a.DeclineReason))
	}
	for _, l := range a.LaterStatuses {
		parts = append(parts, fmt.Sprintf("%s %q %dms after an S", l.Status, l.DeclineReason, l.AfterMS))
	}
	if len(parts) == 0 {
		return ""
	}
	return "  — " + strings.Join(parts, ", ")
}

// queueDepth is a queue's ready message count (0 when it does not exist).
func queueDepth(conn *amqp.Connection, name string) int {
	q, ok, _ := queueInfo(conn, name)
	if !ok {
		return 0
	}
	return q.Messages
}
