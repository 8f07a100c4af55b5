package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
)

var providers = []string{"radial", "paysafe", "frisbii", "miva"}

const retryDelays = "200ms,1s,2s"

// scenario is one chaos run: a store and how many worker replicas.
type scenario struct {
	name     string
	store    string // sqlite or postgres
	storeDSN string // sqlite:PATH or postgres://...
	replicas int
}

// event is one status event from our status queue.
type event struct{ messageID, status, provider, reason string }

// parked is one message from a provider's .parked queue.
type parked struct{ requestID, copy, reason string }

// observed is everything the run saw, guarded by mu.
type observed struct {
	mu      sync.Mutex
	events  map[string][]event // requestId → events
	parked  map[string][]parked
	nEvents int
	nParked int
	strays  int
	// finished: requests with a verdict or parked (orig/dup copies), and
	// how many per provider.
	finished map[string]bool
	nDone    map[string]int
}

// markDone records that id finished; call with mu held.
func (ob *observed) markDone(id, pv string) {
	if !ob.finished[id] {
		ob.finished[id] = true
		ob.nDone[pv]++
	}
}

func (ob *observed) doneOf(pv string) int {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	return ob.nDone[pv]
}

func (ob *observed) snapshot() (int, int) {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	return ob.nEvents, ob.nParked
}

func (ob *observed) done(id string) bool {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	if len(ob.events[id]) > 0 {
		return true
	}
	for _, p := range ob.parked[id] {
		if p.copy == "orig" || p.copy == "dup" {
			return true
		}
	}
	return false
}

func (ob *observed) hasVerdict(id string) bool {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	return len(ob.events[id]) > 0
}

