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
