package main

import (
	"context"
	"fmt"
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
	pvfrisbii "github.com/settlement-worker/settlement-worker/providers/frisbii"
	pvpaysafe "github.com/settlement-worker/settlement-worker/providers/paysafe"
	"github.com/settlement-worker/settlement-worker/sandbox/frisbii"
	"github.com/settlement-worker/settlement-worker/sandbox/miva"
	"github.com/settlement-worker/settlement-worker/sandbox/paysafe"
	"github.com/settlement-worker/settlement-worker/sandbox/radial"
)

// mixedProviders are the providers of the mixed run, in report order.
var mixedProviders = []string{"radial", "paysafe", "frisbii", "miva"}

// The mixed run's sandbox credentials and settings.
const (
	paysafeUser    = "bench-user"
	paysafePass    = "bench-pass"
	paysafeAccount = "1001"
	frisbiiKey     = "priv_bench"
	mivaToken      = "bench-token"
	mivaStore      = "bench"

	// paysafeBatchInterval is how often the Paysafe sandbox batches
	// (PENDING → COMPLETED); Paysafe batches daily, the sandbox 2s by
	// default: short, so that the re-check path is measured, not the wait.
	paysafeBatchInterval = 50 * time.Millisecond
	// mixedRecheck is PAYSAFE_RECHECK_AFTER, and the shortest RETRY_DELAYS
	// queue, so that a pending settlement is re-checked that soon.
	mixedRecheck = 100 * time.Millisecond
	// mixedRetryDelays is the worker's RETRY_DELAYS in the mixed run.
	mixedRetryDelays = "100ms,1s,5s"
	// The amount every request debits (newRequest), and its authorization.
	benchAmount      = "100.00"
	benchAmountMinor = 10000
	benchCurrency    = "USD"
)

// mixedRequest is one request of the mixed run and what the sandboxes
// know it by.
type mixedRequest struct {
	provider string
	id       string
	orderID  string // numeric for every provider (Miva needs it)
}

// providerResult is one provider's share of the mixed run.
type providerResult struct {
	provider string
	// sample: elapsed is the run's first publish → this provider's last
	// status event, latency publish → first status event.
	sample   sample
	verdicts map[string]int // requests by the status of their events
	debits   int            // live ledger debits of the run's requests
	calls    string         // sandbox calls, summarized
	parked   int
	problems []string
	// stages split each latency, see mixedStages.
	stages []sample
}

// mixedResult is the mixed run's measurements and checks.
type mixedResult struct {
	perProvider int
	providers   []providerResult
	total       sample
	peakRSS     int64
	cpu         time.Duration
	logLines    int
	lastLog     string // the worker's last log line at warn or above
	duplicates  int    // redelivered events (same message_id)
	problems    []string
}

// ok reports whether every check passed.
func (m *mixedResult) ok() bool {
	if len(m.problems) > 0 {
		return false
	}
	for _, p := range m.providers {
		if len(p.problems) > 0 {
			return false
		}
	}
	return true
}

// mixedSandboxes are the four sandboxes on one loopback HTTP server.
type mixedSandboxes struct {
	radial  *radial.Sandbox
	paysafe *paysafe.Sandbox
	frisbii *frisbii.Sandbox
	miva    *miva.Sandbox
	url     string
	close   func()
}

