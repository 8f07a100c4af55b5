package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
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

// webhookWait bounds the wait for the webhook deliveries after the last
// outcome (WEBHOOK_BATCH_WAIT is 200ms).
const webhookWait = 10 * time.Second

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

// tracker matches status events (from our status queue and from the
// webhook) to scenarios and lets the demo wait for outcomes.
type tracker struct {
	out            *printer
	mu             sync.Mutex
	byID           map[string]*scenario
	byKey          map[string]*scenario // statusKey → scenario (webhook statuses carry no requestId)
	seen           map[string]string    // message_id → request id
	foreign        int                  // events of other runs
	webhookForeign int                  // webhook statuses of other runs
	changed        chan struct{}
}

func newTracker(out *printer, scs []*scenario) *tracker {
	t := &tracker{out: out, byID: map[string]*scenario{}, byKey: map[string]*scenario{}, seen: map[string]string{}, changed: make(chan struct{})}
	for _, s := range scs {
		t.byID[s.id] = s
		if s.typ != "" {
			t.byKey[statusKey(s.store, s.order, s.typ, s.amount)] = s
		}
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
	ev.contract = append(checkContract(d, s.store, s.provider), ev.contract...)
	line := fmt.Sprintf("%s  %-8s %-16s order %-20s %-6s %-10s  msg %s", ev.status, s.provider, ev.requestID, ev.order, ev.typ, ev.amount, short(ev.messageID))
	if ev.reason != "" {
		line += fmt.Sprintf("  %q", ev.reason)
	}
	if err != nil {
		line += "  (body does not decode: " + err.Error() + ")"
	}
	if first, dup := t.seen[ev.messageID]; dup && ev.messageID != "" {
		s.repeats++
		t.out.event("STATUS", "%s  (repeat of msg %s for %s: dropped)", line, short(ev.messageID), first)
		t.notifyLocked()
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

// onWebhook records a status the webhook received and returns the
// requestId of its scenario ("" when it is not this run's).
func (t *tracker) onWebhook(st messages.PaymentSettlementStatus) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.byKey[statusKey(st.StoreID, st.OrderID(), st.SettlementType, st.Amount.Value)]
	if s == nil {
		t.webhookForeign++
		return ""
	}
	s.webhook = append(s.webhook, st.SettlementStatus)
	t.notifyLocked()
	return s.id
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
// parked_attempts (absent when parked before the first attempt) and
// parked_from_queue.
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
	if a := broker.Stringify(m.Headers[headerParkedAttempts]); a == "" && !s.parkedUnattempted {
		p = append(p, "no parked_attempts header")
	} else if a != "" && s.parkedUnattempted {
		p = append(p, fmt.Sprintf("parked_attempts %s for a request parked before any attempt", a))
	}
	if got := broker.Stringify(m.Headers[headerParkedFrom]); got != broker.RequestQueue(s.provider) {
		p = append(p, fmt.Sprintf("parked_from_queue is %q, expected %q", got, broker.RequestQueue(s.provider)))
	}
	if broker.Stringify(m.Headers[headerStoreID]) != s.store {
		p = append(p, "the request's store_id header was not kept")
	}
	return p
}

// checkContract checks a status event against the README's contract:
// content type, type, persistent, message_id, correlation_id, the headers
// and the routing key settlement.status.<store_id>.
func checkContract(d amqp.Delivery, store, provider string) []string {
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
	want("header store_id", broker.Stringify(d.Headers[headerStoreID]), store)
	want("header provider", broker.Stringify(d.Headers[headerProvider]), provider)
	want("routing key", d.RoutingKey, broker.StatusRoutingKey(store))
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

// sendItem is one publish the orchestration is ready to do.
type sendItem struct {
	s     *scenario
	again bool
}

// readyLocked lists the AMQP publishes that may happen now (under
// tracker.mu): first publishes whose dependency has its outcome, and the
// second publish of a duplicate once the first has its status. Scenarios
// published alone are left to the caller.
func readyLocked(scs []*scenario) []sendItem {
	var out []sendItem
	for _, s := range scs {
		if s.via != viaAMQP || s.alone {
			continue
		}
		switch {
		case s.sent == 0 && (s.after == nil || s.after.done()):
			out = append(out, sendItem{s: s})
		case s.sent == 1 && s.resend == resendAfterStatus && s.started():
			out = append(out, sendItem{s: s, again: true})
		}
	}
	return out
}

// allSentLocked reports whether every scenario but the lone ones was sent
// as often as it should be.
func allSentLocked(scs []*scenario) bool {
	for _, s := range scs {
		if !s.alone && s.sent < s.publishes() {
			return false
		}
	}
	return true
}

// scenarios runs the requests and returns their evaluated results.
func (d *demo) scenarios(ctx context.Context) (*results, error) {
	scs, err := buildScenarios(d.root, d.runID)
	if err != nil {
		return nil, err
	}
	sb, err := newSandboxes(d.urls)
	if err != nil {
		return nil, err
	}
	tr := newTracker(d.out, scs)
	d.tracker.Store(tr)
	queues := []string{d.opt.statusQueue}
	for _, p := range allProviders {
		queues = append(queues, broker.RequestQueue(p), broker.ParkedQueue(p))
	}
	for _, q := range queues {
		if err := d.bus.waitQueue(ctx, q, 15*time.Second); err != nil {
			return nil, err
		}
	}
	statusParked := queueDepth(d.bus.conn, broker.ProviderStatusParkedQueue(provRadial))
	if err := d.bus.consume(ctx, d.opt.statusQueue, tr.onStatus); err != nil {
		return nil, err
	}
	d.out.step("subscribed to %s (the order system's status queue, declared by the worker)", d.opt.statusQueue)

	d.out.section("provider sandboxes: what each provider knows before the requests (admin APIs)")
	for _, s := range scs {
		line, err := sb.seed(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("seeding the %s sandbox for %s: %w", s.provider, s.id, err)
		}
		if line != "" {
			d.out.event("SEED", "%-8s %s", s.provider, line)
		}
	}

	d.out.section(fmt.Sprintf("requests → exchange %s, key settlement.request.<provider>, and the HTTP intake %s; status events as they arrive",
		broker.IntakeExchange, d.intake.base))
	octx, cancel := context.WithTimeout(ctx, d.opt.timeout)
	defer cancel()
	first := time.Now()

	var wg sync.WaitGroup
	parkedErr := make(chan error, len(scs))
	publish := func(s *scenario, again bool) error {
		if !again && s.expect[0] == outParked {
			parkedQ := broker.ParkedQueue(s.provider)
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
				d.out.event("PARKED", "%-8s %s  read back from %s (then removed): parked_reason %q, parked_attempts %s",
					s.provider, s.id, parkedQ, reason, broker.Stringify(m.Headers[headerParkedAttempts]))
			}()
		}
		if s.prepare != nil && !again {
			found, err := s.prepare(octx, sb)
			if err != nil {
				return fmt.Errorf("%s: %w", s.id, err)
			}
			d.out.event("LOOKUP", "%-8s %s", s.provider, found)
		}
		what := fmt.Sprintf("%-6s %-10s", s.typ, s.amount+" "+currency)
		if s.typ == "" {
			what = fmt.Sprintf("%-17s", "(not XML)")
		}
		extra := s.tender
		if s.account != "" {
			extra += " acct " + s.account
		}
		keys := make([]string, 0, len(s.headers))
		for k := range s.headers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := s.headers[k]
			if len(v) > 20 {
				v = v[:8] + "…"
			}
			extra += " " + k + "=" + v
		}
		desc := s.what
		if again {
			desc = "the identical message again (same requestId, same body): must not be settled twice"
		}
		// Printed before the publish: the worker may answer before the
		// broker's confirm reaches us.
		d.out.event("PUBLISH", "%-8s %-16s order %-20s %s  %s — %s", s.provider, s.id, s.order, what, extra, desc)
		if err := d.bus.publish(octx, s); err != nil {
			return err
		}
		tr.mu.Lock()
		s.sent++
		tr.mu.Unlock()
		return nil
	}
	sendReady := func() error {
		tr.mu.Lock()
		ready := readyLocked(scs)
		tr.mu.Unlock()
		for _, it := range ready {
			if err := publish(it.s, it.again); err != nil {
				return err
			}
		}
		return nil
	}
	postIntakes := func() error {
		var list []*scenario
		for _, s := range scs {
			if s.via == viaRadialHTTP {
				list = append(list, s)
			}
		}
		if len(list) > 0 {
			problems, err := d.intake.postRadialList(octx, list)
			if err != nil {
				return err
			}
			tr.mu.Lock()
			for _, s := range list {
				s.sent++
				s.httpProblems = append(s.httpProblems, problems...)
			}
			tr.mu.Unlock()
		}
		for _, s := range scs {
			if s.via != viaRetailOPS {
				continue
			}
			for attempt := 1; attempt <= s.publishes(); attempt++ {
				problems, err := d.intake.postRetailOPS(octx, s, attempt)
				if err != nil {
					return err
				}
				tr.mu.Lock()
				s.sent++
				s.httpProblems = append(s.httpProblems, problems...)
				tr.mu.Unlock()
			}
		}
		return nil
	}

	runErr := func() error {
		if err := sendReady(); err != nil {
			return err
		}
		if err := postIntakes(); err != nil {
			return err
		}
		// Credits once their debit settled (a provider refunds only what
		// was captured; Paysafe only once the settlement was batched),
		// duplicates once the original has its status.
		for {
			if err := sendReady(); err != nil {
				return err
			}
			done := false
			if err := tr.wait(octx, func() bool {
				done = allSentLocked(scs)
				return done || len(readyLocked(scs)) > 0
			}); err != nil {
				var waiting []string
				tr.mu.Lock()
				for _, s := range scs {
					if s.sent == 0 && s.after != nil && !s.after.done() {
						waiting = append(waiting, fmt.Sprintf("%s (waits for %s)", s.id, s.after.id))
					}
				}
				tr.mu.Unlock()
				return fmt.Errorf("waiting to publish %s: %w", strings.Join(waiting, ", "), err)
			}
			if done {
				break
			}
		}
		// Faults are global to the Radial sandbox: inject them only once
		// every other Radial settle call is over.
		radialAdmin := sb.radial
		for _, s := range scs {
			if !s.alone {
				continue
			}
			if err := tr.wait(octx, func() bool {
				for _, o := range scs {
					if o.provider == provRadial && !o.alone && o.callsSettle() && !o.started() {
						return false
					}
				}
				return true
			}); err != nil {
				return fmt.Errorf("waiting for the first Radial outcomes before injecting faults: %w", err)
			}
			before, err := radialAdmin.Calls(octx)
			if err != nil {
				return err
			}
			if s.faulty {
				if _, err := radialAdmin.SetFaults(octx, radial.EndpointSettle, radial.Faults{FailNext: failNext}); err != nil {
					return err
				}
				d.out.event("FAULTS", "%-8s sandbox: the next %d settle calls answer 503 (only %s is in flight)", provRadial, failNext, s.id)
			}
			if err := publish(s, false); err != nil {
				return err
			}
			err = tr.wait(octx, s.done)
			if s.faulty {
				if _, ferr := radialAdmin.SetFaults(ctx, radial.EndpointSettle, radial.Faults{}); ferr != nil && err == nil {
					err = ferr
				}
			}
			if after, cerr := radialAdmin.Calls(ctx); cerr == nil {
				s.failed5xx = after.Settle.Failed5xx - before.Settle.Failed5xx
			}
			if err != nil {
				return fmt.Errorf("waiting for %s: %w", s.id, err)
			}
		}
		if err := tr.wait(octx, func() bool {
			for _, s := range scs {
				if !s.done() {
					return false
				}
			}
			return true
		}); err != nil {
			var missing []string
			tr.mu.Lock()
			for _, s := range scs {
				if !s.done() {
					missing = append(missing, s.id)
				}
			}
			tr.mu.Unlock()
			return fmt.Errorf("waiting for the outcomes of %s: %w", strings.Join(missing, ", "), err)
		}
		return nil
	}()
	if runErr != nil && errors.Is(runErr, context.DeadlineExceeded) {
		runErr = fmt.Errorf("timed out after %s: %w", d.opt.timeout, runErr)
	}
	if runErr == nil {
		d.out.step("every expected outcome arrived %s after the first publish; waiting for the webhook, then listening %s more for stray events", since(first), straggle)
		wctx, wcancel := context.WithTimeout(ctx, webhookWait)
		_ = tr.wait(wctx, func() bool {
			for _, s := range scs {
				if len(s.webhook) < len(s.events) {
					return false
				}
			}
			return true
		})
		wcancel()
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

	res := &results{scs: scs, runErr: runErr, calls: map[string]string{}}
	tr.mu.Lock()
	res.foreign, res.webhookForeign = tr.foreign, tr.webhookForeign
	tr.mu.Unlock()
	res.webhookBatches, res.webhookRefused = d.webhook.counts()
	lctx, lcancel := context.WithTimeout(ctx, 10*time.Second)
	defer lcancel()
	if all, err := sb.ledgers(lctx); err != nil {
		res.ledgerErr = err
	} else {
		res.setLedger(all, d.runID)
	}
	for _, p := range allProviders {
		if line, err := sb.callsLine(lctx, p); err == nil {
			res.calls[p] = line
		}
	}
	if c, err := confirmAmounts(d.sandbox.logPath); err == nil {
		res.confirms = c
	}
	res.statusParked = queueDepth(d.bus.conn, broker.ProviderStatusParkedQueue(provRadial)) - statusParked
	res.leaks = logLeaks(d.worker.logPath)
	tr.mu.Lock()
	res.evaluate()
	tr.mu.Unlock()
	if runErr != nil {
		d.out.fail("%v", runErr)
	}
	d.report(res)
	return res, runErr
}

// queueDepth is a queue's ready message count (0 when it does not exist).
func queueDepth(conn *amqp.Connection, name string) int {
	q, ok, _ := queueInfo(conn, name)
	if !ok {
		return 0
	}
	return q.Messages
}

// newHTTPClient is the client of the demo's HTTP calls.
func newHTTPClient() *http.Client { return &http.Client{Timeout: 20 * time.Second} }
