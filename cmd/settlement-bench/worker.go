package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/handlers"
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
)

// workerRunConfig is one end-to-end run.
type workerRunConfig struct {
	index     int
	latency   time.Duration
	bin       string
	dir       string
	workerURL string
	radialURL string
}

// workerResult is one end-to-end run's measurements.
type workerResult struct {
	latency  time.Duration
	sample   sample
	peakRSS  int64         // VmHWM of the worker, bytes
	cpu      time.Duration // worker user+system CPU time
	verdicts map[string]int
	calls    radial.Calls
	parked   int
	logLines int      // warnings and errors the worker logged
	stages   []sample // where the latency goes, see stagesOf
}

func (w workerResult) details() string {
	per := "–"
	if n := w.sample.completed(); n > 0 {
		per = fmt.Sprintf("%.2f ms", float64(w.cpu)/float64(n)/float64(time.Millisecond))
	}
	var st []string
	for _, s := range w.stages {
		st = append(st, fmt.Sprintf("%s %s / %s", s.name, fmtDur(s.pct(50)), fmtDur(s.pct(99))))
	}
	return fmt.Sprintf("worker CPU %s (%s per settlement), statuses %v, sandbox calls confirm %d / settle %d, parked %d, worker warnings+errors logged %d; latency by stage (p50 / p99): %s",
		w.cpu.Round(10*time.Millisecond), per, w.verdicts, w.calls.Confirm.Processed, w.calls.Settle.Processed, w.parked, w.logLines, strings.Join(st, "; "))
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
// times n settlements from publish to our status event.
func runWorker(ctx context.Context, o options, rc workerRunConfig) (*workerResult, error) {
	res := &workerResult{latency: rc.latency, verdicts: map[string]int{}}
	l, err := newLoad(fmt.Sprintf("w%d", rc.index), o.n, o.window)
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
	env := []string{
		"AMQP_URL=" + rc.workerURL,
		"RADIAL_AMQP_URL=" + rc.radialURL,
		"RADIAL_BASE_URL=" + srvURL + "/radial",
		"RADIAL_API_KEY=" + radialAPIKey,
		"RADIAL_STATUS_QUEUE=" + radialStatusQueue,
		"STORE_DSN=sqlite:" + filepath.Join(runDir, "bench.db"),
		"CONCURRENCY=" + strconv.Itoa(o.concurrency),
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
	err = p.waitReady(readyCtx, rc.workerURL, rc.radialURL, o.concurrency)
	cancel()
	if err != nil {
		return nil, err
	}

	conn, err := amqp.DialConfig(rc.workerURL, amqp.Config{Properties: amqp.Table{"connection_name": "settlement-bench-orders"}})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", redactURL(rc.workerURL), err)
	}
	defer conn.Close()
	var mu sync.Mutex
	verdicts := map[string]int{}
	if err := collect(conn, statusQueue, func(d amqp.Delivery) {
		if l.completeID(d.CorrelationId) {
			mu.Lock()
			verdicts[broker.Stringify(d.Headers[handlers.HeaderSettlementStatus])]++
			mu.Unlock()
		}
	}); err != nil {
		return nil, err
	}

	runErr := l.run(ctx, conn, o.concurrency, o.timeout)
	res.sample = l.sample(fmt.Sprintf("worker %s", rc.latency))
	res.peakRSS, res.cpu = p.usage()
	p.stop()
	res.calls = sb.Calls()
	res.stages = stagesOf(l, sb)
	res.parked = queueDepth(rc.workerURL, broker.ParkedQueue("radial")) + queueDepth(rc.workerURL, broker.ProviderStatusParkedQueue("radial"))
	res.logLines = p.logged()
	mu.Lock()
	for k, v := range verdicts {
		res.verdicts[k] = v
	}
	mu.Unlock()
	if runErr != nil {
		return res, fmt.Errorf("%w; worker log tail:\n%s", runErr, p.tail())
	}
	return res, nil
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

// workerProc is the worker subprocess; its stderr (JSON logs) is scanned.
type workerProc struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	stopped sync.Once

	mu    sync.Mutex
	lines []string // last lines of stderr
	count int
}

func startWorker(bin string, vars []string) (*workerProc, error) {
	cmd := exec.Command(bin)
	// Only the process basics from our environment: the worker's own
	// settings (PREFETCH, RETRY_DELAYS, ...) stay at their defaults.
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GODEBUG"} {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.Env = append(cmd.Env, vars...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	p := &workerProc{cmd: cmd, exited: make(chan struct{})}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.count++
			p.lines = append(p.lines, line)
			if len(p.lines) > 30 {
				p.lines = p.lines[1:]
			}
			p.mu.Unlock()
		}
	}()
	go func() {
		<-scanned
		_ = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// waitReady waits until the worker consumes: its request queue has
// `concurrency` consumers and Radial's status queue at least one. That
// signal works at every log level, and comes after the worker's "settlement
// worker running" line, which is logged at info (so not printed at
// LOG_LEVEL=warn) and before the consumers are attached.
func (p *workerProc) waitReady(ctx context.Context, workerURL, radialURL string, concurrency int) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if consumers(workerURL, broker.RequestQueue("radial")) >= concurrency && consumers(radialURL, radialStatusQueue) >= 1 {
			return nil
		}
		select {
		case <-tick.C:
		case <-p.exited:
			return fmt.Errorf("the worker exited before it was ready (%s); log tail:\n%s", p.cmd.ProcessState, p.tail())
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("the worker was not consuming after a minute; log tail:\n%s", p.tail())
			}
			return ctx.Err()
		}
	}
}

