package deployments

import (
	"os"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/config"
	"github.com/settlement-worker/settlement-worker/providers/all"
)

// TestComposeWorkerConfigIsComplete loads the worker's configuration from
// the environment the compose file gives each replica, as its entrypoint
// (deployments/secretenv) hands it over: every NAME_FILE read into NAME,
// ${NAME} filled in. It must load, and must seal request and status
// bodies at rest: they may hold raw card numbers (PaymentAccountUniqueId
// isToken="false"), and without STORE_ENCRYPTION_KEY both replicas wrote
// them in clear into the shared PostgreSQL (the worker only warned).
func TestComposeWorkerConfigIsComplete(t *testing.T) {
	w := service(t, mustLoad(t), "settlement-worker")
	for _, v := range config.Vars(all.Providers) {
		for _, n := range []string{v.Name, v.Name + "_FILE"} {
			t.Setenv(n, "")
			if err := os.Unsetenv(n); err != nil {
				t.Fatal(err)
			}
		}
	}
	for k := range w.Environment {
		if base, ok := strings.CutSuffix(k, "_FILE"); ok {
			t.Setenv(base, resolvedEnv(t, w, base))
			continue
		}
		t.Setenv(k, resolvedEnv(t, w, k))
	}
	cfg, err := config.Load(all.Providers)
	if err != nil {
		t.Fatalf("the compose file's worker configuration does not load:\n%v", err)
	}
	keys, err := cfg.StoreKeys()
	if err != nil || keys == nil {
		t.Errorf("the worker's bodies are not sealed at rest: STORE_ENCRYPTION_KEY (as STORE_ENCRYPTION_KEY_FILE, a secret) is %v", err)
	}
}

// TestComposeBrokerHasTheProjectsAdvancedConfig: the compose broker (both
// images) reads deployments/rabbitmq/advanced.config, whose
// dead_letter_worker_publisher_confirm_timeout bounds how long a retry or
// deferral held by the broker after its restart waits (3 minutes by
// default; see TestBrokerResendsHeldDeadLettersWithinSeconds in broker).
func TestComposeBrokerHasTheProjectsAdvancedConfig(t *testing.T) {
	r := service(t, mustLoad(t), "rabbitmq")
	found := false
	for _, v := range r.Volumes {
		if v.Target == "/etc/rabbitmq/advanced.config" {
			found = strings.HasSuffix(v.Source, "deployments/rabbitmq/advanced.config") && v.ReadOnly
		}
	}
	if !found {
		t.Errorf("the rabbitmq service mounts no deployments/rabbitmq/advanced.config read-only at /etc/rabbitmq/advanced.config: %+v", r.Volumes)
	}
	b, err := os.ReadFile("rabbitmq/advanced.config")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "{dead_letter_worker_publisher_confirm_timeout, 10000}") {
		t.Errorf("deployments/rabbitmq/advanced.config does not set dead_letter_worker_publisher_confirm_timeout to 10000:\n%s", b)
	}
}
