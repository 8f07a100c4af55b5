package config_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/config"
	"github.com/settlement-worker/settlement-worker/intake"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/all"
	"github.com/settlement-worker/settlement-worker/providers/frisbii"
	"github.com/settlement-worker/settlement-worker/providers/miva"
	"github.com/settlement-worker/settlement-worker/providers/paysafe"
	"github.com/settlement-worker/settlement-worker/providers/radial"
	"github.com/settlement-worker/settlement-worker/webhook"
)

// allVars are the environment variables the worker documents.
var allVars = []string{
	"AMQP_URL", "AMQP_TLS_CA_FILE", "AMQP_TLS_CERT_FILE", "AMQP_TLS_KEY_FILE", "AMQP_REFUSED_GRACE", "PROVIDERS", "QUEUE_TYPE", "STATUS_QUEUES", "CONCURRENCY", "PREFETCH",
	"RETRY_DELAYS", "MAX_ATTEMPTS", "DELIVERY_LIMIT", "ORDER_LOCK_WAIT", "MAX_REQUEST_BYTES", "STORE_DSN", "STORE_POOL_SIZE", "STORE_OUTAGE_HOLD", "STORE_OUTAGE_BACKOFF", "STORE_ENCRYPTION_KEY", "STORE_ENCRYPTION_OLD_KEYS", "SHUTDOWN_TIMEOUT",
	"HTTP_ADDR", "PPROF_ADDR", "LOG_LEVEL",
	"RADIAL_BASE_URL", "RADIAL_API_KEY", "RADIAL_API_VERSION", "RADIAL_TIMEOUT", "RADIAL_SETTLE_WINDOW", "RADIAL_STATUS_DEADLINE",
	"RADIAL_AMQP_URL", "RADIAL_STATUS_QUEUE", "RADIAL_STATUS_RETRY_RUNS", "RADIAL_STATUS_RETRY_FOR", "RADIAL_STATUS_CONCURRENCY",
	"PENDING_DEADLINE", "SWEEP_INTERVAL", "SWEEP_TIMEOUT", "STUCK_AFTER", "BODY_RETENTION", "OUTBOX_RELAY_AFTER", "CONFIG_ALLOW_UNKNOWN",
	"PAYSAFE_BASE_URL", "PAYSAFE_USERNAME", "PAYSAFE_PASSWORD", "PAYSAFE_ACCOUNTS", "PAYSAFE_CURRENCIES",
	"PAYSAFE_TIMEOUT", "PAYSAFE_SETTLE_WINDOW", "PAYSAFE_RECHECK_AFTER",
	"FRISBII_BASE_URL", "FRISBII_API_KEY", "FRISBII_TIMEOUT", "FRISBII_SETTLE_WINDOW", "FRISBII_REFUND_RECHECK", "FRISBII_KEY_LIFETIME",
	"MIVA_BASE_URL", "MIVA_STORE_CODE", "MIVA_API_TOKEN", "MIVA_SIGNING_KEY", "MIVA_CURRENCY", "MIVA_TIMEOUT", "MIVA_SETTLE_WINDOW",
	"INTAKE_ADDR", "INTAKE_MAX_BODY_BYTES", "INTAKE_READ_HEADER_TIMEOUT", "INTAKE_READ_TIMEOUT",
	"INTAKE_WRITE_TIMEOUT", "INTAKE_IDLE_TIMEOUT", "INTAKE_PUBLISH_TIMEOUT", "INTAKE_PUBLISH_CONCURRENCY", "INTAKE_MAX_IN_FLIGHT",
	"INTAKE_SHUTDOWN_TIMEOUT", "INTAKE_RETAILOPS_PATH", "INTAKE_RETAILOPS_AUTH_KEYS", "INTAKE_RADIAL_PATH",
	"INTAKE_RADIAL_PROVIDER", "INTAKE_RADIAL_API_KEYS", "INTAKE_RADIAL_BASIC_USER", "INTAKE_RADIAL_BASIC_PASSWORD",
	"INTAKE_RADIAL_MAX_BATCH", "INTAKE_RETAILOPS_CHANNELS", "INTAKE_RETAILOPS_MAX_ACCOUNTS",
	"WEBHOOK_AMQP_URL", "WEBHOOK_QUEUE", "WEBHOOK_BINDING_KEYS", "WEBHOOK_QUEUE_TYPE", "WEBHOOK_PARKED_QUEUE",
	"WEBHOOK_URL", "WEBHOOK_AUTH_MODE", "WEBHOOK_USERNAME", "WEBHOOK_PASSWORD", "WEBHOOK_USERNAME_HEADER",
	"WEBHOOK_PASSWORD_HEADER", "WEBHOOK_BATCH_SIZE", "WEBHOOK_BATCH_WAIT", "WEBHOOK_HTTP_TIMEOUT",
	"WEBHOOK_RETRY_INITIAL", "WEBHOOK_RETRY_MAX", "WEBHOOK_RECENT_IDS", "WEBHOOK_EVENTS_RELAYED",
	"SETTLEMENT_WORKER_CRASH_AT",
}

