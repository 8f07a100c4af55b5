package main

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/sandbox/radial"
)

const (
	radialAPIKey = "bench-key"
	// radialStatusQueue is Radial's status queue (in the radial vhost).
	radialStatusQueue = radial.DefaultStatusQueue
	// sandboxStatusDelay is how long the sandbox waits before deciding a
	// settlement's status: tiny, so that the pipeline, not the scripted
	// delay, is measured (0 would mean the sandbox's 200ms default).
	sandboxStatusDelay = time.Millisecond
	// workerDeliveryLimit is the worker's DELIVERY_LIMIT default, which
	// the raw run's and the backlog's request queues are declared with.
	workerDeliveryLimit = 20
)

// runMode is how a worker run's requests are published.
type runMode int

const (
	// closedLoop: -n requests, at most -window outstanding.
	closedLoop runMode = iota
	// openLoop: requests at a fixed rate (every interval), whatever the
	// worker's pace (load.runPaced).
	openLoop
	// backlog: every request published (and confirmed) before the worker
	// starts; the worker then drains them.
	backlog
)

// workerRunConfig is one end-to-end run.
type workerRunConfig struct {
	index     int
	latency   time.Duration
	bin       string
	dir       string
	workerURL string
	radialURL string
	// storeDSN is the worker's STORE_DSN (empty: SQLite in the run's
	// directory).
	storeDSN string
	mode     runMode
	// n is the number of requests (0: -n).
	n int
	// interval is the open loop's time between two publishes.
	interval time.Duration
}

// workerResult is one end-to-end run's measurements.
type workerResult struct {
	latency time.Duration
	store   string // ", PostgreSQL" or "" (SQLite), for the report
	mode    runMode
	sample  sample
	peakRSS int64 // VmHWM of the worker, bytes
	// cpu is the worker's user+system CPU time while it settled the run:
	// from ready (start-up, migrations and the warm pool excluded: they
	// are not per settlement and weighed on short runs) to the run's end.
	cpu      time.Duration
	verdicts map[string]int
	calls    radial.Calls
	parked   int
	logLines int      // warnings and errors the worker logged
	stages   []sample // where the latency goes, see stagesOf
	// The per-request checks (checkRequests): ledger debits, redelivered
	// events, problems (empty: every request got exactly one S and one
	// debit, nothing parked).
	debits     int
	duplicates int
	problems   []string
	// lag is how far the open-loop publisher fell behind its schedule at
	// most.
	lag time.Duration
	// Backlog: how long publishing it took, and the worker's start until
	// it consumed (the drain is timed from then).
	prepublish time.Duration
	startup    time.Duration
}

// ok reports whether the run's checks passed.
func (w workerResult) ok() bool { return len(w.problems) == 0 }

// cpuPer is the worker's CPU time per completed settlement.
func (w workerResult) cpuPer() string {
	n := w.sample.completed()
	if n == 0 || w.cpu <= 0 {
		return "–"
	}
	return fmtDur(w.cpu / time.Duration(n))
}

// checks says whether the run did what it should: every request exactly
// one S event and one ledger debit, one confirm and one settle call each,
// nothing parked, no warnings.
func (w workerResult) checks() string {
	var vs []string
	for _, k := range slices.Sorted(maps.Keys(w.verdicts)) {
		vs = append(vs, fmt.Sprintf("%d %s", w.verdicts[k], k))
	}
	verdict := "OK"
	if !w.ok() {
		verdict = "MISMATCH: " + strings.Join(w.problems, "; ")
	}
	return fmt.Sprintf("requests by status events %s; %d ledger debits for %d requests; %d redelivered events (dropped); sandbox calls %d confirm funds, %d settle; %d parked; %d worker log lines at warn or above; peak RSS %s — %s",
		strings.Join(vs, ", "), w.debits, w.sample.n, w.duplicates, w.calls.Confirm.Processed, w.calls.Settle.Processed, w.parked, w.logLines, fmtBytes(w.peakRSS), verdict)
}

// stagesOf splits each request's latency at the two moments the sandbox
// records: when Radial took the settlement (ledger entry created, after
// the worker's intake, confirm funds and store writes) and when Radial's
// status was confirmed on its queue (after the sandbox's scheduler and its
// one-at-a-time publisher). The rest is the worker's status handler: match,
// record, publish our event. The stage where requests wait is the pace
// setter.
func stagesOf(l *load, sb *radial.Sandbox) []sample {
	settled := map[string]time.Time{}
	for _, e := range sb.Ledger() {
		if _, ok := settled[e.RequestID]; !ok {
			settled[e.RequestID] = e.CreatedAt
		}
	}
	published := map[string]time.Time{}
	for _, r := range sb.Statuses() {
		if _, ok := published[r.RequestID]; !ok && r.PublishedAt != nil {
			published[r.RequestID] = *r.PublishedAt
		}
	}
	out := []sample{{name: "published → Radial settle"}, {name: "→ Radial status on its queue"}, {name: "→ our status event"}}
	for _, id := range l.ids {
		sent, done := l.times(id)
		st, pub := settled[id], published[id]
		if sent.IsZero() || done.IsZero() || st.IsZero() || pub.IsZero() {
			continue
		}
		for i, d := range []time.Duration{st.Sub(sent), pub.Sub(st), done.Sub(pub)} {
			out[i].lat = append(out[i].lat, d)
		}
	}
	for i := range out {
		out[i].n = len(out[i].lat)
		out[i].sort()
	}
	return out
}

