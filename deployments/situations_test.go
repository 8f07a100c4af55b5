package deployments

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// The runbook's situations reproduced with a real worker process (the
// binary, real RabbitMQ, SQLite), its /metrics scraped, and the alert the
// runbook names evaluated by promtool over those series: an alert that
// reads a series the worker does not export in that situation, or a label
// value it never has, cannot fire, whatever alerts_test.yml says.

func TestMain(m *testing.M) { testenv.Main(m) }

// A worker restarted while its broker cannot be reached (a broker outage, a
// host name that does not resolve) waits for it forever: nothing settles.
// Prometheus still scrapes it (up 1), so an alert must say so.
func TestAlertForAWorkerThatCannotReachItsBroker(t *testing.T) {
	promtool := needPromtool(t)
	closed := freeAddr(t) // nothing listens there
	w := startWorker(t, "amqp://guest:guest@"+closed+"/")
	w.waitReady(t, "broker: down")
	time.Sleep(2 * time.Second) // a few connection attempts
	s := w.scrape(t)
	checkFires(t, promtool, []scrape{s}, "20m", "")
}

// Parked requests growing: an unparseable request is parked; ParkedGrowing
// fires from the series the worker exports.
func TestAlertForParkedRequestsGrowing(t *testing.T) {
	promtool := needPromtool(t)
	u := testenv.AMQPURL(t)
	w := startWorker(t, u)
	w.waitReady(t, "router: ok")
	before := w.waitScrape(t, started)
	publishRaw(t, u, broker.RequestQueue("radial"), "bad-"+strconv.FormatInt(time.Now().UnixNano(), 36), []byte("not xml"))
	after := w.waitScrape(t, func(s scrape) bool {
		return started(s) && s.value(`settlement_queue_messages{provider="radial",queue="parked"}`) == 1
	})
	checkFires(t, promtool, []scrape{before, after}, "40m", "ParkedGrowing")
}

// started: the worker exports its gauges (read from the store and the
// broker) and its sweeper has completed a round.
func started(s scrape) bool {
	_, ok := s[`settlement_queue_messages{provider="radial",queue="parked"}`]
	return ok && s.value("settlement_sweeper_last_completed_timestamp_seconds") > 0
}

// The sweeper off on every replica (SWEEP_INTERVAL=0, which only
// PostgreSQL allows: another replica may sweep its store): nothing relays
// verdicts or resumes stuck settlements; SettlementSweeperNotRunning fires.
func TestAlertForTheSweeperNotRunning(t *testing.T) {
	promtool := needPromtool(t)
	w := startWorker(t, testenv.AMQPURL(t), "STORE_DSN="+testenv.PostgresDSN(t), "SWEEP_INTERVAL=0")
	w.waitReady(t, "router: ok")
	s := w.waitScrape(t, func(s scrape) bool {
		_, ok := s[`settlement_queue_messages{provider="radial",queue="parked"}`]
		return ok
	})
	checkFires(t, promtool, []scrape{s}, "20m", "SettlementSweeperNotRunning")
}