// cleanEnv unsets every variable the configuration reads (restored after
// the test), so that the developer's or CI's environment, e.g. the
// AMQP_URL and RADIAL_AMQP_URL exported by scripts/rabbitmq.sh, cannot leak in.
func cleanEnv(t *testing.T) {
	t.Helper()
	names := slices.Clone(allVars)
	for _, v := range config.Vars(all.Providers) {
		names = append(names, v.Name)
	}
	for _, n := range names {
		t.Setenv(n, "")
		if err := os.Unsetenv(n); err != nil {
			t.Fatal(err)
		}
	}
}

// setEnv sets pairs of name, value.
// expectLoad loads the configuration from base and env (NAME, VALUE
// pairs, after cleanEnv) and fails t unless Load succeeds (wantErr "") or
// fails with an error mentioning wantErr.
func expectLoad(t *testing.T, base, env []string, wantErr string) {
	t.Helper()
	cleanEnv(t)
	setEnv(t, base...)
	setEnv(t, env...)
	_, err := config.Load(all.Providers)
	switch {
	case wantErr == "" && err != nil:
		t.Fatalf("Load: %v", err)
	case wantErr != "" && err == nil:
		t.Fatalf("Load accepted it; want an error naming %q", wantErr)
	case wantErr != "" && !strings.Contains(err.Error(), wantErr):
		t.Fatalf("error %q does not name %q", err, wantErr)
	}
}

func setEnv(t *testing.T, kv ...string) {
	t.Helper()
	for i := 0; i+1 < len(kv); i += 2 {
		t.Setenv(kv[i], kv[i+1])
	}
}

// minimal is the least a radial deployment must set.
var minimal = []string{"RADIAL_BASE_URL", "http://127.0.0.1:8081/radial", "RADIAL_API_KEY", "k3y-s3cr3t-value",
	"RADIAL_STATUS_QUEUE", "q.Payments.Settlements.Status.radial"}

func TestLoadDefaults(t *testing.T) {
	cleanEnv(t)
	setEnv(t, minimal...)
	c, err := config.Load(all.Providers)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := config.Config{
		AMQPURL:            "amqp://guest:guest@127.0.0.1:5672/",
		AMQPRefusedGrace:   time.Minute,
		Providers:          []string{"radial"},
		QueueType:          "quorum",
		StatusQueues:       []string{"q.Payments.Settlements.Status.guest=settlement.status.#"},
		Concurrency:        16,
		Prefetch:           1,
		RetryDelays:        []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute},
		MaxAttempts:        6,
		DeliveryLimit:      20,
		OrderLockWait:      250 * time.Millisecond,
		MaxRequestBytes:    1 << 20,
		StoreDSN:           "sqlite:settlement-worker.db",
		StorePoolSize:      8,
		StoreOutageHold:    10 * time.Minute,
		StoreOutageBackoff: 5 * time.Second,
		ShutdownTimeout:    30 * time.Second,
		HTTPAddr:           "127.0.0.1:9090",
		PprofAddr:          "off",
		LogLevel:           "info",
		PendingDeadline:    72 * time.Hour,
		SweepInterval:      30 * time.Second,
		SweepTimeout:       5 * time.Minute,
		StuckAfter:         time.Hour,
		BodyRetention:      2160 * time.Hour,
		OutboxRelayAfter:   time.Minute,
	}
	wantSections := map[string]providers.Section{
		"radial": &radial.Config{
			BaseURL:           "http://127.0.0.1:8081/radial",
			APIKey:            "k3y-s3cr3t-value",
			Version:           "v1.0",
			Timeout:           10 * time.Second,
			SettleWindow:      time.Minute,
			StatusDeadline:    24 * time.Hour,
			AMQPURL:           "amqp://guest:guest@127.0.0.1:5672/",
			StatusQueue:       "q.Payments.Settlements.Status.radial",
			StatusRetryRuns:   40,
			StatusRetryFor:    10 * time.Minute,
			StatusConcurrency: 16,
		},
		"paysafe": &paysafe.Config{Timeout: 10 * time.Second, SettleWindow: time.Minute, RecheckAfter: 30 * time.Second},
		"frisbii": &frisbii.Config{Timeout: 10 * time.Second, SettleWindow: time.Minute, RefundRecheck: 30 * time.Second, KeyLifetime: 24 * time.Hour},
		"miva":    &miva.Config{Currency: "USD", Timeout: 10 * time.Second, SettleWindow: time.Minute},
	}
	if !reflect.DeepEqual(c.Sections, wantSections) {
		t.Errorf("provider sections:\n got %+v\nwant %+v", c.Sections, wantSections)
	}
	want.Sections = c.Sections
	want.Intake.Addr = "off"
	want.Intake.ApplyDefaults()
	want.Intake.RetailOPS.Channels, _ = intake.ParseChannels("")
	want.Webhook = webhook.Config{AMQPURL: want.AMQPURL, QueueType: "quorum"}
	want.Webhook.ApplyDefaults()
	if !reflect.DeepEqual(c.Registry().Names(), all.Providers.Names()) {
		t.Errorf("Registry = %v", c.Registry().Names())
	}
	c = config.WithoutRegistry(c)
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load with a clean environment:\n got %+v\nwant %+v", c, want)
	}
	if !c.Enabled("radial") || c.Enabled("paysafe") {
		t.Errorf("Enabled: radial %v, paysafe %v", c.Enabled("radial"), c.Enabled("paysafe"))
	}
	if got := c.StatusQueueBindings(); !reflect.DeepEqual(got, []broker.StatusQueue{{Name: "q.Payments.Settlements.Status.guest", BindingKey: "settlement.status.#"}}) {
		t.Errorf("StatusQueueBindings = %+v", got)
	}
}

