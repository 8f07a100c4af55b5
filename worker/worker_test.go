package worker_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/config"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/worker"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// fake is a provider that never moves money; the status source is set for
// the one that has a status queue.
type fake struct {
	name   string
	source *providers.StatusSource
}

func (f fake) Name() string { return f.name }
func (f fake) ConfirmFunds(context.Context, *providers.Request) (providers.ConfirmResult, error) {
	return providers.ConfirmResult{Available: true}, nil
}
func (f fake) Settle(context.Context, *providers.Request) (providers.Outcome, error) {
	return providers.Outcome{Kind: providers.Settled, Ref: "x"}, nil
}

type withStatus struct{ fake }

func (w withStatus) StatusSource() providers.StatusSource { return *w.source }

// section is a minimal configuration section for the fakes.
type section struct {
	Queue string `env:"STATUS_QUEUE" help:"test"`
	URL   string `env:"AMQP_URL" help:"test"`
	name  string
	url   string
}

func (s *section) Resolve(h providers.Host) {
	s.url = h.AMQPURL
	if s.URL != "" {
		s.url = s.URL
	}
}
func (s *section) Check(providers.Host) []error {
	return nil
}
func (s *section) Facts() providers.Facts { return providers.Facts{Idempotent: true} }
func (s *section) NewProvider(*http.Client) (providers.Provider, error) {
	f := fake{name: s.name}
	if s.Queue != "" {
		return withStatus{fake{name: s.name, source: &providers.StatusSource{AMQPURL: s.url, Queue: s.Queue, Concurrency: 1, URLSetting: "ACME_AMQP_URL"}}}, nil
	}
	return f, nil
}

func registry() providers.Registry {
	reg := func(name, prefix string) providers.Registration {
		return providers.Registration{Name: name, EnvPrefix: prefix, NewSection: func() providers.Section { return &section{name: name} }}
	}
	return providers.Registry{reg("acme", "ACME_"), reg("plain", "PLAIN_")}
}

// load configures a worker with the fakes on amqpURL; extra are more
// variables.
func load(t *testing.T, amqpURL string, extra ...string) (config.Config, map[string]providers.Provider) {
	t.Helper()
	env := []string{"AMQP_URL", amqpURL, "PROVIDERS", "acme,plain", "ACME_STATUS_QUEUE", "q.acme.status",
		"STORE_DSN", "sqlite:" + filepath.Join(t.TempDir(), "w.db"), "HTTP_ADDR", freeAddr(t), "PPROF_ADDR", "off",
		"QUEUE_TYPE", "classic", "SWEEP_INTERVAL", "1h", "CONCURRENCY", "1", "SHUTDOWN_TIMEOUT", "2s"}
	env = append(env, extra...)
	for i := 0; i+1 < len(env); i += 2 {
		t.Setenv(env[i], env[i+1])
	}
	cfg, err := config.Load(registry())
	if err != nil {
		t.Fatal(err)
	}
	clients := map[string]providers.Provider{}
	for _, name := range cfg.Providers {
		if clients[name], err = cfg.Sections[name].NewProvider(nil); err != nil {
			t.Fatal(err)
		}
	}
	return cfg, clients
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs the worker; the returned channel yields Run's result.
func start(t *testing.T, cfg config.Config, clients map[string]providers.Provider) (context.CancelFunc, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done, finished := make(chan error, 1), make(chan struct{})
	go func() {
		done <- worker.Run(ctx, cfg, worker.Deps{Providers: clients}, zerolog.Nop())
		close(finished)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(15 * time.Second):
			t.Error("worker did not stop")
		}
	})
	return cancel, done
}

func get(addr, path string) (int, string) {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// untilRunning waits, up to bound, until /readyz at addr says the store
// and the router are ok (the replica runs and consumes). Run ending
// meanwhile (done) fails the test with stopped (a format for Run's
// error); not running by then, with late.
func untilRunning(t *testing.T, addr string, done <-chan error, bound time.Duration, stopped, late string) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		select {
		case err := <-done:
			t.Fatalf(stopped, err)
		case <-time.After(100 * time.Millisecond):
		}
		if _, body := get(addr, "/readyz"); strings.Contains(body, "store: ok") && strings.Contains(body, "router: ok") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(late)
		}
	}
}