// runScenario runs sc and returns its per-provider results.
func runScenario(ctx context.Context, o options, sc scenario, b *privateBroker, bin, dir string) ([]result, string, error) {
	var notes []string
	var notesMu sync.Mutex
	note := func(f string, a ...any) {
		notesMu.Lock()
		notes = append(notes, fmt.Sprintf(f, a...))
		notesMu.Unlock()
		progress(f, a...)
	}
	statusQueue := broker.StatusQueueName("guest")
	if err := b.freshVhosts(ctx, fmt.Sprintf("chaos-%d-%s", time.Now().Unix(), sc.store)); err != nil {
		return nil, "", err
	}
	if err := withChannel(b.radial, func(ch *amqp.Channel) error {
		_, err := ch.QueueDeclare(radialQueue, true, false, false, false, nil)
		return err
	}); err != nil {
		return nil, "", err
	}

	sb, err := startSandboxes(ctx, b.radial)
	if err != nil {
		return nil, "", err
	}
	defer sb.close()

	// Workload and seeds.
	orders := map[string][]*order{}
	var all []*settlement
	for i, pv := range providers {
		orders[pv] = workload(pv, (i+1)*10_000_000, o.n)
		for _, or := range orders[pv] {
			if err := sb.seedOrder(pv, or); err != nil {
				return nil, "", err
			}
			all = append(all, or.settlements...)
		}
	}
	for _, s := range all {
		if _, err := s.body(); err != nil {
			return nil, "", err
		}
	}
	sb.paysafe.RunBatch() // the credit orders' seeded settlements: COMPLETED
	// Radial's statuses of the seed debits: published, then purged, so
	// that the worker never sees them.
	if _, err := sb.radial.WaitPublished(sb.radialSeeds, time.Minute); err != nil {
		return nil, "", fmt.Errorf("radial seeds: %w", err)
	}
	_ = withChannel(b.radial, func(ch *amqp.Channel) error {
		_, err := ch.QueuePurge(radialQueue, false)
		return err
	})
	for _, pv := range providers {
		missing, err := sb.setFaults(pv, o.faults)
		if err != nil {
			return nil, "", err
		}
		if len(missing) > 0 {
			note("%s sandbox does not know %s yet: those faults did not run", pv, strings.Join(missing, ", "))
		}
	}

	// Observers: our status queue and every parked queue, through restarts.
	ob := &observed{events: map[string][]event{}, parked: map[string][]parked{}, finished: map[string]bool{}, nDone: map[string]int{}}
	known := map[string]string{} // requestId → provider
	for _, s := range all {
		known[s.id] = s.pv
	}
	octx, stopObs := context.WithCancel(ctx)
	defer stopObs()
	go consumeForever(octx, b.amqp, statusQueue, func(d amqp.Delivery) {
		ev := event{messageID: d.MessageId, status: broker.Stringify(d.Headers[handlers.HeaderSettlementStatus]),
			provider: broker.Stringify(d.Headers[handlers.HeaderProvider])}
		if ev.status == "R" {
			if st, err := messages.DecodeSettlementStatus(d.Body); err == nil {
				ev.reason = st.DeclineReason
			}
		}
		ob.mu.Lock()
		defer ob.mu.Unlock()
		ob.nEvents++
		if known[d.CorrelationId] == "" {
			ob.strays++
			return
		}
		ob.markDone(d.CorrelationId, known[d.CorrelationId])
		ob.events[d.CorrelationId] = append(ob.events[d.CorrelationId], ev)
	})
	for _, pv := range providers {
		go consumeForever(octx, b.amqp, broker.ParkedQueue(pv), func(d amqp.Delivery) {
			p := parked{copy: broker.Stringify(d.Headers[copyHeader]), reason: broker.Stringify(d.Headers["parked_reason"])}
			if r, err := messages.DecodeSettlementRequest(d.Body); err == nil {
				p.requestID = r.RequestID
			}
			ob.mu.Lock()
			defer ob.mu.Unlock()
			ob.nParked++
			if p.copy == "orig" || p.copy == "dup" {
				ob.markDone(p.requestID, pv)
			}
			ob.parked[p.requestID] = append(ob.parked[p.requestID], p)
		})
	}

	// Workers.
	env := workerEnv(sc, b, sb, o.logLevel)
	workers := make([]*worker, sc.replicas)
	var wmu sync.Mutex
	// A worker that exits without being told to is said at once, with the
	// last lines of its log, and started again, as the deployments'
	// restart policy (unless-stopped) does; a worker that keeps exiting is
	// left down after maxSelfExits, and its requests are judged lost.
	const maxSelfExits = 3
	selfExits, closing := 0, false // under wmu
	var watch func(i int, w *worker)
	watch = func(i int, w *worker) {
		go func() {
			<-w.exited
			if w.stopping.Load() {
				return
			}
			note("%s: worker %s exited on its own; its log ends:\n%s", sc.name, w.name, w.tail())
			wmu.Lock()
			defer wmu.Unlock()
			if closing || workers[i] != w || selfExits >= maxSelfExits {
				return
			}
			selfExits++
			time.Sleep(time.Second)
			nw, err := startWorker(w.name, bin, workerLog(dir, sc, w.name), env)
			if err != nil {
				note("%s: restart worker %s: %v", sc.name, w.name, err)
				return
			}
			workers[i] = nw
			watch(i, nw)
		}()
	}
	for i := range workers {
		if workers[i], err = startWorker(fmt.Sprintf("w%d", i), bin, workerLog(dir, sc, fmt.Sprintf("w%d", i)), env); err != nil {
			return nil, "", err
		}
		watch(i, workers[i])
	}
	defer func() {
		wmu.Lock()
		defer wmu.Unlock()
		closing = true
		for _, w := range workers {
			w.stop()
		}
	}()

	if err := waitReady(ctx, b, workers[0]); err != nil {
		return nil, "", err
	}

	// Publish: every provider at once, each original followed by a
	// same-header duplicate for one in ten.
	deadline := time.Now().Add(o.timeout)
	var published atomic.Int64
	pubs := map[string]*publisher{}
	journal, err := os.Create(filepath.Join(dir, sc.store+"-published.log"))
	if err != nil {
		return nil, "", err
	}
	defer journal.Close()
	var wg sync.WaitGroup
	start := time.Now()
	for _, pv := range providers {
		p := &publisher{url: b.amqp, journal: journal}
		pubs[pv] = p
		defer p.close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent := 0
			for _, or := range orders[pv] {
				// At most o.window outstanding: the stream lasts, and
				// the chaos lands in the middle of it.
				for sent-ob.doneOf(pv) >= o.window && ctx.Err() == nil && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				sent += len(or.settlements)
				for i, s := range or.settlements {
					body, err := s.body()
					if err != nil {
						note("%v", err)
						return
					}
					m := amqp.Publishing{ContentType: "application/xml", DeliveryMode: amqp.Persistent, MessageId: s.id, Headers: s.headers(), Body: body}
					if err := p.publish(ctx, "settlement.request."+pv, m); err != nil {
						return
					}
					published.Add(1)
					if (int(published.Load())+i)%10 == 0 {
						m.MessageId = s.id + "-dup"
						m.Headers = s.headers()
						m.Headers[copyHeader] = "dup"
						_ = p.publish(ctx, "settlement.request."+pv, m)
					}
				}
			}
		}()
	}

	// Chaos: three worker SIGKILLs and two broker restarts, at fractions
	// of the verdicts; changed-header duplicates once half have verdicts;
	// with PostgreSQL, the replicas' order-lock sessions ended twice.
	total := len(all)
	progressOf := func() float64 {
		ob.mu.Lock()
		defer ob.mu.Unlock()
		return float64(len(ob.finished)) / float64(total)
	}
	changed := map[string]string{} // requestId → changed header
	type step struct {
		at   float64
		what string
	}
	steps := []step{{0.12, "kill"}, {0.25, "broker"}, {0.33, "locks"}, {0.40, "kill"}, {0.50, "changed"}, {0.60, "broker"}, {0.66, "locks"}, {0.75, "kill"}}
	// -restarts beyond the two: more broker restarts, spread evenly
	// between 15 % and 90 % of the verdicts.
	for i := 0; i < o.restarts-2; i++ {
		steps = append(steps, step{0.15 + 0.75*float64(i+1)/float64(o.restarts-1), "broker"})
	}
	slices.SortStableFunc(steps, func(a, b step) int { return cmp.Compare(a.at, b.at) })
	kills := 0
	restarted := make(chan error, 1)
	restarted <- nil
	for _, st := range steps {
		for progressOf() < st.at && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(200 * time.Millisecond)
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			note("step %s at %.0f%% not reached before the timeout", st.what, st.at*100)
			break
		}
		switch st.what {
		case "kill":
			wmu.Lock()
			i := kills % len(workers)
			kills++
			progress("%s: SIGKILL worker %s at %.0f%% verdicts", sc.name, workers[i].name, progressOf()*100)
			workers[i].kill()
			time.Sleep(time.Second)
			workers[i], err = startWorker(workers[i].name, bin, workerLog(dir, sc, workers[i].name), env)
			if err == nil {
				watch(i, workers[i])
			}
			wmu.Unlock()
			if err != nil {
				return nil, "", err
			}
		case "broker":
			// In the background: the next step (a SIGKILL) may land
			// while the broker is down, as in production.
			if err := <-restarted; err != nil {
				return nil, "", err
			}
			progress("%s: restarting the private broker at %.0f%% verdicts", sc.name, progressOf()*100)
			restarted = make(chan error, 1)
			go func(done chan<- error) { done <- b.restart(ctx) }(restarted)
		case "locks":
			if sc.store != "postgres" {
				continue // SQLite's order locks are in the process
			}
			n, err := endLockSessions(ctx, sc.storeDSN)
			if err != nil {
				return nil, "", fmt.Errorf("end the order-lock sessions: %w", err)
			}
			progress("%s: ended %d order-lock sessions at %.0f%% verdicts", sc.name, n, progressOf()*100)
		case "changed":
			k := map[string]int{}
			for _, s := range all {
				if k[s.pv]*20 >= o.n || !ob.hasVerdict(s.id) || s.id[len(s.id)-1] != '1' {
					continue
				}
				h, name := s.changedHeaders(k[s.pv])
				k[s.pv]++
				body, _ := s.body()
				m := amqp.Publishing{ContentType: "application/xml", DeliveryMode: amqp.Persistent, MessageId: s.id + "-changed", Headers: h, Body: body}
				if err := pubs[s.pv].publish(ctx, "settlement.request."+s.pv, m); err == nil {
					changed[s.id] = name
				}
			}
			progress("%s: published %d duplicates with a changed money header", sc.name, len(changed))
		}
	}
	if err := <-restarted; err != nil {
		return nil, "", err
	}
	wg.Wait()
	again, returned := int64(0), int64(0)
	for _, p := range pubs {
		again, returned = again+p.again.Load(), returned+p.returned.Load()
	}
	progress("%s: %d published in %s (%d sent again: no confirm, nacked, or %d returned unrouted); waiting until quiet", sc.name, published.Load(), time.Since(start).Round(time.Second), again, returned)

	// Quiet: every settlement has a verdict or is parked, and nothing
	// changed (events, parked, ledgers) for o.quiet; or the timeout.
	sig := func() string {
		e, p := ob.snapshot()
		s := fmt.Sprintf("%d/%d", e, p)
		for _, pv := range providers {
			s += fmt.Sprintf("/%d", len(sb.ledger(pv)))
		}
		return s
	}
	// Requests still without a verdict once nothing moved for stuckAfter
	// are given o.lateGrace more before they are judged: a message the
	// broker holds (a quorum queue's dead-letter worker that could not
	// hand a retry over after a restart waits
	// dead_letter_worker_publisher_confirm_timeout, 3 minutes unless
	// set) is late, not lost; it is noted when it comes.
	stuckAfter := 3*o.quiet + 20*time.Second
	last, since := sig(), time.Now()
	lateNoted := false
	for ctx.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		if s := sig(); s != last {
			if quiet := time.Since(since); quiet >= stuckAfter && !lateNoted {
				lateNoted = true
				note("%s: something moved again after %s without a change, at %.1f%% settled or parked: a message held that long (see the broker's log)", sc.name, quiet.Round(time.Second), progressOf()*100)
			}
			last, since = s, time.Now()
			continue
		}
		if time.Since(since) >= o.quiet && progressOf() >= 1 {
			break
		}
		if time.Since(since) >= stuckAfter+o.lateGrace { // stuck: judge what there is
			note("%s: nothing moved for %s with %.1f%% settled or parked", sc.name, time.Since(since).Round(time.Second), progressOf()*100)
			break
		}
	}
	if time.Now().After(deadline) {
		note("%s: timeout %s reached before quiet", sc.name, o.timeout)
	}
	if progressOf() < 1 {
		// Something has no verdict: say whether the broker still holds
		// messages (held by a consumer, or waiting), which tells a
		// request held in silence from one lost.
		held, err := b.heldMessages(ctx)
		switch {
		case err != nil:
			note("%s: queue depths unknown: %v", sc.name, err)
		case len(held) == 0:
			note("%s: no queue holds a message (parked queues aside)", sc.name)
		}
		for _, q := range held {
			note("%s: queue %s holds %d messages: %d ready, %d delivered and not acked (%d consumers; the rest dead-lettered, not yet taken by their target)", sc.name, q.Name, q.Messages, q.Ready, q.Unacked, q.Consumers)
		}
	}
	stopObs()
	wmu.Lock()
	for _, w := range workers {
		if !w.alive() {
			note("worker %s had exited: %s", w.name, lastLine(w.tail()))
		}
		if o.verbose {
			fmt.Fprintf(os.Stderr, "worker %s log tail:\n%s\n", w.name, w.tail())
		}
		if b, err := os.ReadFile(workerLog(dir, sc, w.name)); err == nil {
			n := 0
			for _, line := range bytes.Split(b, []byte("\n")) {
				if bytes.Contains(line, []byte(handlers.ReasonLockLost)) {
					n++
				}
			}
			if n > 0 {
				progress("%s: worker %s: %d log lines of an order lock found lost before a provider call (not called, retried)", sc.name, w.name, n)
			}
		}
	}
	wmu.Unlock()

	ob.mu.Lock()
	defer ob.mu.Unlock()
	if ob.strays > 0 {
		note("%d status events of no request of this run", ob.strays)
	}
	var res []result
	for _, pv := range providers {
		res = append(res, judge(pv, orders[pv], sb.ledger(pv), ob, changed))
	}
	return res, strings.Join(notes, "\n"), nil
}