// SWEEP_TIMEOUT follows SWEEP_INTERVAL unless it is set: 10 rounds'
// time, at least MinSweepTimeout.
func TestSweepTimeoutDefaultsToTenIntervals(t *testing.T) {
	for _, c := range []struct {
		env  []string
		want time.Duration
	}{
		{nil, 5 * time.Minute},
		{[]string{"SWEEP_INTERVAL", "2s"}, 20 * time.Second},
		{[]string{"SWEEP_INTERVAL", "50ms", "STUCK_AFTER", "1h"}, config.MinSweepTimeout},
		{[]string{"SWEEP_INTERVAL", "2s", "SWEEP_TIMEOUT", "0s"}, 20 * time.Second},
		{[]string{"SWEEP_INTERVAL", "2s", "SWEEP_TIMEOUT", "3s"}, 3 * time.Second},
	} {
		cleanEnv(t)
		setEnv(t, minimal...)
		setEnv(t, c.env...)
		cfg, err := config.Load(all.Providers)
		if err != nil {
			t.Fatalf("Load %v: %v", c.env, err)
		}
		if cfg.SweepTimeout != c.want {
			t.Errorf("Load %v: SweepTimeout %s, want %s", c.env, cfg.SweepTimeout, c.want)
		}
	}
}

// TestLoadEmptyVariablesMeanDefault: an empty variable is the same as an
// unset one (so "HTTP_ADDR=" does not disable the HTTP server: "off" does).
func TestLoadEmptyVariablesMeanDefault(t *testing.T) {
	cleanEnv(t)
	setEnv(t, minimal...)
	for _, n := range []string{"CONCURRENCY", "RETRY_DELAYS", "HTTP_ADDR", "QUEUE_TYPE", "RADIAL_TIMEOUT"} {
		t.Setenv(n, "")
	}
	c, err := config.Load(all.Providers)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Concurrency != 16 || len(c.RetryDelays) != 5 || c.HTTPAddr != "127.0.0.1:9090" || c.QueueType != "quorum" || radialOf(c).Timeout != 10*time.Second {
		t.Errorf("empty variables did not fall back to defaults: %+v", c)
	}
	t.Setenv("HTTP_ADDR", "off")
	if c, err := config.Load(all.Providers); err != nil || c.HTTPAddr != "off" {
		t.Errorf("HTTP_ADDR=off: %q, %v", c.HTTPAddr, err)
	}
}

func TestLoadDerivedFromAMQPUser(t *testing.T) {
	cases := []struct {
		name             string
		env              []string
		wantRadialURL    string
		wantRadialQueue  string
		wantStatusQueues []string
	}{
		{
			name:             "user of AMQP_URL",
			env:              []string{"AMQP_URL", "amqp://alice:pw@broker:5672/payments"},
			wantRadialURL:    "amqp://alice:pw@broker:5672/payments",
			wantRadialQueue:  "q.Payments.Settlements.Status.radial", // ours would collide: named
			wantStatusQueues: []string{"q.Payments.Settlements.Status.alice=settlement.status.#"},
		},
		{
			name:             "no user in AMQP_URL: guest",
			env:              []string{"AMQP_URL", "amqp://broker/"},
			wantRadialURL:    "amqp://broker/",
			wantRadialQueue:  "q.Payments.Settlements.Status.radial",
			wantStatusQueues: []string{"q.Payments.Settlements.Status.guest=settlement.status.#"},
		},
		{
			name:             "RADIAL_AMQP_URL with its own user",
			env:              []string{"AMQP_URL", "amqps://alice:pw@broker/", "RADIAL_AMQP_URL", "amqps://radial-user:pw2@radial.example/radial", "RADIAL_STATUS_QUEUE", ""},
			wantRadialURL:    "amqps://radial-user:pw2@radial.example/radial",
			wantRadialQueue:  "q.Payments.Settlements.Status.radial-user",
			wantStatusQueues: []string{"q.Payments.Settlements.Status.alice=settlement.status.#"},
		},
		{
			name:             "explicit RADIAL_STATUS_QUEUE and STATUS_QUEUES win",
			env:              []string{"AMQP_URL", "amqp://alice:pw@broker/", "RADIAL_STATUS_QUEUE", "q.radial.custom", "STATUS_QUEUES", "q.a=settlement.status.S1,q.b"},
			wantRadialURL:    "amqp://alice:pw@broker/",
			wantRadialQueue:  "q.radial.custom",
			wantStatusQueues: []string{"q.a=settlement.status.S1", "q.b"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			setEnv(t, minimal...)
			setEnv(t, tc.env...)
			c, err := config.Load(all.Providers)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if radialOf(c).AMQPURL != tc.wantRadialURL {
				t.Errorf("RADIAL_AMQP_URL = %q, want %q", radialOf(c).AMQPURL, tc.wantRadialURL)
			}
			if radialOf(c).StatusQueue != tc.wantRadialQueue {
				t.Errorf("RADIAL_STATUS_QUEUE = %q, want %q", radialOf(c).StatusQueue, tc.wantRadialQueue)
			}
			if !reflect.DeepEqual(c.StatusQueues, tc.wantStatusQueues) {
				t.Errorf("STATUS_QUEUES = %q, want %q", c.StatusQueues, tc.wantStatusQueues)
			}
		})
	}
}