// startMixedSandboxes serves every sandbox under its prefix on one loopback
// listener, as e2e/harness_test.go and provider-sandbox do: Radial with no
// latency and a tiny status delay (its statuses go to Radial's vhost),
// Paysafe batching every paysafeBatchInterval.
func startMixedSandboxes(ctx context.Context, radialURL string) (*mixedSandboxes, error) {
	s := &mixedSandboxes{}
	var closers []func()
	s.close = func() {
		for _, c := range slices.Backward(closers) {
			c()
		}
	}
	fail := func(err error) (*mixedSandboxes, error) {
		s.close()
		return nil, err
	}
	var err error
	if s.radial, err = radial.NewSandbox(radial.Config{
		Prefix:        "/radial",
		APIKey:        radialAPIKey,
		StatusAMQPURL: radialURL,
		StatusQueue:   radialStatusQueue,
		StatusDelay:   sandboxStatusDelay,
		AutoAuthorize: radial.Bool(false),
		Logger:        zerolog.Nop(),
	}); err != nil {
		return fail(fmt.Errorf("radial sandbox: %w", err))
	}
	closers = append(closers, func() { _ = s.radial.Close() })
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	closers = append(closers, cancel)
	if err := s.radial.Start(sctx); err != nil {
		return fail(fmt.Errorf("radial sandbox: %w", err))
	}
	if s.paysafe, err = paysafe.NewSandbox(paysafe.Config{Prefix: "/paysafe", Username: paysafeUser, Password: paysafePass,
		BatchInterval: paysafeBatchInterval, Logger: zerolog.Nop()}); err != nil {
		return fail(fmt.Errorf("paysafe sandbox: %w", err))
	}
	closers = append(closers, func() { _ = s.paysafe.Close() })
	if s.frisbii, err = frisbii.NewSandbox(frisbii.Config{Prefix: "/frisbii", APIKey: frisbiiKey, Logger: zerolog.Nop()}); err != nil {
		return fail(fmt.Errorf("frisbii sandbox: %w", err))
	}
	closers = append(closers, func() { _ = s.frisbii.Close() })
	if s.miva, err = miva.NewSandbox(miva.Config{Prefix: "/miva", APIToken: mivaToken, StoreCode: mivaStore, Logger: zerolog.Nop()}); err != nil {
		return fail(fmt.Errorf("miva sandbox: %w", err))
	}
	closers = append(closers, func() { _ = s.miva.Close() })

	mux := http.NewServeMux()
	mux.Handle("/radial/", s.radial.Handler())
	mux.Handle("/paysafe/", s.paysafe.Handler())
	mux.Handle("/frisbii/", s.frisbii.Handler())
	mux.Handle("/miva/", s.miva.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	// Closed first: no call reaches a closed sandbox.
	closers = append(closers, func() { _ = srv.Close() })
	s.url = "http://" + ln.Addr().String()
	return s, nil
}

// seed creates the authorization request r settles: one per request, for
// the amount it debits.
func (s *mixedSandboxes) seed(r mixedRequest) error {
	var err error
	switch r.provider {
	case "radial":
		_, err = s.radial.Authorize(radial.Authorization{StoreID: benchStoreID, OrderID: r.orderID, Amount: benchAmount, Currency: benchCurrency})
	case "paysafe":
		_, err = s.paysafe.Authorize(paysafe.Authorization{AccountID: paysafeAccount, ID: paysafeAuthID(r.orderID),
			Amount: benchAmountMinor, Currency: benchCurrency})
	case "frisbii":
		_, err = s.frisbii.SeedCharge(frisbii.ChargeSeed{Handle: r.orderID, Amount: benchAmountMinor, Currency: benchCurrency})
	case "miva":
		var n int64
		if n, err = strconv.ParseInt(r.orderID, 10, 64); err == nil {
			_, err = s.miva.SeedOrder(miva.OrderSeed{OrderID: n, Currency: benchCurrency,
				Records: []miva.RecordSeed{{Type: miva.TypeAuth, Amount: benchAmount}}})
		}
	default:
		err = fmt.Errorf("unknown provider %q", r.provider)
	}
	if err != nil {
		return fmt.Errorf("seed %s order %s: %w", r.provider, r.orderID, err)
	}
	return nil
}

func paysafeAuthID(order string) string { return "auth-" + order }

// headers are the request headers an order system sends for r.
func (r mixedRequest) headers() amqp.Table {
	// Every provider gets the tender type: each status event carries it.
	h := amqp.Table{handlers.HeaderStoreID: benchStoreID, handlers.HeaderTenderType: benchTender}
	switch r.provider {
	case "paysafe":
		h[pvpaysafe.HeaderAuthorizationID] = paysafeAuthID(r.orderID)
	case "frisbii":
		h[pvfrisbii.HeaderChargeHandle] = r.orderID
	}
	return h
}

// debits counts the live (not declined, failed or cancelled) debits of the
// sandbox ledgers by requestId; debits of requests not in orders (Miva
// knows only the order) are counted under "order <id>".
func (s *mixedSandboxes) debits(provider string, orders map[string]string) (map[string]int, []string) {
	out := map[string]int{}
	var notes []string
	switch provider {
	case "radial":
		out = radialDebits(s.radial)
	case "paysafe":
		pending := 0
		for _, e := range s.paysafe.LedgerFiltered(paysafe.LedgerFilter{Kind: paysafe.KindSettlement}) {
			if e.Status != paysafe.StatusFailed && e.Status != paysafe.StatusCancelled {
				out[e.MerchantRefNum]++
				if e.Status != paysafe.StatusCompleted {
					pending++
				}
			}
		}
		if pending > 0 {
			notes = append(notes, fmt.Sprintf("%d settlements not COMPLETED in the sandbox", pending))
		}
	case "frisbii":
		for _, e := range s.frisbii.LedgerFiltered(frisbii.LedgerFilter{Kind: frisbii.EntrySettle}) {
			if e.State != frisbii.EntryFailed {
				out[e.Key]++
			}
		}
	case "miva":
		byOrder := map[string]string{}
		for id, o := range orders {
			byOrder[o] = id
		}
		for _, e := range s.miva.LedgerFiltered(miva.LedgerFilter{Function: miva.FunctionCapture}) {
			o := strconv.FormatInt(e.OrderID, 10)
			if id, ok := byOrder[o]; ok {
				out[id]++
			} else {
				out["order "+o]++
			}
		}
	}
	return out, notes
}

// stages splits each request's latency at what the provider's sandbox
// recorded: published → the settle call took it (ledger entry created) →
// the provider's verdict (Radial: its status confirmed on Radial's queue;
// Paysafe: the batch marked it COMPLETED; Frisbii and Miva answer the
// settle call itself, so that stage is empty) → our status event.
func (s *mixedSandboxes) stages(provider string, l *load, orders map[string]string) []sample {
	settled, verdict := map[string]time.Time{}, map[string]time.Time{}
	first := func(m map[string]time.Time, k string, t time.Time) {
		if _, ok := m[k]; !ok && !t.IsZero() {
			m[k] = t
		}
	}
	switch provider {
	case "radial":
		for _, e := range s.radial.Ledger() {
			first(settled, e.RequestID, e.CreatedAt)
		}
		for _, r := range s.radial.Statuses() {
			if r.PublishedAt != nil {
				first(verdict, r.RequestID, *r.PublishedAt)
			}
		}
	case "paysafe":
		for _, e := range s.paysafe.LedgerFiltered(paysafe.LedgerFilter{Kind: paysafe.KindSettlement}) {
			first(settled, e.MerchantRefNum, e.TxnTime)
			for _, h := range e.History {
				if h.Status == paysafe.StatusCompleted {
					first(verdict, e.MerchantRefNum, h.At)
				}
			}
		}
	case "frisbii":
		for _, e := range s.frisbii.LedgerFiltered(frisbii.LedgerFilter{Kind: frisbii.EntrySettle}) {
			first(settled, e.Key, e.CreatedAt)
		}
	case "miva":
		byOrder := map[string]string{}
		for id, o := range orders {
			byOrder[o] = id
		}
		for _, e := range s.miva.LedgerFiltered(miva.LedgerFilter{Function: miva.FunctionCapture}) {
			first(settled, byOrder[strconv.FormatInt(e.OrderID, 10)], e.At)
		}
	}
	out := []sample{{name: "published → settle call"}, {name: "→ provider verdict"}, {name: "→ our status event"}}
	for _, id := range l.ids {
		sent, done := l.times(id)
		st := settled[id]
		if sent.IsZero() || done.IsZero() || st.IsZero() {
			continue
		}
		out[0].lat = append(out[0].lat, st.Sub(sent))
		if v, ok := verdict[id]; ok {
			out[1].lat = append(out[1].lat, v.Sub(st))
			out[2].lat = append(out[2].lat, done.Sub(v))
		} else {
			out[2].lat = append(out[2].lat, done.Sub(st))
		}
	}
	for i := range out {
		out[i].n = len(out[i].lat)
		out[i].sort()
	}
	return out
}

// calls summarizes a sandbox's call counters.
func (s *mixedSandboxes) calls(provider string) string {
	switch provider {
	case "radial":
		c := s.radial.Calls()
		return fmt.Sprintf("%d confirm funds, %d settle", c.Confirm.Total, c.Settle.Total)
	case "paysafe":
		c := s.paysafe.Calls()
		return fmt.Sprintf("%d auth lookups, %d settle, %d settlement gets, %d merchantRefNum lookups", c.Auth.Total, c.Settle.Total, c.Get.Total, c.Lookup.Total)
	case "frisbii":
		c := s.frisbii.Calls()
		return fmt.Sprintf("%d charge gets, %d settle", c.Charge.Total, c.Settle.Total)
	case "miva":
		c := s.miva.Calls()
		return fmt.Sprintf("%d payment lists, %d captures", c.List.Total, c.Capture.Total)
	}
	return ""
}

// runMixed runs one worker with all four providers against the four
// sandboxes and times o.mixedN requests per provider, published at once.
func runMixed(ctx context.Context, o options, rc workerRunConfig) (*mixedResult, error) {
	res := &mixedResult{perProvider: o.mixedN}
	statusQueue := broker.StatusQueueName(broker.Username(rc.workerURL))

	// A clean slate in the vhosts the single-provider runs used too.
	var stale []string
	for _, pv := range mixedProviders {
		stale = append(stale, broker.RequestQueue(pv), broker.ParkedQueue(pv))
		for _, d := range strings.Split(mixedRetryDelays, ",") {
			if dd, err := time.ParseDuration(d); err == nil {
				stale = append(stale, broker.RetryQueue(pv, dd))
			}
		}
	}
	stale = append(stale, statusQueue, broker.ProviderStatusParkedQueue("radial"))
	purge(rc.workerURL, stale...)
	purge(rc.radialURL, radialStatusQueue)
	if err := declareQueue(rc.radialURL, radialStatusQueue); err != nil {
		return nil, err
	}

	sb, err := startMixedSandboxes(ctx, rc.radialURL)
	if err != nil {
		return nil, err
	}
	defer sb.close()

	// Requests: distinct numeric orders, one authorization each.
	loads := map[string]*load{}
	owner := map[string]string{}             // requestId → provider
	orders := map[string]map[string]string{} // provider → requestId → order
	for pi, pv := range mixedProviders {
		reqs := make([]loadRequest, o.mixedN)
		orders[pv] = map[string]string{}
		for i := range o.mixedN {
			r := mixedRequest{provider: pv, id: fmt.Sprintf("m-%s-%05d", pv, i), orderID: strconv.Itoa((pi+1)*10_000_000 + i)}
			if err := sb.seed(r); err != nil {
				return nil, err
			}
			reqs[i] = loadRequest{id: r.id, orderID: r.orderID, headers: r.headers()}
			owner[r.id] = pv
			orders[pv][r.id] = r.orderID
		}
		l, err := newLoadOf(pv, reqs, o.window)
		if err != nil {
			return nil, err
		}
		loads[pv] = l
	}

	runDir := filepath.Join(rc.dir, "run-mixed")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, err
	}
	env := []string{
		"AMQP_URL=" + rc.workerURL,
		"PROVIDERS=" + strings.Join(mixedProviders, ","),
		"RADIAL_AMQP_URL=" + rc.radialURL,
		"RADIAL_BASE_URL=" + sb.url + "/radial",
		"RADIAL_API_KEY=" + radialAPIKey,
		"RADIAL_STATUS_QUEUE=" + radialStatusQueue,
		"PAYSAFE_BASE_URL=" + sb.url + "/paysafe",
		"PAYSAFE_USERNAME=" + paysafeUser,
		"PAYSAFE_PASSWORD=" + paysafePass,
		"PAYSAFE_ACCOUNTS=" + benchStoreID + ":" + paysafeAccount,
		"PAYSAFE_RECHECK_AFTER=" + mixedRecheck.String(),
		"FRISBII_BASE_URL=" + sb.url + "/frisbii",
		"FRISBII_API_KEY=" + frisbiiKey,
		"MIVA_BASE_URL=" + sb.miva.URL(sb.url),
		"MIVA_STORE_CODE=" + mivaStore,
		"MIVA_API_TOKEN=" + mivaToken,
		"RETRY_DELAYS=" + mixedRetryDelays,
		"STORE_DSN=sqlite:" + filepath.Join(runDir, "bench.db"),
		"CONCURRENCY=" + strconv.Itoa(o.concurrency),
		"RADIAL_STATUS_CONCURRENCY=" + strconv.Itoa(o.statusConcurrency),
		"QUEUE_TYPE=" + o.queueType,
		"HTTP_ADDR=off",
		"LOG_LEVEL=warn",
		"SHUTDOWN_TIMEOUT=10s",
	}
	env = append(env, o.workerEnv...)
	p, err := startWorker(rc.bin, env)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	readyCtx, cancel := context.WithTimeout(ctx, time.Minute)
	err = p.waitReady(readyCtx, rc.workerURL, rc.radialURL, mixedProviders, o.concurrency)
	cancel()
	if err != nil {
		return nil, err
	}
	_, cpuAtReady := p.usage() // start-up is not per settlement

	conn, err := amqp.DialConfig(rc.workerURL, amqp.Config{Properties: amqp.Table{"connection_name": "settlement-bench-orders-mixed"}})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", redactURL(rc.workerURL), err)
	}
	defer conn.Close()

	// One common start for every provider's load (set before any event).
	start := time.Now()
	for _, l := range loads {
		l.start = start
	}

	// Status events, correlated by their provider header and correlation_id.
	var mu sync.Mutex
	events := map[string][]statusEvent{} // requestId → events
	var strays []string                  // events of no request of this run
	if err := collect(conn, statusQueue, func(d amqp.Delivery) {
		ev := statusEvent{
			messageID: d.MessageId,
			provider:  broker.Stringify(d.Headers[handlers.HeaderProvider]),
			status:    broker.Stringify(d.Headers[handlers.HeaderSettlementStatus]),
		}
		if ev.status == "R" {
			if st, err := messages.DecodeSettlementStatus(d.Body); err == nil {
				ev.reason = st.DeclineReason
			}
		}
		id := d.CorrelationId
		// Matched through the provider header; an event naming the wrong
		// provider still completes its request (and is reported below),
		// so that one mislabelled event does not stall the run.
		if l := loads[ev.provider]; l == nil || !l.completeID(id) {
			if l := loads[owner[id]]; l != nil {
				l.completeID(id)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if _, ok := owner[id]; !ok {
			strays = append(strays, fmt.Sprintf("%s (provider %q, status %q)", id, ev.provider, ev.status))
			return
		}
		events[id] = append(events[id], ev)
	}); err != nil {
		return nil, err
	}

	// Every provider's load at once.
	var wg sync.WaitGroup
	errs := make([]error, len(mixedProviders))
	for i, pv := range mixedProviders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := loads[pv].run(ctx, conn, o.publishers, o.timeout); err != nil {
				errs[i] = fmt.Errorf("%s: %w", pv, err)
			}
		}()
	}
	wg.Wait()
	_, cpuAtEnd := p.usage()
	var runErr error
	for _, err := range errs {
		if err != nil {
			runErr = err
			break
		}
	}
	if runErr == nil {
		// Late duplicates, a second verdict.
		select {
		case <-time.After(duplicateGrace):
		case <-ctx.Done():
		}
	}
	res.peakRSS, _ = p.usage()
	res.cpu = cpuAtEnd - cpuAtReady
	p.stop()
	res.logLines = p.logged()

	// Measurements: from the run's first publish.
	first := time.Time{}
	for _, l := range loads {
		for _, id := range l.ids {
			if sent, _ := l.times(id); !sent.IsZero() && (first.IsZero() || sent.Before(first)) {
				first = sent
			}
		}
	}
	res.total = sample{name: "mixed total"}
	var lastAll time.Time
	mu.Lock()
	defer mu.Unlock()
	for _, pv := range mixedProviders {
		l := loads[pv]
		pr := providerResult{provider: pv, verdicts: map[string]int{}, sample: sample{name: pv, n: l.n()}}
		var last time.Time
		for _, id := range l.ids {
			sent, done := l.times(id)
			if sent.IsZero() || done.IsZero() {
				continue
			}
			pr.sample.lat = append(pr.sample.lat, done.Sub(sent))
			if done.After(last) {
				last = done
			}
		}
		if !first.IsZero() && last.After(first) {
			pr.sample.elapsed = last.Sub(first)
		}
		if last.After(lastAll) {
			lastAll = last
		}
		pr.sample.sort()
		res.total.n += pr.sample.n
		res.total.lat = append(res.total.lat, pr.sample.lat...)

		// Exactly one S per request, on events that name this provider,
		// and exactly one ledger debit.
		debits, notes := sb.debits(pv, orders[pv])
		c := checkRequests(pv, l.ids, events, debits, func(k string) bool { return owner[k] == pv })
		pr.verdicts, pr.debits = c.verdicts, c.debits
		res.duplicates += c.duplicates
		pr.problems = append(pr.problems, c.problems...)
		pr.problems = append(pr.problems, notes...)

		pr.stages = sb.stages(pv, l, orders[pv])
		pr.calls = sb.calls(pv)
		pr.parked = queueDepth(rc.workerURL, broker.ParkedQueue(pv))
		if pv == "radial" {
			pr.parked += queueDepth(rc.workerURL, broker.ProviderStatusParkedQueue("radial"))
		}
		if pr.parked > 0 {
			pr.problems = append(pr.problems, fmt.Sprintf("%d messages parked", pr.parked))
		}
		res.providers = append(res.providers, pr)
	}
	if !first.IsZero() && lastAll.After(first) {
		res.total.elapsed = lastAll.Sub(first)
	}
	res.total.sort()
	if len(strays) > 0 {
		res.problems = append(res.problems, fmt.Sprintf("%d status events of no request of this run (%s)", len(strays), someIDs(strays)))
	}
	if res.logLines > 0 {
		res.lastLog = lastLine(p.tail())
	}
	if runErr != nil {
		return res, fmt.Errorf("%w; worker log tail:\n%s", runErr, p.tail())
	}
	return res, nil
}

// someIDs lists the first few of ids.
func someIDs(ids []string) string {
	const most = 5
	if len(ids) <= most {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:most], ", ") + fmt.Sprintf(", … %d more", len(ids)-most)
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