// runWorker runs the worker binary against the in-process Radial sandbox and
// times its requests from publish to our status event, published as
// rc.mode says; then it checks every request (checkRequests).
func runWorker(ctx context.Context, o options, rc workerRunConfig) (*workerResult, error) {
	res := &workerResult{latency: rc.latency, store: storeLabel(rc.storeDSN), mode: rc.mode, verdicts: map[string]int{}}
	n := rc.n
	if n <= 0 {
		n = o.n
	}
	window := o.window
	if rc.mode != closedLoop {
		// Never full: nothing completes while a backlog is published, and
		// the open loop is not paced by completions. Each publisher holds a
		// slot when it finds the load exhausted, hence the publishers.
		window = n + o.publishers
	}
	l, err := newLoad(fmt.Sprintf("w%d", rc.index), n, window)
	if err != nil {
		return nil, err
	}
	statusQueue := broker.StatusQueueName(broker.Username(rc.workerURL))

	// A clean slate in the vhosts shared by the runs (the worker declares
	// its topology itself; queues missing on the first run are fine).
	purge(rc.workerURL, broker.RequestQueue("radial"), statusQueue)
	purge(rc.radialURL, radialStatusQueue)
	// Radial's status queue exists before any worker starts, as in
	// production; declared as the sandbox declares it.
	if err := declareQueue(rc.radialURL, radialStatusQueue); err != nil {
		return nil, err
	}

	sb, srvURL, closeSandbox, err := startSandbox(ctx, rc)
	if err != nil {
		return nil, err
	}
	defer closeSandbox()

	runDir := filepath.Join(rc.dir, fmt.Sprintf("run-%d", rc.index))
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, err
	}
	storeDSN, statuses := rc.storeDSN, o.pgStatusConcurrency
	if storeDSN == "" {
		storeDSN, statuses = "sqlite:"+filepath.Join(runDir, "bench.db"), o.statusConcurrency
	}
	env := []string{
		"AMQP_URL=" + rc.workerURL,
		"RADIAL_AMQP_URL=" + rc.radialURL,
		"RADIAL_BASE_URL=" + srvURL + "/radial",
		"RADIAL_API_KEY=" + radialAPIKey,
		"RADIAL_STATUS_QUEUE=" + radialStatusQueue,
		"STORE_DSN=" + storeDSN,
		"CONCURRENCY=" + strconv.Itoa(o.concurrency),
		"RADIAL_STATUS_CONCURRENCY=" + strconv.Itoa(statuses),
		"QUEUE_TYPE=" + o.queueType,
		"HTTP_ADDR=off",
		"LOG_LEVEL=warn",
		"SHUTDOWN_TIMEOUT=10s",
	}
	env = append(env, o.workerEnv...)

	conn, err := amqp.DialConfig(rc.workerURL, amqp.Config{Properties: amqp.Table{"connection_name": "settlement-bench-orders"}})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", redactURL(rc.workerURL), err)
	}
	defer conn.Close()

	var mu sync.Mutex
	events := map[string][]statusEvent{} // requestId → events
	var strays []string                  // events of no request of this run
	onEvent := func(d amqp.Delivery) {
		ev := statusEvent{
			messageID: d.MessageId,
			provider:  broker.Stringify(d.Headers[handlers.HeaderProvider]),
			status:    broker.Stringify(d.Headers[handlers.HeaderSettlementStatus]),
		}
		if ev.status != "S" {
			if st, err := messages.DecodeSettlementStatus(d.Body); err == nil {
				ev.reason = st.DeclineReason
			}
		}
		id := d.CorrelationId
		l.completeID(id)
		mu.Lock()
		defer mu.Unlock()
		if _, ok := l.index[id]; !ok {
			strays = append(strays, fmt.Sprintf("%s (status %q)", id, ev.status))
			return
		}
		events[id] = append(events[id], ev)
	}

	if rc.mode == backlog {
		// The worker's topology, so that the backlog and the status events
		// have their queues before it starts; then the backlog.
		if err := declareWorkerTopology(conn, o.queueType, statusQueue); err != nil {
			return nil, err
		}
		if err := collect(conn, statusQueue, onEvent); err != nil {
			return nil, err
		}
		progress("backlog: publishing %d requests before the worker starts", n)
		t0 := time.Now()
		if err := l.publish(ctx, conn, o.publishers); err != nil {
			return nil, fmt.Errorf("publish the backlog: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res.prepublish = time.Since(t0)
		progress("backlog: %d published in %s (%s/s); starting the worker", n, res.prepublish.Round(time.Millisecond), fmtRate(float64(n)/res.prepublish.Seconds()))
	}

	started := time.Now()
	p, err := startWorker(rc.bin, env)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	readyCtx, cancel := context.WithTimeout(ctx, time.Minute)
	err = p.waitReady(readyCtx, rc.workerURL, rc.radialURL, []string{"radial"}, o.concurrency)
	cancel()
	if err != nil {
		return nil, err
	}
	ready := time.Now()
	res.startup = ready.Sub(started)
	_, cpuAtReady := p.usage()

	var runErr error
	switch rc.mode {
	case closedLoop:
		if err := collect(conn, statusQueue, onEvent); err != nil {
			return nil, err
		}
		runErr = l.run(ctx, conn, o.publishers, o.timeout)
	case openLoop:
		if err := collect(conn, statusQueue, onEvent); err != nil {
			return nil, err
		}
		res.lag, runErr = l.runPaced(ctx, conn, rc.interval, time.Duration(n)*rc.interval+o.timeout)
	case backlog:
		// -timeout bounds a stall, not the drain.
		runErr = l.waitProgress(ctx, o.timeout)
	}
	_, cpuAtEnd := p.usage()
	res.cpu = cpuAtEnd - cpuAtReady
	res.sample = l.sample(fmt.Sprintf("worker %s", rc.latency))
	if rc.mode == backlog {
		// The drain: from the worker consuming to its last status event.
		res.sample.elapsed = max(l.lastDone().Sub(ready), 0)
	}
	if runErr == nil {
		// Late duplicates, a second verdict.
		select {
		case <-time.After(duplicateGrace):
		case <-ctx.Done():
		}
	}
	res.peakRSS, _ = p.usage()
	p.stop()
	res.calls = sb.Calls()
	res.stages = stagesOf(l, sb)
	res.parked = queueDepth(rc.workerURL, broker.ParkedQueue("radial")) + queueDepth(rc.workerURL, broker.ProviderStatusParkedQueue("radial"))
	res.logLines = p.logged()

	mu.Lock()
	c := checkRequests("radial", l.ids, events, radialDebits(sb), func(k string) bool { _, ok := l.index[k]; return ok })
	res.verdicts, res.debits, res.duplicates, res.problems = c.verdicts, c.debits, c.duplicates, c.problems
	if len(strays) > 0 {
		res.problems = append(res.problems, fmt.Sprintf("%d status events of no request of this run (%s)", len(strays), someIDs(strays)))
	}
	mu.Unlock()
	if res.parked > 0 {
		res.problems = append(res.problems, fmt.Sprintf("%d messages parked", res.parked))
	}
	if runErr != nil {
		return res, fmt.Errorf("%w; worker log tail:\n%s", runErr, p.tail())
	}
	return res, nil
}

// declareWorkerTopology declares, on the worker's vhost, what the worker
// declares at start for Radial with its defaults (request, parked and
// Radial's status-parked queues, our status queue and their bindings;
// retry queues are left to the worker), with the same arguments, so that
// its own declaration finds them as they are.
func declareWorkerTopology(conn *amqp.Connection, queueType, statusQueue string) error {
	t := broker.Topology{
		Providers:            []string{"radial"},
		QueueType:            queueType,
		DeliveryLimit:        workerDeliveryLimit,
		StatusQueues:         []broker.StatusQueue{{Name: statusQueue, BindingKey: "settlement.status.#"}},
		ParkProviderStatuses: []string{"radial"},
	}
	if err := t.Declare(conn); err != nil {
		return fmt.Errorf("declare the worker's topology: %w", err)
	}
	return nil
}

// startSandbox serves the Radial sandbox on a loopback port with the run's
// latency on every endpoint, publishing statuses to Radial's vhost.
func startSandbox(ctx context.Context, rc workerRunConfig) (*radial.Sandbox, string, func(), error) {
	sb, err := radial.NewSandbox(radial.Config{
		Prefix:        "/radial",
		APIKey:        radialAPIKey,
		StatusAMQPURL: rc.radialURL,
		StatusQueue:   radialStatusQueue,
		StatusDelay:   sandboxStatusDelay,
		AutoAuthorize: radial.Bool(true),
		Logger:        zerolog.Nop(),
	})
	if err != nil {
		return nil, "", nil, err
	}
	if err := sb.SetFaults(radial.EndpointAll, radial.Faults{LatencyMS: int(rc.latency.Milliseconds())}); err != nil {
		sb.Close()
		return nil, "", nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if err := sb.Start(sctx); err != nil {
		cancel()
		sb.Close()
		return nil, "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		sb.Close()
		return nil, "", nil, err
	}
	srv := &http.Server{Handler: sb.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return sb, "http://" + ln.Addr().String(), func() {
		_ = srv.Close()
		cancel()
		_ = sb.Close()
	}, nil
}