// PROVIDERS is trimmed, case-insensitive, and ignores empty entries and
// repeats.
func TestProvidersAreForgiving(t *testing.T) {
	cleanEnv(t)
	setEnv(t, minimal...)
	setEnv(t, "PROVIDERS", " Radial, ,RADIAL,", "")
	c, err := config.Load(all.Providers)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Providers, []string{"radial"}) {
		t.Errorf("Providers = %q, want [radial]", c.Providers)
	}
	t.Setenv("PROVIDERS", " , ")
	if _, err := config.Load(all.Providers); err == nil || !strings.Contains(err.Error(), "PROVIDERS: name at least one provider") {
		t.Errorf("PROVIDERS of blanks: %v", err)
	}
}

func TestStatusQueueBindings(t *testing.T) {
	c := config.Config{StatusQueues: []string{"q.a=settlement.status.S1", " q.b ", "q.c = settlement.status.* ", "q.d=a=b"}}
	want := []broker.StatusQueue{
		{Name: "q.a", BindingKey: "settlement.status.S1"},
		{Name: "q.b", BindingKey: "settlement.status.#"},
		{Name: "q.c", BindingKey: "settlement.status.*"},
		{Name: "q.d", BindingKey: "a=b"},
	}
	if got := c.StatusQueueBindings(); !reflect.DeepEqual(got, want) {
		t.Errorf("StatusQueueBindings = %+v, want %+v", got, want)
	}
}