// waitFor polls until cond holds.
func waitFor(t *testing.T, what string, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	last := ""
	for time.Now().Before(deadline) {
		ok, s := cond()
		if ok {
			return
		}
		last = s
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s; last: %s", what, d, last)
}

// A missing provider status queue holds back nothing: /healthz and
// /metrics answer, the other provider's consumer runs, /readyz says what
// it waits for (503) until the queue appears, then 200.
func TestReadinessWaitsForStatusQueueWithoutHoldingBack(t *testing.T) {
	amqpURL := testenv.AMQPURL(t)
	cfg, clients := load(t, amqpURL)
	start(t, cfg, clients)

	waitFor(t, "router running while the status queue is missing", 30*time.Second, func() (bool, string) {
		code, body := get(cfg.HTTPAddr, "/readyz")
		return code == 503 && strings.Contains(body, "router: ok") && strings.Contains(body, "consumer plain: ok") &&
			strings.Contains(body, "acme status queue: down: waiting for q.acme.status"), body
	})
	if code, _ := get(cfg.HTTPAddr, "/healthz"); code != 200 {
		t.Errorf("/healthz = %d while a dependency is waited for", code)
	}
	if code, body := get(cfg.HTTPAddr, "/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics = %d", code)
	}
	// The backlog gauges and the counters start at zero for every enabled
	// provider; the request queues' consumers are the worker's.
	waitFor(t, "the backlog metrics", 30*time.Second, func() (bool, string) {
		_, body := get(cfg.HTTPAddr, "/metrics")
		for _, line := range []string{
			`settlement_metrics_source_up{source="store"} 1`,
			`settlement_metrics_source_up{source="broker"} 1`,
			`settlement_settlements{provider="plain",state="received"} 0`,
			`settlement_oldest_seconds{provider="acme",state="acknowledged"} 0`,
			`settlement_parked_settlements{provider="acme"} 0`,
			`settlement_queue_messages{provider="acme",queue="retry"} 0`,
			`settlement_queue_consumers{provider="acme",queue="request"} 1`,
			`settlement_queue_consumers{provider="plain",queue="request"} 1`,
			`settlement_outcomes_total{outcome="settled",provider="plain"} 0`,
			`settlement_retries_total{provider="acme"} 0`,
			`settlement_request_oldest_ready_seconds{provider="plain"} 0`,
			`settlement_request_wait_seconds_count{provider="plain"} 0`,
		} {
			if !strings.Contains(body, line+"\n") {
				return false, "missing " + line
			}
		}
		return true, ""
	})
	if code, _ := get(cfg.HTTPAddr, "/debug/pprof/"); code != 404 {
		t.Errorf("/debug/pprof/ on HTTP_ADDR = %d, want 404 (profiles only on PPROF_ADDR)", code)
	}

	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("q.acme.status", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ready once the status queue exists", 30*time.Second, func() (bool, string) {
		code, body := get(cfg.HTTPAddr, "/readyz")
		return code == 200 && strings.Contains(body, "acme status queue: ok"), body
	})

	// A request that cannot be read is parked: the outcome, the parked
	// queue's depth and the router's metrics show it; its wait in the
	// queue is measured from its AMQP timestamp.
	if err := ch.PublishWithContext(context.Background(), "", "q.Payments.Settlements.Request.plain", true, false,
		amqp.Publishing{MessageId: "junk-1", Body: []byte("not a request"), Timestamp: time.Now()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the parked request in the metrics", 30*time.Second, func() (bool, string) {
		_, body := get(cfg.HTTPAddr, "/metrics")
		for _, line := range []string{
			`settlement_outcomes_total{outcome="parked",provider="plain"} 1`,
			`settlement_queue_messages{provider="plain",queue="parked"} 1`,
			`settlement_router_handler_execution_time_seconds_count{handler_name="settle-plain",success="true"} 1`,
			`settlement_router_subscriber_messages_received_total{acked="acked",handler_name="settle-plain",subscriber_name="broker.ConcurrentSubscriber"} 1`,
			`settlement_request_wait_seconds_count{provider="plain"} 1`,
		} {
			if !strings.Contains(body, line+"\n") {
				var router []string
				for _, l := range strings.Split(body, "\n") {
					if strings.HasPrefix(l, "settlement_router_") && !strings.Contains(l, "_bucket") {
						router = append(router, l)
					}
				}
				return false, "missing " + line + "; have " + strings.Join(router, "; ")
			}
		}
		return true, ""
	})
}

