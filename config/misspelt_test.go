package config_test

import (
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/config"
	"github.com/settlement-worker/settlement-worker/providers/all"
)

// TestMisspeltVariablesAreRefused: a variable the worker does not read is
// ignored, so a misspelling of one it does read left that setting at its
// default without a word: STORE_DNS=postgres://… ran every replica on its
// own SQLite file, RADIAL_SETTLE_WINDOWS=10m reconciled after the default
// 1m, radial_api_key (lower case) or STATUS_QUEUE (for STATUS_QUEUES) were
// as if unset. A set variable within a typo of one the worker reads (or
// of its _FILE form) stops the worker at load, naming both and quoting no
// value; the environment's other variables (the system's, Go's, OTEL_*,
// Kubernetes' service variables, the deployment's secrets) are left alone.
func TestMisspeltVariablesAreRefused(t *testing.T) {
	const secret = "S3CRET-VALUE"
	for _, tc := range []struct {
		name, value string
		want        string // the variable meant; "" accepted
	}{
		{"STORE_DNS", "postgres://app:" + secret + "@db/settlements", "STORE_DSN"},
		{"RADIAL_APIKEY", secret, "RADIAL_API_KEY"},
		{"RADIAL_SETTLE_WINDOWS", "10m", "RADIAL_SETTLE_WINDOW"},
		{"radial_settle_window", "10m", "RADIAL_SETTLE_WINDOW"},
		{"STATUS_QUEUE", "q.orders=settlement.status.#", "STATUS_QUEUES"},
		{"CONCURENCY", "64", "CONCURRENCY"},
		{"STORE_ENCRYPTION_KYE", secret, "STORE_ENCRYPTION_KEY"},
		{"RADIAL_API_KEY_FIEL", "/run/secrets/radial_api_key", "RADIAL_API_KEY_FILE"},
		{"PAYSAFE_ACOUNTS", "S1=1001", "PAYSAFE_ACCOUNTS"},
		{"WEBHOOK_PASWORD", secret, "WEBHOOK_PASSWORD"},

		{"PATH", "/usr/bin", ""},
		{"HOSTNAME", "worker-1", ""},
		{"GOGC", "200", ""},
		{"GOMEMLIMIT", "1GiB", ""},
		{"HTTP_PROXY", "http://proxy:3128", ""},
		{"http_proxy", "http://proxy:3128", ""},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318", ""},
		{"KUBERNETES_SERVICE_HOST", "10.0.0.1", ""},
		{"RADIAL_PORT", "tcp://10.0.0.2:8081", ""},
		{"RADIAL_SERVICE_HOST", "10.0.0.2", ""},
		{"WEBHOOK_PORT", "tcp://10.0.0.3:80", ""},
		{"INTAKE_PORT", "tcp://10.0.0.4:80", ""},
		{"AMQP_PORT", "5672", ""},
		{"RABBITMQ_PASSWORD", secret, ""},
		{"POSTGRES_PASSWORD_FILE", "/run/secrets/postgres_password", ""},
		{"SANDBOX_RADIAL_API_KEY", secret, ""},
		{"STORE_TEST_POSTGRES_DSN", "postgres://x/y", ""},
		{"RADIAL_VHOST", "radial", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			setEnv(t, minimal...)
			setEnv(t, tc.name, tc.value)
			_, err := config.Load(all.Providers)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Load: %v", err)
			case tc.want == "":
				return
			case err == nil:
				t.Fatalf("Load accepted %s (meant %s?)", tc.name, tc.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.name+":") || !strings.Contains(msg, tc.want+"?") {
				t.Errorf("error does not name %s and ask for %s:\n%s", tc.name, tc.want, msg)
			}
			if strings.Contains(msg, secret) {
				t.Errorf("error shows the value:\n%s", msg)
			}
		})
	}
}

// TestMisspeltVariableAllowedByName: a deployment's platform may set a
// variable within a typo of one the worker reads (a STORE_DNS of its own,
// a CONCURENCY another program reads), and the worker refused to start
// with no way to say so. CONFIG_ALLOW_UNKNOWN lists exactly the names to
// leave alone: those start, any other misspelling is still refused, and a
// name listed that the worker does read (a list that would hide nothing,
// or hide a real setting's name by mistake) is refused.
func TestMisspeltVariableAllowedByName(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   []string
		want  string // "" accepted; else a text of the error
		wantN string // a text the error must not hold
	}{
		{"allowed", []string{"STORE_DNS", "x", "CONFIG_ALLOW_UNKNOWN", "STORE_DNS"}, "", ""},
		{"two allowed, spaces", []string{"STORE_DNS", "x", "CONCURENCY", "3", "CONFIG_ALLOW_UNKNOWN", " STORE_DNS , CONCURENCY "}, "", ""},
		{"another still refused", []string{"STORE_DNS", "x", "CONCURENCY", "3", "CONFIG_ALLOW_UNKNOWN", "STORE_DNS"}, "CONCURENCY: is set", "STORE_DNS: is set"},
		{"case matters", []string{"STORE_DNS", "x", "CONFIG_ALLOW_UNKNOWN", "store_dns"}, "STORE_DNS: is set", ""},
		{"a variable the worker reads", []string{"CONFIG_ALLOW_UNKNOWN", "STORE_DSN"}, "CONFIG_ALLOW_UNKNOWN: STORE_DSN is a variable the worker reads", ""},
		{"its _FILE form", []string{"CONFIG_ALLOW_UNKNOWN", "STORE_DSN_FILE"}, "CONFIG_ALLOW_UNKNOWN: STORE_DSN_FILE is a variable the worker reads", ""},
		{"blank entry", []string{"STORE_DNS", "x", "CONFIG_ALLOW_UNKNOWN", "STORE_DNS,,"}, "CONFIG_ALLOW_UNKNOWN: an empty name", ""},
		{"listed, not set", []string{"CONFIG_ALLOW_UNKNOWN", "STORE_DNS"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			setEnv(t, minimal...)
			setEnv(t, tc.env...)
			_, err := config.Load(all.Providers)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Load: %v", err)
			case tc.want == "":
				return
			case err == nil:
				t.Fatalf("Load accepted; want %q", tc.want)
			case !strings.Contains(err.Error(), tc.want):
				t.Fatalf("Load: %v; want %q", err, tc.want)
			case tc.wantN != "" && strings.Contains(err.Error(), tc.wantN):
				t.Fatalf("Load: %v; want no %q", err, tc.wantN)
			}
		})
	}
}