// TestLoadValidationRules sets one bad variable at a time: Load must fail
// with a message that names the variable (and only then the problem).
func TestLoadValidationRules(t *testing.T) {
	cases := []struct {
		name    string
		env     []string
		wantVar string
		want    string // a further fragment of the message
	}{
		{"AMQP_URL not amqp", []string{"AMQP_URL", "http://broker:5672/"}, "AMQP_URL", "amqp:// or amqps://"},
		{"AMQP_URL without host", []string{"AMQP_URL", "amqp:///vhost"}, "AMQP_URL", "with a host"},
		{"AMQP_URL garbage", []string{"AMQP_URL", "::not a url::"}, "AMQP_URL", ""},
		{"PROVIDERS unknown", []string{"PROVIDERS", "radial,stripe"}, "PROVIDERS", `unknown provider "stripe"`},
		{"PAYSAFE_ACCOUNTS missing", []string{"PROVIDERS", "radial,paysafe", "PAYSAFE_BASE_URL", "http://p", "PAYSAFE_USERNAME", "u", "PAYSAFE_PASSWORD", "p"}, "PAYSAFE_ACCOUNTS", "at least one store"},
		{"FRISBII_API_KEY missing", []string{"PROVIDERS", "frisbii", "FRISBII_BASE_URL", "http://f"}, "FRISBII_API_KEY", "required"},
		{"MIVA_STORE_CODE missing", []string{"PROVIDERS", "miva", "MIVA_BASE_URL", "http://m/mm5/json.mvc", "MIVA_API_TOKEN", "t"}, "MIVA_STORE_CODE", "required"},
		{"PENDING_DEADLINE 0", []string{"PENDING_DEADLINE", "0s"}, "PENDING_DEADLINE", "positive"},
		{"QUEUE_TYPE", []string{"QUEUE_TYPE", "stream"}, "QUEUE_TYPE", `"stream"`},
		{"STATUS_QUEUES without name", []string{"STATUS_QUEUES", "=settlement.status.#"}, "STATUS_QUEUES", "name=binding.key"},
		{"STATUS_QUEUES without key", []string{"STATUS_QUEUES", "q.a="}, "STATUS_QUEUES", "name=binding.key"},
		{"CONCURRENCY 0", []string{"CONCURRENCY", "0"}, "CONCURRENCY", "between 1 and 1024"},
		{"CONCURRENCY too high", []string{"CONCURRENCY", "1025"}, "CONCURRENCY", "(got 1025)"},
		{"PREFETCH 0", []string{"PREFETCH", "0"}, "PREFETCH", "between 1 and 65535"},
		{"RETRY_DELAYS too short", []string{"RETRY_DELAYS", "1s,5ms"}, "RETRY_DELAYS", "at least 10ms (got 5ms)"},
		{"RETRY_DELAYS zero", []string{"RETRY_DELAYS", "0s"}, "RETRY_DELAYS", "at least 10ms"},
		{"RETRY_DELAYS negative", []string{"RETRY_DELAYS", "-1s"}, "RETRY_DELAYS", "at least 10ms"},
		{"MAX_ATTEMPTS 0", []string{"MAX_ATTEMPTS", "0"}, "MAX_ATTEMPTS", "at least 1"},
		{"DELIVERY_LIMIT negative", []string{"DELIVERY_LIMIT", "-1"}, "DELIVERY_LIMIT", "0 (off) or positive"},
		{"ORDER_LOCK_WAIT negative", []string{"ORDER_LOCK_WAIT", "-1s"}, "ORDER_LOCK_WAIT", "0 (wait without bound) or positive"},
		{"MAX_REQUEST_BYTES 0", []string{"MAX_REQUEST_BYTES", "0"}, "MAX_REQUEST_BYTES", "must be positive (got 0)"},
		{"MAX_REQUEST_BYTES negative", []string{"MAX_REQUEST_BYTES", "-1"}, "MAX_REQUEST_BYTES", "must be positive"},
		{"STORE_DSN blank", []string{"STORE_DSN", "   "}, "STORE_DSN", "is required"},
		{"STORE_POOL_SIZE 0", []string{"STORE_POOL_SIZE", "0"}, "STORE_POOL_SIZE", "between 1 and 1024 (got 0)"},
		{"STORE_OUTAGE_HOLD past consumer_timeout", []string{"STORE_OUTAGE_HOLD", "31m"}, "STORE_OUTAGE_HOLD", "between 0 (hold none) and 25m"},
		{"STORE_OUTAGE_BACKOFF 0", []string{"STORE_OUTAGE_BACKOFF", "0s"}, "STORE_OUTAGE_BACKOFF", "must be positive"},
		{"SHUTDOWN_TIMEOUT zero", []string{"SHUTDOWN_TIMEOUT", "0s"}, "SHUTDOWN_TIMEOUT", "must be positive"},
		{"SWEEP_TIMEOUT below a second", []string{"SWEEP_TIMEOUT", "999ms"}, "SWEEP_TIMEOUT", "(got 999ms)"},
		{"SWEEP_TIMEOUT negative", []string{"SWEEP_TIMEOUT", "-1m"}, "SWEEP_TIMEOUT", "(got -1m0s)"},
		{"OUTBOX_RELAY_AFTER zero", []string{"OUTBOX_RELAY_AFTER", "0s"}, "OUTBOX_RELAY_AFTER", "at least 1s"},
		{"OUTBOX_RELAY_AFTER below the mark delay margin", []string{"OUTBOX_RELAY_AFTER", "999ms"}, "OUTBOX_RELAY_AFTER", "(got 999ms)"},
		{"SHUTDOWN_TIMEOUT negative", []string{"SHUTDOWN_TIMEOUT", "-5s"}, "SHUTDOWN_TIMEOUT", "must be positive"},
		{"LOG_LEVEL", []string{"LOG_LEVEL", "trace"}, "LOG_LEVEL", `"trace"`},
		{"HTTP_ADDR without port", []string{"HTTP_ADDR", "localhost"}, "HTTP_ADDR", "host:port"},
		{"PPROF_ADDR without port", []string{"PPROF_ADDR", "0.0.0.0"}, "PPROF_ADDR", "host:port"},
		{"STORE_ENCRYPTION_KEY short", []string{"STORE_ENCRYPTION_KEY", "c2hvcnQ="}, "STORE_ENCRYPTION_KEY", "32 random bytes"},
		{"AMQP_TLS_CA_FILE missing", []string{"AMQP_TLS_CA_FILE", "/nonexistent/ca.pem"}, "AMQP_TLS_CA_FILE", "CA file"},
		{"AMQP_TLS_CERT_FILE without key", []string{"AMQP_TLS_CERT_FILE", "/nonexistent/c.pem"}, "AMQP_TLS_CA_FILE", "both"},
		{"PPROF_ADDR on HTTP_ADDR", []string{"PPROF_ADDR", "127.0.0.1:9090"}, "PPROF_ADDR", "must differ"},
		{"SETTLEMENT_WORKER_CRASH_AT", []string{"SETTLEMENT_WORKER_CRASH_AT", "before_breakfast"}, "SETTLEMENT_WORKER_CRASH_AT", `"before_breakfast"`},
		{"RADIAL_BASE_URL missing", []string{"RADIAL_BASE_URL", ""}, "RADIAL_BASE_URL", "is required"},
		{"RADIAL_BASE_URL not http", []string{"RADIAL_BASE_URL", "ftp://radial.example/"}, "RADIAL_BASE_URL", "http(s)"},
		{"RADIAL_BASE_URL without scheme", []string{"RADIAL_BASE_URL", "radial.example/api"}, "RADIAL_BASE_URL", "http(s)"},
		{"RADIAL_BASE_URL without host", []string{"RADIAL_BASE_URL", "https://"}, "RADIAL_BASE_URL", "http(s)"},
		{"RADIAL_API_KEY missing", []string{"RADIAL_API_KEY", ""}, "RADIAL_API_KEY", "is required"},
		{"RADIAL_TIMEOUT negative", []string{"RADIAL_TIMEOUT", "-1s"}, "RADIAL_TIMEOUT", "must be positive"},
		{"RADIAL_SETTLE_WINDOW shorter than the timeout", []string{"RADIAL_SETTLE_WINDOW", "5s"}, "RADIAL_SETTLE_WINDOW", "at least RADIAL_TIMEOUT"},
		{"MIVA_CURRENCY not a currency", []string{"PROVIDERS", "miva", "MIVA_BASE_URL", "http://m/mm5/json.mvc", "MIVA_API_TOKEN", "t", "MIVA_STORE_CODE", "s", "MIVA_CURRENCY", "dollars"}, "MIVA_CURRENCY", "ISO 4217"},
		{"MIVA_SETTLE_WINDOW shorter than the timeout", []string{"PROVIDERS", "miva", "MIVA_BASE_URL", "http://m/mm5/json.mvc", "MIVA_API_TOKEN", "t", "MIVA_STORE_CODE", "s", "MIVA_SETTLE_WINDOW", "1s"}, "MIVA_SETTLE_WINDOW", "at least MIVA_TIMEOUT"},
		{"RADIAL_AMQP_URL not amqp", []string{"RADIAL_AMQP_URL", "https://radial.example/"}, "RADIAL_AMQP_URL", "amqp:// or amqps://"},
		{"RADIAL_STATUS_CONCURRENCY 0", []string{"RADIAL_STATUS_CONCURRENCY", "0"}, "RADIAL_STATUS_CONCURRENCY", "between 1 and 65535"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			setEnv(t, minimal...)
			setEnv(t, tc.env...)
			_, err := config.Load(all.Providers)
			if err == nil {
				t.Fatalf("Load accepted %v", tc.env)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.wantVar+":") {
				t.Errorf("error does not name %s:\n%s", tc.wantVar, msg)
			}
			if tc.want != "" && !strings.Contains(msg, tc.want) {
				t.Errorf("error does not say %q:\n%s", tc.want, msg)
			}
			// One problem, one line (a bad AMQP_URL is RADIAL_AMQP_URL's default too).
			lines := problemLines(msg)
			if tc.wantVar != "AMQP_URL" && len(lines) != 1 {
				t.Errorf("want exactly one problem, got %d:\n%s", len(lines), msg)
			}
			if strings.Contains(msg, "k3y-s3cr3t-value") {
				t.Errorf("error reveals RADIAL_API_KEY:\n%s", msg)
			}
		})
	}
}