func workerEnv(sc scenario, b *privateBroker, sb *sandboxes, logLevel string) []string {
	dsn := sc.storeDSN
	return []string{
		"AMQP_URL=" + b.amqp, "PROVIDERS=" + strings.Join(providers, ","), "QUEUE_TYPE=quorum",
		"RADIAL_AMQP_URL=" + b.radial, "RADIAL_BASE_URL=" + sb.url + "/radial", "RADIAL_API_KEY=" + radialKey, "RADIAL_STATUS_QUEUE=" + radialQueue,
		"PAYSAFE_BASE_URL=" + sb.url + "/paysafe", "PAYSAFE_USERNAME=" + paysafeUser, "PAYSAFE_PASSWORD=" + paysafePass,
		"PAYSAFE_ACCOUNTS=" + storeID + ":" + paysafeAccount, "PAYSAFE_RECHECK_AFTER=200ms",
		"FRISBII_BASE_URL=" + sb.url + "/frisbii", "FRISBII_API_KEY=" + frisbiiKey, "FRISBII_REFUND_RECHECK=200ms",
		"MIVA_BASE_URL=" + sb.miva.URL(sb.url), "MIVA_STORE_CODE=" + mivaStore, "MIVA_API_TOKEN=" + mivaToken,
		"RADIAL_TIMEOUT=2s", "PAYSAFE_TIMEOUT=2s", "FRISBII_TIMEOUT=2s", "MIVA_TIMEOUT=2s",
		"RADIAL_SETTLE_WINDOW=4s", "PAYSAFE_SETTLE_WINDOW=4s", "FRISBII_SETTLE_WINDOW=4s", "MIVA_SETTLE_WINDOW=4s",
		"RETRY_DELAYS=" + retryDelays, "MAX_ATTEMPTS=8", "SWEEP_INTERVAL=2s", "STUCK_AFTER=15s", "OUTBOX_RELAY_AFTER=2s",
		"STORE_DSN=" + dsn, "CONCURRENCY=8", "HTTP_ADDR=off", "LOG_LEVEL=" + logLevel, "SHUTDOWN_TIMEOUT=10s",
	}
}