// Rows no configured key opens (STORE_ENCRYPTION_KEY replaced without
// STORE_ENCRYPTION_OLD_KEYS): a verdict recorded, not published yet, sealed
// with the old key; the worker runs with a new one. The sweeper skips it
// every round and SettlementRowsUnreadable fires.
func TestAlertForStoreRowsUnreadable(t *testing.T) {
	promtool := needPromtool(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "w.db")
	old := func() time.Time { return time.Now().Add(-time.Hour) }
	raw, err := store.Open(ctx, dsn, store.WithClock(old))
	if err != nil {
		t.Fatal(err)
	}
	key := func(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }
	keys, err := store.ParseKeyring(key(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	st := store.Encrypted(raw, keys)
	// The key rotated: key 2 current, key 1 kept as an old key while the
	// check is sealed again with key 2 (store.CheckKeys, as a replica with
	// both does at start); then key 1 dropped too early.
	rotated, err := store.ParseKeyring(key(2), []string{key(1)})
	if err != nil {
		t.Fatal(err)
	}
	k := store.Key{Provider: "radial", RequestID: "r1"}
	if _, _, err := st.Register(ctx, store.Settlement{Key: k, Fingerprint: "fp", StoreID: "S1", OrderID: "O1", TenderType: "VC",
		SettlementType: "Debit", Amount: "1.00", Currency: "USD", Request: []byte("<request/>"), ContentType: "application/xml"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Transition(ctx, k, nil, store.StateSettled, store.Change{Note: "settled"},
		&store.StatusEvent{SettlementStatus: "S", Body: []byte("<status/>")}); err != nil {
		t.Fatal(err)
	}
	if err := store.CheckKeys(ctx, raw, rotated); err != nil {
		t.Fatal(err)
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}

	w := startWorker(t, testenv.AMQPURL(t), "STORE_DSN="+dsn, "STORE_ENCRYPTION_KEY="+key(2))
	w.waitReady(t, "router: ok")
	const unreadable = `settlement_swept_total{action="unreadable",provider="radial",state=""}`
	before := w.waitScrape(t, func(s scrape) bool { return started(s) && s.value(unreadable) > 0 })
	after := w.waitScrape(t, func(s scrape) bool { return s.value(unreadable) > before.value(unreadable) })
	checkFires(t, promtool, []scrape{before, after}, "40m", "SettlementRowsUnreadable")
}

// Settlements that stopped moving, the sweeper off: one confirming for 2h
// (its message lost), one acknowledged 7h ago with no status, one pending
// at the provider since it was registered 26h ago. The gauges the worker
// reads from its store make SettlementInFlightStuck,
// SettlementAcknowledgedStuck and SettlementPendingStuck fire.
func TestAlertsForSettlementsStuck(t *testing.T) {
	promtool := needPromtool(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "w.db")
	var ago time.Duration
	st, err := store.Open(ctx, dsn, store.WithClock(func() time.Time { return time.Now().Add(-ago) }))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id    string
		ago   time.Duration
		state store.State
	}{{"r-confirming", 2 * time.Hour, store.StateConfirming}, {"r-ack", 7 * time.Hour, store.StateAcknowledged},
		{"r-pending", 26 * time.Hour, store.StatePending}} {
		ago = c.ago
		k := store.Key{Provider: "radial", RequestID: c.id}
		if _, _, err := st.Register(ctx, store.Settlement{Key: k, Fingerprint: "fp-" + c.id, StoreID: "S1", OrderID: "O-" + c.id,
			TenderType: "VC", SettlementType: "Debit", Amount: "1.00", Currency: "USD", Request: []byte("<request/>"),
			ContentType: "application/xml"}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.Transition(ctx, k, nil, c.state, store.Change{Note: "seeded"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	w := startWorker(t, testenv.AMQPURL(t), "STORE_DSN="+dsn, "SWEEP_INTERVAL=1h") // no round during the test
	w.waitReady(t, "router: ok")
	s := w.waitScrape(t, func(s scrape) bool {
		return s.value(`settlement_oldest_registered_seconds{provider="radial",state="pending"}`) > 0
	})
	for _, alert := range []string{"SettlementInFlightStuck", "SettlementAcknowledgedStuck", "SettlementPendingStuck"} {
		checkFires(t, promtool, []scrape{s}, "20m", alert)
	}
}

// PostgreSQL: the sessions holding the worker's order locks end (a
// failover, a terminated backend); OrderLockSessionsEnded fires.
func TestAlertForOrderLockSessionsEnded(t *testing.T) {
	promtool := needPromtool(t)
	dsn := testenv.PostgresDSN(t)
	w := startWorker(t, testenv.AMQPURL(t), "STORE_DSN="+dsn, "CONCURRENCY=2")
	w.waitReady(t, "router: ok")
	const ended = "settlement_store_lock_sessions_ended_total"
	before := w.waitScrape(t, started)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// Every other session of this test's own database.
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"); err != nil {
		t.Fatal(err)
	}
	after := w.waitScrape(t, func(s scrape) bool { return s.value(ended) > before.value(ended) })
	checkFires(t, promtool, []scrape{before, after}, "40m", "OrderLockSessionsEnded")
}

// A verdict the broker refuses to relay (no status queue bound for its
// store): SettlementStatusNotRelayed fires, and the runbook's next step,
// show with the message id the sweeper's warning names, names the
// settlement and its store.
func TestAlertForAVerdictTheBrokerRefusesToRelay(t *testing.T) {
	promtool := needPromtool(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "w.db")
	st, err := store.Open(ctx, dsn, store.WithClock(func() time.Time { return time.Now().Add(-time.Hour) }))
	if err != nil {
		t.Fatal(err)
	}
	k := store.Key{Provider: "radial", RequestID: "r-unbound"}
	if _, _, err := st.Register(ctx, store.Settlement{Key: k, Fingerprint: "fp", StoreID: "UNBOUND", OrderID: "O-77", TenderType: "VC",
		SettlementType: "Debit", Amount: "1.00", Currency: "USD", Request: []byte("<request/>"), ContentType: "application/xml"}); err != nil {
		t.Fatal(err)
	}
	body, err := messages.Encode(&messages.PaymentSettlementStatus{
		PaymentContext: &messages.PaymentContext{OrderID: "O-77", PaymentAccountUniqueID: messages.AccountID{IsToken: "false", Value: "4111111111111111"}},
		TenderType:     "VC", Amount: messages.Amount{CurrencyCode: "USD", Value: "1.00"}, SettlementType: "Debit",
		SettlementStatus: "S", StoreID: "UNBOUND",
	})
	if err != nil {
		t.Fatal(err)
	}
	_, ev, err := st.Transition(ctx, k, nil, store.StateSettled, store.Change{Note: "settled"}, &store.StatusEvent{SettlementStatus: "S", Body: body})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	u := testenv.AMQPURL(t)
	w := startWorker(t, u, "STORE_DSN="+dsn, "STATUS_QUEUES=q.test.status.S1=settlement.status.S1")
	w.waitReady(t, "router: ok")
	const unrelayed = `settlement_swept_total{action="unrelayed",provider="radial",state="settled"}`
	before := w.waitScrape(t, func(s scrape) bool { return started(s) && s.value(unrelayed) > 0 })
	after := w.waitScrape(t, func(s scrape) bool { return s.value(unrelayed) > before.value(unrelayed) })
	checkFires(t, promtool, []scrape{before, after}, "40m", "SettlementStatusNotRelayed")

	// The warning names the message id; show finds the settlement by it.
	if !strings.Contains(w.log.String(), "relay "+ev.MessageID) {
		t.Fatalf("the sweeper's log does not name relay %s:\n%s", ev.MessageID, w.log)
	}
	cmd := exec.Command(testenv.Binary(t, "./cmd/settlement-worker"), "show", ev.MessageID)
	cmd.Env = append(os.Environ(), "AMQP_URL="+u, "STORE_DSN="+dsn)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "settlement r-unbound (provider radial)") || !strings.Contains(string(out), "UNBOUND / O-77") {
		t.Errorf("show %s: %v\n%s", ev.MessageID, err, out)
	}
}

func needPromtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is not on PATH (CI=true)")
		}
		t.Skip("promtool is not on PATH (Debian: apt-get install prometheus)")
	}
	return p
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type workerProc struct {
	addr string
	cmd  *exec.Cmd
	log  *syncLog
}

// syncLog is the worker's output, written by the goroutine reading it.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(line + "\n")
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startWorker runs the worker binary (radial, SQLite) on amqpURL, with the
// variables env (NAME=VALUE) added; it is stopped at the test's end.
func startWorker(t *testing.T, amqpURL string, env ...string) *workerProc {
	t.Helper()
	bin := testenv.Binary(t, "./cmd/settlement-worker")
	w := &workerProc{addr: freeAddr(t), log: &syncLog{}}
	w.cmd = exec.Command(bin)
	w.cmd.Env = append(os.Environ(), "AMQP_URL="+amqpURL, "PROVIDERS=radial", "RADIAL_BASE_URL=http://127.0.0.1:1",
		"RADIAL_API_KEY=k", "RADIAL_STATUS_QUEUE=q.test.radial.status", "HTTP_ADDR="+w.addr,
		"STORE_DSN=sqlite:"+filepath.Join(t.TempDir(), "w.db"), "SWEEP_INTERVAL=1s")
	w.cmd.Env = append(w.cmd.Env, env...) // the last of a name wins
	pr, pw := io.Pipe()
	w.cmd.Stdout, w.cmd.Stderr = pw, pw
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			w.log.add(sc.Text())
		}
	}()
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = w.cmd.Process.Signal(os.Interrupt)
		waited := make(chan error, 1)
		go func() { waited <- w.cmd.Wait() }()
		select {
		case <-waited:
		case <-time.After(30 * time.Second):
			_ = w.cmd.Process.Kill()
			<-waited
		}
		pw.Close()
		<-done
	})
	return w
}