// problemLines returns the lines of a Validate error after its heading.
func problemLines(msg string) []string {
	var out []string
	for i, l := range strings.Split(msg, "\n") {
		if i == 0 || strings.TrimSpace(l) == "" {
			continue
		}
		out = append(out, strings.TrimSpace(l))
	}
	return out
}

// TestValidateRules covers what the environment cannot express.
func TestValidateRules(t *testing.T) {
	valid := func() config.Config {
		cleanEnv(t)
		setEnv(t, minimal...)
		setEnv(t, "QUEUE_TYPE", "classic", "STATUS_QUEUES", "q.s=settlement.status.#", "CONCURRENCY", "1", "RETRY_DELAYS", "10ms",
			"MAX_ATTEMPTS", "1", "DELIVERY_LIMIT", "0", "MAX_REQUEST_BYTES", "1", "STORE_DSN", "sqlite:x.db", "SHUTDOWN_TIMEOUT", "1s", "LOG_LEVEL", "debug",
			"SETTLEMENT_WORKER_CRASH_AT", "after_status_publish", "PENDING_DEADLINE", "1s", "SWEEP_INTERVAL", "1s", "STUCK_AFTER", "3s",
			"OUTBOX_RELAY_AFTER", "1s", "RADIAL_TIMEOUT", "1s", "RADIAL_SETTLE_WINDOW", "1s", "RADIAL_AMQP_URL", "amqps://u:p@radial.example/",
			"RADIAL_STATUS_QUEUE", "q.st", "RADIAL_STATUS_CONCURRENCY", "1", "RADIAL_STATUS_RETRY_RUNS", "1", "RADIAL_STATUS_RETRY_FOR", "1ns")
		c, err := config.Load(all.Providers)
		if err != nil {
			t.Fatalf("boundary values rejected: %v", err)
		}
		return c
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("boundary values rejected: %v", err)
	}
	cases := []struct {
		name    string
		mutate  func(*config.Config)
		wantVar string
	}{
		{"no providers", func(c *config.Config) { c.Providers = nil }, "PROVIDERS"},
		{"no retry delays", func(c *config.Config) { c.RetryDelays = nil }, "RETRY_DELAYS"},
		{"no radial status queue", func(c *config.Config) { radialOf(*c).StatusQueue = "" }, "RADIAL_STATUS_QUEUE"},
		{"radial timeout negative", func(c *config.Config) { radialOf(*c).Timeout = -time.Second }, "RADIAL_TIMEOUT"},
		{"radial settle window shorter than the timeout", func(c *config.Config) { radialOf(*c).SettleWindow = time.Second - 1 }, "RADIAL_SETTLE_WINDOW"},
		{"stuck deadline within a retry delay and settle window", func(c *config.Config) { c.StuckAfter = time.Second }, "STUCK_AFTER"},
		{"sweep interval negative", func(c *config.Config) { c.SweepInterval = -time.Second }, "SWEEP_INTERVAL"},
		{"radial status deadline negative", func(c *config.Config) { radialOf(*c).StatusDeadline = -time.Second }, "RADIAL_STATUS_DEADLINE"},
		{"radial status retry runs zero", func(c *config.Config) { radialOf(*c).StatusRetryRuns = 0 }, "RADIAL_STATUS_RETRY_RUNS"},
		{"radial status retry runs negative", func(c *config.Config) { radialOf(*c).StatusRetryRuns = -1 }, "RADIAL_STATUS_RETRY_RUNS"},
		{"radial status retry time zero", func(c *config.Config) { radialOf(*c).StatusRetryFor = 0 }, "RADIAL_STATUS_RETRY_FOR"},
		{"radial status retry time negative", func(c *config.Config) { radialOf(*c).StatusRetryFor = -time.Second }, "RADIAL_STATUS_RETRY_FOR"},
		{"radial status concurrency negative", func(c *config.Config) { radialOf(*c).StatusConcurrency = -1 }, "RADIAL_STATUS_CONCURRENCY"},
		{"empty queue type", func(c *config.Config) { c.QueueType = "" }, "QUEUE_TYPE"},
		{"empty log level", func(c *config.Config) { c.LogLevel = "" }, "LOG_LEVEL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.wantVar+":") {
				t.Fatalf("Validate = %v, want an error naming %s", err, tc.wantVar)
			}
		})
	}
	t.Run("radial settings ignored when radial is disabled", func(t *testing.T) {
		c := valid()
		c.Providers = []string{}
		*radialOf(c) = radial.Config{}
		err := c.Validate()
		if err == nil || strings.Contains(err.Error(), "RADIAL_") {
			t.Errorf("Validate = %v, want only the PROVIDERS problem", err)
		}
	})
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	cleanEnv(t)
	setEnv(t, "RADIAL_BASE_URL", "http://radial.example/", "RADIAL_STATUS_QUEUE", "q.radial",
		"CONCURRENCY", "0", "PREFETCH", "0", "LOG_LEVEL", "loud", "QUEUE_TYPE", "lazy", "RETRY_DELAYS", "1ms")
	_, err := config.Load(all.Providers)
	if err == nil {
		t.Fatal("Load accepted a broken configuration")
	}
	msg := err.Error()
	for _, v := range []string{"CONCURRENCY", "PREFETCH", "LOG_LEVEL", "QUEUE_TYPE", "RETRY_DELAYS", "RADIAL_API_KEY"} {
		if !strings.Contains(msg, v+":") {
			t.Errorf("error does not report %s:\n%s", v, msg)
		}
	}
	if got := len(problemLines(msg)); got != 6 {
		t.Errorf("%d problems reported, want 6:\n%s", got, msg)
	}
	if !strings.HasPrefix(msg, "invalid configuration:") {
		t.Errorf("error does not start with its heading:\n%s", msg)
	}
}

