package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/sandbox/frisbii"
	"github.com/settlement-worker/settlement-worker/sandbox/miva"
	"github.com/settlement-worker/settlement-worker/sandbox/paysafe"
	"github.com/settlement-worker/settlement-worker/sandbox/radial"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	paysafeUser    = "e2e-user"
	paysafePass    = "e2e-pass"
	paysafeAccount = "1001"
	frisbiiKey     = "priv_e2e"
	mivaToken      = "e2e-token"
	mivaStore      = "beta"
	apiKey         = "e2e-key"
	statusQueue    = "q.Payments.Settlements.Status.guest"
	storeID        = "ABCXYZ"
)

// env is one end-to-end world: a fresh vhost for the worker, a fresh vhost
// for Radial's side, the Radial sandbox on loopback, the worker binary as a
// real process, and a consumer of our status queue.
type env struct {
	t         *testing.T
	amqpURL   string
	radialURL string
	sb        *radial.Sandbox
	paysafe   *paysafe.Sandbox
	frisbii   *frisbii.Sandbox
	miva      *miva.Sandbox
	srv       *httptest.Server
	dbPath    string
	bin       string
	worker    *proc
	statuses  *collector
	workerEnv []string
}

type envOpts struct {
	statusDelay time.Duration
	workerEnv   []string
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	e := &env{
		t:         t,
		amqpURL:   testenv.AMQPURL(t),
		radialURL: testenv.AMQPURL(t),
		dbPath:    filepath.Join(t.TempDir(), "settlements.db"),
		bin:       testenv.Binary(t, "./cmd/settlement-worker"),
		workerEnv: o.workerEnv,
	}
	if o.statusDelay == 0 {
		o.statusDelay = 100 * time.Millisecond
	}
	sb, err := radial.NewSandbox(radial.Config{
		APIKey:        apiKey,
		Prefix:        "/radial",
		StatusAMQPURL: e.radialURL,
		StatusQueue:   statusQueue,
		StatusDelay:   o.statusDelay,
		AutoAuthorize: radial.Bool(false),
		Logger:        zerolog.Nop(),
	})
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := sb.Start(ctx); err != nil {
		t.Fatalf("sandbox start: %v", err)
	}
	e.sb = sb
	e.others(t)
	mux := http.NewServeMux()
	mux.Handle("/radial/", sb.Handler())
	mux.Handle("/paysafe/", e.paysafe.Handler())
	mux.Handle("/frisbii/", e.frisbii.Handler())
	mux.Handle("/miva/", e.miva.Handler())
	e.srv = httptest.NewServer(mux)
	declareRadialQueue(t, e.radialURL)
	t.Cleanup(func() {
		if e.worker != nil {
			e.worker.stop()
		}
		e.srv.Close()
		cancel()
		sb.Close()
		e.paysafe.Close()
		e.frisbii.Close()
		e.miva.Close()
	})
	return e
}

// start runs the worker and waits until it consumes.
func (e *env) start(extra ...string) *proc {
	e.t.Helper()
	p := e.spawn(extra...)
	if !p.waitLog("settlement worker running", 60*time.Second) {
		e.t.Fatalf("worker did not start; log:\n%s", p.logText())
	}
	if e.statuses == nil {
		e.statuses = collect(e.t, e.amqpURL, statusQueue)
	}
	return p
}

// spawn runs the worker without waiting for it.
func (e *env) spawn(extra ...string) *proc {
	e.t.Helper()
	vars := append([]string{
		"AMQP_URL=" + e.amqpURL,
		"RADIAL_AMQP_URL=" + e.radialURL,
		"RADIAL_STATUS_QUEUE=" + statusQueue,
		"RADIAL_BASE_URL=" + e.srv.URL + "/radial",
		"RADIAL_API_KEY=" + apiKey,
		"RADIAL_TIMEOUT=2s",
		"PROVIDERS=radial,paysafe,frisbii,miva",
		"PAYSAFE_BASE_URL=" + e.srv.URL + "/paysafe",
		"PAYSAFE_USERNAME=" + paysafeUser, "PAYSAFE_PASSWORD=" + paysafePass,
		"PAYSAFE_ACCOUNTS=" + storeID + ":" + paysafeAccount,
		"PAYSAFE_TIMEOUT=2s", "PAYSAFE_RECHECK_AFTER=200ms",
		"FRISBII_BASE_URL=" + e.srv.URL + "/frisbii", "FRISBII_API_KEY=" + frisbiiKey, "FRISBII_TIMEOUT=2s",
		"FRISBII_REFUND_RECHECK=200ms",
		"MIVA_BASE_URL=" + e.srv.URL + "/miva/mm5/json.mvc", "MIVA_STORE_CODE=" + mivaStore,
		"MIVA_API_TOKEN=" + mivaToken, "MIVA_TIMEOUT=2s",
		"STORE_DSN=sqlite:" + e.dbPath,
		"RETRY_DELAYS=200ms,400ms",
		"MAX_ATTEMPTS=4",
		"CONCURRENCY=4",
		"HTTP_ADDR=off",
		"LOG_LEVEL=debug",
		"SHUTDOWN_TIMEOUT=10s",
		// Uncertain attempts are reconciled after the settle window: longer
		// than the sandboxes' processing and than the 2s timeouts.
		"RADIAL_SETTLE_WINDOW=3s", "PAYSAFE_SETTLE_WINDOW=3s", "FRISBII_SETTLE_WINDOW=3s", "MIVA_SETTLE_WINDOW=3s",
	}, e.workerEnv...)
	vars = append(vars, extra...)
	p := startProc(e.t, e.bin, vars)
	e.worker = p
	return p
}