// Failures that retrying cannot fix stop the worker with an error naming
// the setting to change.
func TestRunStopsOnWhatRetryingCannotFix(t *testing.T) {
	amqpURL := testenv.AMQPURL(t)
	u, err := url.Parse(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	wrongVhost := *u
	wrongVhost.Path = "/no-such-vhost"
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cases := []struct {
		name string
		env  []string
		want string
	}{
		{"HTTP_ADDR in use", []string{"HTTP_ADDR", busy.Addr().String()}, "HTTP_ADDR " + busy.Addr().String() + " cannot be served"},
		{"PPROF_ADDR in use", []string{"PPROF_ADDR", busy.Addr().String()}, "PPROF_ADDR"},
		// The intake not listening while the worker reported ready: its
		// clients (RetailOPS, Radial-format callers) were refused forever.
		{"INTAKE_ADDR in use", []string{"INTAKE_ADDR", busy.Addr().String(), "INTAKE_RETAILOPS_PATH", "off",
			"INTAKE_RADIAL_PROVIDER", "acme", "INTAKE_RADIAL_API_KEYS", "intake-key"}, "INTAKE_ADDR " + busy.Addr().String() + " cannot be served"},
		{"unknown vhost", []string{"AMQP_URL", wrongVhost.String(), "AMQP_REFUSED_GRACE", "0s"}, "check the user, password and vhost"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, clients := load(t, amqpURL, tc.env...)
			_, done := start(t, cfg, clients)
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.name == "unknown vhost" && !strings.HasPrefix(err.Error(), "AMQP_URL: ")) {
					t.Fatalf("Run = %v, want an error saying %q", err, tc.want)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the worker kept running")
			}
		})
	}
	t.Run("provider status broker refused", func(t *testing.T) {
		cfg, clients := load(t, amqpURL, "AMQP_REFUSED_GRACE", "0s")
		src := clients["acme"].(withStatus)
		src.source.AMQPURL = wrongVhost.String()
		_, done := start(t, cfg, clients)
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "ACME_AMQP_URL: ") {
				t.Fatalf("Run = %v, want an error naming ACME_AMQP_URL", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the worker kept running")
		}
	})
}

// PPROF_ADDR serves the profiles on their own address.
func TestPprofOnItsOwnAddress(t *testing.T) {
	pprofAddr := freeAddr(t)
	cfg, clients := load(t, testenv.AMQPURL(t), "PPROF_ADDR", pprofAddr)
	start(t, cfg, clients)
	waitFor(t, "pprof served", 30*time.Second, func() (bool, string) {
		code, body := get(pprofAddr, "/debug/pprof/")
		return code == 200, body
	})
	// Stop only once the consumers are subscribed: watermill-amqp v3.1.0
	// races (a bool read by Subscribe, written by its connection-close
	// handler) when its connection closes during Subscribe.
	waitFor(t, "consumers subscribed", 30*time.Second, func() (bool, string) {
		_, body := get(cfg.HTTPAddr, "/readyz")
		return strings.Contains(body, "router: ok") && strings.Contains(body, "consumer plain: ok"), body
	})
}