// TestLoadParseErrorsNameTheVariable: a value that cannot even be parsed
// ("CONCURRENCY=many") must be reported, like every other configuration
// problem, under the name of the environment variable to fix, not the Go
// field name.
func TestLoadParseErrorsNameTheVariable(t *testing.T) {
	cases := []struct{ name, value string }{
		{"CONCURRENCY", "many"},
		{"RETRY_DELAYS", "1s,5"},
		{"SHUTDOWN_TIMEOUT", "30"},
		{"RADIAL_TIMEOUT", "soon"},
		{"RADIAL_STATUS_CONCURRENCY", "4.5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			setEnv(t, minimal...)
			t.Setenv(tc.name, tc.value)
			_, err := config.Load(all.Providers)
			if err == nil {
				t.Fatalf("Load accepted %s=%q", tc.name, tc.value)
			}
			if !strings.Contains(err.Error(), tc.name) {
				t.Errorf("%s=%q: error does not name the variable: %v", tc.name, tc.value, err)
			}
		})
	}
}

// TestValidationNeverEchoesSecrets: URLs are shown in errors so that a typo
// can be spotted, but never with their password.
func TestValidationNeverEchoesSecrets(t *testing.T) {
	const pw = "pa55w0rd-xyz"
	cases := []struct{ name, value string }{
		{"AMQP_URL", "http://user:" + pw + "@broker/"},
		{"RADIAL_AMQP_URL", "https://user:" + pw + "@radial.example/"},
		{"RADIAL_BASE_URL", "ftp://user:" + pw + "@radial.example/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			setEnv(t, minimal...)
			t.Setenv(tc.name, tc.value)
			_, err := config.Load(all.Providers)
			if err == nil || !strings.Contains(err.Error(), tc.name+":") {
				t.Fatalf("Load = %v, want an error naming %s", err, tc.name)
			}
			if strings.Contains(err.Error(), pw) {
				t.Errorf("error shows the password of %s:\n%s", tc.name, err)
			}
		})
	}
}

func TestPrintHelp(t *testing.T) {
	cleanEnv(t)
	const secret = "sup3r-s3cret-api-key"
	setEnv(t, "RADIAL_API_KEY", secret, "AMQP_URL", "amqp://u:hunter2-pw@broker/")
	var b bytes.Buffer
	config.PrintHelp(&b, all.Providers)
	out := b.String()
	if strings.Contains(out, secret) || strings.Contains(out, "hunter2-pw") {
		t.Errorf("help prints a value from the environment:\n%s", out)
	}
	lines := strings.Split(out, "\n")
	for _, name := range allVars {
		found := false
		for _, l := range lines {
			f := strings.Fields(l)
			found = found || len(f) > 0 && f[0] == name
		}
		if !found {
			t.Errorf("help does not list %s:\n%s", name, out)
		}
	}
	// Every variable the struct reads is documented, with its default.
	vars := config.Vars(all.Providers)
	if len(vars) != len(allVars) {
		t.Errorf("Vars() lists %d variables, want %d: %+v", len(vars), len(allVars), vars)
	}
	for _, v := range vars {
		if !slices.Contains(allVars, v.Name) {
			t.Errorf("undocumented variable %s in Vars()", v.Name)
		}
		if strings.TrimSpace(v.Help) == "" {
			t.Errorf("%s has no help text", v.Name)
		}
		if v.Default != "" && !strings.Contains(out, v.Default) {
			t.Errorf("help does not show %s's default %q", v.Name, v.Default)
		}
		if v.Name == "RADIAL_API_KEY" && v.Default != "" {
			t.Errorf("RADIAL_API_KEY has a default %q", v.Default)
		}
	}
	md := config.MarkdownTable(all.Providers)
	for _, name := range allVars {
		if !strings.Contains(md, "`"+name+"`") {
			t.Errorf("Markdown table does not list %s", name)
		}
	}
	if strings.Contains(md, secret) {
		t.Error("Markdown table shows RADIAL_API_KEY's value")
	}
}