// proc is a worker process whose stderr (JSON logs) is kept.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  []string
	done chan struct{}
	err  error
}

func startProc(t *testing.T, bin string, vars []string) *proc {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), vars...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	p := &proc{t: t, cmd: cmd, done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.log = append(p.log, sc.Text())
			p.mu.Unlock()
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("worker log (pid %d):\n%s", cmd.Process.Pid, p.logText())
		}
	})
	return p
}

func (p *proc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.log, "\n")
}

func (p *proc) waitLog(substr string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(p.logText(), substr) {
			return true
		}
		select {
		case <-p.done:
			return strings.Contains(p.logText(), substr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return false
}

// wait waits for the process to exit and returns its wait status.
func (p *proc) wait(timeout time.Duration) (syscall.WaitStatus, bool) {
	select {
	case <-p.done:
		ws, _ := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
		return ws, true
	case <-time.After(timeout):
		return 0, false
	}
}

func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// req describes a request to publish.
type req struct {
	// Provider routes the request (radial when empty).
	Provider      string
	Headers       map[string]string
	RequestID     string
	OrderID       string
	Type          string
	Amount        string
	Currency      string
	ClientContext string
	Tender        string
	Store         string
	AuthAmount    string
	Account       string
	Body          []byte // overrides the generated XML
	ContentType   string
}

func (r req) xml(t *testing.T) []byte {
	if r.Body != nil {
		return r.Body
	}
	m := messages.PaymentSettlementRequest{
		RequestID:      r.RequestID,
		InvoiceID:      "inv-" + r.OrderID,
		Amount:         messages.Amount{CurrencyCode: or(r.Currency, "USD"), Value: r.Amount},
		TaxAmount:      &messages.Amount{CurrencyCode: or(r.Currency, "USD"), Value: "0.00"},
		SettlementType: or(r.Type, messages.SettlementDebit),
		ClientContext:  r.ClientContext,
		OmsOrderID:     r.OrderID,
	}
	if r.Account != "" {
		m.PaymentContext = &messages.PaymentContext{OrderID: r.OrderID, PaymentAccountUniqueID: messages.AccountID{IsToken: "true", Value: r.Account}}
	} else {
		m.PaymentContextBase = &messages.PaymentContextBase{OrderID: r.OrderID}
	}
	b, err := messages.Encode(m)
	if err != nil {
		t.Fatalf("encode request: %v", err)
	}
	return b
}

func or(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// publish publishes a request with confirms, as an order system would.
func (e *env) publish(r req) {
	e.t.Helper()
	e.publishCopy(r, "pub-"+r.RequestID, nil)
}

// publishCopy publishes r as e.publish does, under message id msgID and
// with extra headers added: the same request re-sent by the order system
// with other metadata.
func (e *env) publishCopy(r req, msgID string, extra map[string]string) {
	e.t.Helper()
	conn, err := amqp.Dial(e.amqpURL)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		e.t.Fatal(err)
	}
	headers := amqp.Table{"store_id": or(r.Store, storeID), "tender_type": or(r.Tender, "VC")}
	if r.AuthAmount != "" {
		headers["original_authorization_amount"] = r.AuthAmount
	}
	for k, v := range r.Headers {
		headers[k] = v
	}
	for k, v := range extra {
		headers[k] = v
	}
	dc, err := ch.PublishWithDeferredConfirm(broker.IntakeExchange, broker.RequestRoutingKey(or(r.Provider, "radial")), true, false, amqp.Publishing{
		ContentType: or(r.ContentType, "application/xml"), DeliveryMode: amqp.Persistent,
		MessageId: msgID, Headers: headers, Body: r.xml(e.t),
	})
	if err != nil || !dc.Wait() {
		e.t.Fatalf("publish %s: %v", r.RequestID, err)
	}
}

// authorize registers an authorization in the sandbox.
func (e *env) authorize(a radial.Authorization) {
	e.t.Helper()
	if a.StoreID == "" {
		a.StoreID = storeID
	}
	if a.Currency == "" {
		a.Currency = "USD"
	}
	if _, err := e.sb.Authorize(a); err != nil {
		e.t.Fatalf("authorize: %v", err)
	}
}

// ledger returns the sandbox ledger entries of a request.
func (e *env) ledger(requestID string) []radial.Entry {
	return e.sb.LedgerFiltered(radial.LedgerFilter{RequestID: requestID})
}

// event is a status event received from our status queue.
type event struct {
	MessageID     string
	CorrelationID string
	Type          string
	ContentType   string
	Persistent    bool
	Headers       map[string]string
	Status        *messages.PaymentSettlementStatus
	Body          []byte
}

// collector consumes our status queue, reconnecting when the broker
// restarts (the queue is durable: nothing is lost meanwhile).
type collector struct {
	mu     sync.Mutex
	events []event
}

func collect(t *testing.T, url, queue string) *collector {
	c := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ready := make(chan error, 1)
	go func() {
		first := true
		for ctx.Err() == nil {
			err := c.consume(ctx, url, queue, func(err error) {
				if first {
					ready <- err
					first = false
				}
			})
			if first {
				ready <- err
				first = false
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	if err := <-ready; err != nil {
		t.Fatalf("collector: %v", err)
	}
	// Issue 7: every status the worker published during the test is a
	// valid PaymentSettlementStatus document.
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, ev := range c.events {
			if err := messages.ValidateStatusDocument(ev.Body); err != nil {
				t.Errorf("status event %s (request %s) is not a valid PaymentSettlementStatus: %v\n%s", ev.MessageID, ev.CorrelationID, err, ev.Body)
			}
		}
	})
	return c
}

// consume reads deliveries until the connection drops or ctx ends.
func (c *collector) consume(ctx context.Context, url, queue string, started func(error)) error {
	conn, err := amqp.Dial(url)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	ds, err := ch.Consume(queue, "", true, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume %s: %w", queue, err)
	}
	started(nil)
	for {
		select {
		case <-ctx.Done():
			return nil
		case d, ok := <-ds:
			if !ok {
				return nil
			}
			ev := event{MessageID: d.MessageId, CorrelationID: d.CorrelationId, Type: d.Type, ContentType: d.ContentType,
				Persistent: d.DeliveryMode == amqp.Persistent, Headers: map[string]string{}, Body: d.Body}
			for k, v := range d.Headers {
				ev.Headers[k] = broker.Stringify(v)
			}
			if st, err := messages.DecodeSettlementStatus(d.Body); err == nil {
				ev.Status = st
			}
			c.mu.Lock()
			c.events = append(c.events, ev)
			c.mu.Unlock()
		}
	}
}

// of returns the events of a request (by correlation id).
func (c *collector) of(requestID string) []event {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []event
	for _, e := range c.events {
		if e.CorrelationID == requestID {
			out = append(out, e)
		}
	}
	return out
}

// distinct returns a request's events with duplicates (same message_id) removed.
func distinct(evs []event) []event {
	seen := map[string]bool{}
	var out []event
	for _, e := range evs {
		if !seen[e.MessageID] {
			seen[e.MessageID] = true
			out = append(out, e)
		}
	}
	return out
}

// waitEvents waits until a request has at least n distinct events.
func (e *env) waitEvents(requestID string, n int, timeout time.Duration) []event {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		evs := distinct(e.statuses.of(requestID))
		if len(evs) >= n {
			return evs
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("request %s: want %d status events, got %d within %s", requestID, n, len(evs), timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// parked drains a parked queue.
func (e *env) parked(queue string, want int, timeout time.Duration) []amqp.Delivery {
	e.t.Helper()
	conn, err := amqp.Dial(e.amqpURL)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		e.t.Fatal(err)
	}
	var out []amqp.Delivery
	deadline := time.Now().Add(timeout)
	for len(out) < want && time.Now().Before(deadline) {
		d, ok, err := ch.Get(queue, true)
		if err != nil {
			e.t.Fatalf("get %s: %v", queue, err)
		}
		if !ok {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		out = append(out, d)
	}
	return out
}

func uniq(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1_000_000_000)
}

// declareRadialQueue creates Radial's status queue on Radial's side, as it
// exists in production before any worker starts.
func declareRadialQueue(t *testing.T, url string) {
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatalf("dial radial vhost: %v", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(statusQueue, true, false, false, false, nil); err != nil {
		t.Fatalf("declare radial status queue: %v", err)
	}
}

// others builds the Paysafe, Frisbii and Miva sandboxes.
func (e *env) others(t *testing.T) {
	var err error
	if e.paysafe, err = paysafe.NewSandbox(paysafe.Config{Prefix: "/paysafe", Username: paysafeUser, Password: paysafePass,
		BatchInterval: -1}); err != nil {
		t.Fatalf("paysafe sandbox: %v", err)
	}
	if e.frisbii, err = frisbii.NewSandbox(frisbii.Config{Prefix: "/frisbii", APIKey: frisbiiKey}); err != nil {
		t.Fatalf("frisbii sandbox: %v", err)
	}
	if e.miva, err = miva.NewSandbox(miva.Config{Prefix: "/miva", APIToken: mivaToken, StoreCode: mivaStore}); err != nil {
		t.Fatalf("miva sandbox: %v", err)
	}
}