func withChannel(url string, f func(*amqp.Channel) error) error {
	conn, err := amqp.Dial(url)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	return f(ch)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// workerLog is the log file of worker name in scenario sc: every start of
// it appends there.
func workerLog(dir string, sc scenario, name string) string {
	return filepath.Join(dir, sc.store+"-"+name+".log")
}

// sqliteDSN is a fresh SQLite store in dir.
func sqliteDSN(dir string) string {
	_ = os.MkdirAll(dir, 0o755)
	return "sqlite:" + filepath.Join(dir, "chaos.db")
}

// waitReady waits until the worker consumes every request queue (before
// that, the queues may not exist and a publish would be routed nowhere).
func waitReady(ctx context.Context, b *privateBroker, w *worker) error {
	deadline := time.Now().Add(time.Minute)
	for {
		ready := true
		for _, pv := range providers {
			n := 0
			_ = withChannel(b.amqp, func(ch *amqp.Channel) error {
				q, err := ch.QueueDeclarePassive(broker.RequestQueue(pv), true, false, false, false, nil)
				n = q.Consumers
				return err
			})
			ready = ready && n > 0
		}
		if ready {
			return nil
		}
		if !w.alive() || time.Now().After(deadline) {
			return fmt.Errorf("worker %s not consuming after a minute; log tail:\n%s", w.name, w.tail())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