// usage reads the worker's peak RSS (VmHWM) and CPU time from /proc; call it
// just before stopping it.
func (p *workerProc) usage() (peak int64, cpu time.Duration) {
	pid := p.cmd.Process.Pid
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				peak = kb << 10
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			// Fields after the command name: state is field 3, utime 14, stime 15.
			f := strings.Fields(s[i+1:])
			if len(f) > 12 {
				ut, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				cpu = time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
			}
		}
	}
	return peak, cpu
}

// stop asks the worker to shut down gracefully and kills it if it does not.
func (p *workerProc) stop() {
	p.stopped.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
}

func (p *workerProc) tail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// logged is how many lines the worker wrote (warnings and errors at
// LOG_LEVEL=warn).
func (p *workerProc) logged() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count
}

// collect consumes queue on conn (auto-ack) and calls f for each delivery.
func collect(conn *amqp.Connection, queue string, f func(amqp.Delivery)) error {
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	ds, err := ch.Consume(queue, "settlement-bench-collector", true, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume %s: %w", queue, err)
	}
	go func() {
		for d := range ds {
			f(d)
		}
	}()
	return nil
}

// withChannel runs f on a fresh connection and channel to url.
func withChannel(url string, f func(*amqp.Channel) error) error {
	conn, err := amqp.Dial(url)
	if err != nil {
		return fmt.Errorf("dial %s: %w", redactURL(url), err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	return f(ch)
}

// purge empties queues that exist; missing ones are skipped.
func purge(url string, queues ...string) {
	for _, q := range queues {
		_ = withChannel(url, func(ch *amqp.Channel) error {
			_, err := ch.QueuePurge(q, false)
			return err
		})
	}
}

func declareQueue(url, queue string) error {
	return withChannel(url, func(ch *amqp.Channel) error {
		if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
			return fmt.Errorf("declare %s: %w", queue, err)
		}
		return nil
	})
}

// consumers is the number of consumers of queue (0 when it does not exist).
func consumers(url, queue string) int {
	n := 0
	_ = withChannel(url, func(ch *amqp.Channel) error {
		q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
		n = q.Consumers
		return err
	})
	return n
}

// queueDepth is the number of ready messages in queue (0 when it does not exist).
func queueDepth(url, queue string) int {
	n := 0
	_ = withChannel(url, func(ch *amqp.Channel) error {
		q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
		n = q.Messages
		return err
	})
	return n
}

// buildWorker builds ./cmd/settlement-worker of this module into dir.
func buildWorker(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the settlement-worker module (go env GOMOD is empty): run from the repository")
	}
	bin := filepath.Join(dir, "settlement-worker")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/settlement-worker")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/settlement-worker: %w\n%s", err, out)
	}
	return bin, nil
}