// TestVarsCoverStruct walks Config by reflection: every env tag appears in
// Vars, with its prefix.
func TestVarsCoverStruct(t *testing.T) {
	var walk func(rt reflect.Type, prefix string) []string
	walk = func(rt reflect.Type, prefix string) []string {
		var out []string
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			if p, ok := f.Tag.Lookup("envPrefix"); ok {
				out = append(out, walk(f.Type, prefix+p)...)
			} else if e := strings.Split(f.Tag.Get("env"), ",")[0]; e != "" && e != "-" {
				out = append(out, prefix+e)
			}
		}
		return out
	}
	var want []string
	for _, name := range walk(reflect.TypeOf(config.Config{}), "") {
		if name == "INTAKE_ADDR" { // the provider sections come before the intake's
			for _, r := range all.Providers {
				want = append(want, walk(reflect.TypeOf(r.NewSection()).Elem(), r.EnvPrefix)...)
			}
		}
		want = append(want, name)
	}
	var got []string
	for _, v := range config.Vars(all.Providers) {
		got = append(got, v.Name)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Vars() = %v, want %v", got, want)
	}
}

// Hole 9: Radial's status queue must never be one of the worker's own
// queues on the same broker and vhost, or the worker consumes its own
// status events in a loop.
func TestRadialStatusQueueIsNeverOurOwn(t *testing.T) {
	base := []string{"RADIAL_BASE_URL", "http://127.0.0.1:8081/radial", "RADIAL_API_KEY", "k"}
	cases := []struct {
		name    string
		env     []string
		wantErr string // "" when the configuration is valid
	}{
		{"defaults: Radial's queue would be on our broker", nil, "RADIAL_STATUS_QUEUE"},
		{"same broker, our own status queue named",
			[]string{"RADIAL_STATUS_QUEUE", "q.Payments.Settlements.Status.guest"}, "our own status queue"},
		{"same broker and vhost written differently, default name",
			[]string{"RADIAL_AMQP_URL", "amqp://guest:other@127.0.0.1/"}, "RADIAL_STATUS_QUEUE"},
		{"same broker, one of several STATUS_QUEUES",
			[]string{"STATUS_QUEUES", "q.a=settlement.status.S1,q.b", "RADIAL_STATUS_QUEUE", "q.b"}, "our own status queue"},
		{"same broker, the webhook queue",
			[]string{"RADIAL_STATUS_QUEUE", "q.Payments.Settlements.Status.webhook"}, "WEBHOOK_QUEUE"},
		{"same broker, another queue", []string{"RADIAL_STATUS_QUEUE", "q.radial.statuses"}, ""},
		{"Radial's own vhost, default name", []string{"RADIAL_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/radial"}, ""},
		{"Radial's own broker", []string{"RADIAL_AMQP_URL", "amqps://radial-user:pw@radial.example/"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { expectLoad(t, base, tc.env, tc.wantErr) })
	}
}

// radialOf is the radial section of c (shared: changes write through).
func radialOf(c config.Config) *radial.Config { return c.Sections["radial"].(*radial.Config) }

// Every variable V can be given as V_FILE (Docker and Kubernetes secrets):
// the file's content, one trailing newline dropped, is V's value.
func TestVariablesFromFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := write("radial_api_key", "k3y-from-a-file\n")
	amqpURL := write("amqp_url", "amqp://app:s3cret-from-file@broker:5672/payments")

	cleanEnv(t)
	setEnv(t, minimal...)
	t.Setenv("RADIAL_API_KEY", "")
	os.Unsetenv("RADIAL_API_KEY")
	setEnv(t, "RADIAL_API_KEY_FILE", key, "AMQP_URL_FILE", amqpURL)
	c, err := config.Load(all.Providers)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := radialOf(c).APIKey; got != "k3y-from-a-file" {
		t.Errorf("RADIAL_API_KEY from RADIAL_API_KEY_FILE = %q", got)
	}
	if c.AMQPURL != "amqp://app:s3cret-from-file@broker:5672/payments" {
		t.Errorf("AMQP_URL from AMQP_URL_FILE = %q", c.AMQPURL)
	}

	cases := []struct{ name, v, file, want string }{
		{"both set", "RADIAL_API_KEY", key, "set either RADIAL_API_KEY or RADIAL_API_KEY_FILE, not both"},
		{"unreadable", "", filepath.Join(dir, "missing"), "RADIAL_API_KEY_FILE: cannot read"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			setEnv(t, minimal...)
			if tc.v == "" {
				os.Unsetenv("RADIAL_API_KEY")
			}
			t.Setenv("RADIAL_API_KEY_FILE", tc.file)
			_, err := config.Load(all.Providers)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "k3y") {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}