func (w *workerProc) get(path string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+w.addr+path, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), err
}

// waitReady waits until /readyz says want.
func (w *workerProc) waitReady(t *testing.T, want string) {
	t.Helper()
	var last string
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if b, err := w.get("/readyz"); err == nil && strings.Contains(b, want) {
			return
		} else {
			last = fmt.Sprint(b, err)
		}
	}
	t.Fatalf("/readyz never said %q: %s\nlog:\n%s", want, last, w.log)
}

// scrape is one reading of /metrics: series (as written there) → value.
type scrape map[string]float64

func (s scrape) value(series string) float64 { return s[series] }

func (w *workerProc) scrape(t *testing.T) scrape {
	t.Helper()
	b, err := w.get("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	s := scrape{}
	for _, line := range strings.Split(b, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		s[line[:i]] = v
	}
	return s
}

func (w *workerProc) waitScrape(t *testing.T, ok func(scrape) bool) scrape {
	t.Helper()
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); time.Sleep(time.Second) {
		// The backlog gauges are read at most once per 5 s.
		if s := w.scrape(t); ok(s) {
			return s
		}
	}
	t.Fatalf("the situation did not show in /metrics\nlog:\n%s", w.log)
	return nil
}

// checkFires writes a promtool test over alerts.yml whose input is the
// scrapes, each held for 30 minutes in turn, as the series of replica
// w1:8080 (up 1), and expects alert to be firing at evalTime ("": any
// alert at all).
func checkFires(t *testing.T, promtool string, scrapes []scrape, evalTime, alert string) {
	t.Helper()
	const hold = 30
	names := map[string]bool{}
	for _, s := range scrapes {
		for k := range s {
			names[k] = true
		}
	}
	var series []string
	for k := range names {
		series = append(series, k)
	}
	sort.Strings(series)
	var in strings.Builder
	in.WriteString("rule_files: [" + filepath.Join(mustAbs(t, "prometheus"), "alerts.yml") + "]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n")
	fmt.Fprintf(&in, "      - series: 'up{job=\"settlement-worker\",instance=\"w1:8080\"}'\n        values: '1x%d'\n", hold*len(scrapes)+10)
	for _, k := range series {
		name, labels, _ := strings.Cut(k, "{")
		labels = strings.TrimSuffix(labels, "}")
		if labels != "" {
			labels = "," + labels
		}
		var vals []string
		for i, s := range scrapes {
			v, ok := s[k]
			n := hold
			if i == len(scrapes)-1 {
				n += 10
			}
			switch {
			case !ok:
				vals = append(vals, fmt.Sprintf("_x%d", n))
			case strings.HasSuffix(name, "_timestamp_seconds") && v != 0, name == "process_start_time_seconds":
				// A time: taken as now at the scrape (a live
				// timestamp gauge keeps being set).
				if name == "process_start_time_seconds" {
					vals = append(vals, fmt.Sprintf("0x%d", n))
				} else {
					vals = append(vals, fmt.Sprintf("%d+60x%d", i*hold*60, n))
				}
			default:
				vals = append(vals, fmt.Sprintf("%sx%d", strconv.FormatFloat(v, 'f', -1, 64), n))
			}
		}
		fmt.Fprintf(&in, "      - series: '%s{job=\"settlement-worker\",instance=\"w1:8080\"%s}'\n        values: '%s'\n",
			name, labels, strings.Join(vals, " "))
	}
	expr := `clamp_max(count(ALERTS{alertstate="firing"}), 1)`
	if alert != "" {
		expr = fmt.Sprintf(`clamp_max(count(ALERTS{alertstate="firing",alertname=%q}), 1)`, alert)
	}
	run := func(expr, samples string) (string, bool) {
		test := in.String() + fmt.Sprintf("    promql_expr_test:\n      - expr: '%s'\n        eval_time: %s\n        exp_samples:%s\n", expr, evalTime, samples)
		f := filepath.Join(t.TempDir(), "situation_test.yml")
		if d := os.Getenv("SITUATION_DUMP"); d != "" { // a folder to keep the generated tests in
			_ = os.WriteFile(filepath.Join(d, t.Name()+".yml"), []byte(test), 0o644)
		}
		if err := os.WriteFile(f, []byte(test), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(promtool, "test", "rules", f).CombinedOutput()
		return string(out), err == nil
	}
	if out, ok := run(expr, "\n          - labels: '{}'\n            value: 1"); !ok {
		// The alerts that do fire (promtool shows them as got).
		firing, _ := run(`count by (alertname) (ALERTS{alertstate="firing"})`, " []")
		want := alert
		if want == "" {
			want = "any alert"
		}
		t.Errorf("%s does not fire at %s over the series the worker exports in this situation.\npromtool:\n%s\nfiring:\n%s", want, evalTime, out, firing)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func publishRaw(t *testing.T, u, queue, id string, body []byte) {
	t.Helper()
	conn, err := amqp.Dial(u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), "", queue, true, false, amqp.Publishing{
		MessageId: id, Body: body, DeliveryMode: amqp.Persistent, Timestamp: time.Now(),
		Headers: amqp.Table{"store_id": "S1", "tender_type": "VC"},
	})
	if err != nil || !dc.Wait() {
		t.Fatalf("publish %s: %v", id, err)
	}
}
