package worker

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/config"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/all"
)

// The retry budget of Radial's status handler (a status whose every run
// fails while the store answers is parked after RetryRuns runs, or twice
// over RetryFor) was two constants of the handler: no setting reached it.
// RADIAL_STATUS_RETRY_RUNS and RADIAL_STATUS_RETRY_FOR now set it, through
// Radial's status source, on the handler the worker builds; unset, it is
// 40 runs and 10 minutes as before.
func TestStatusRetryBudgetIsConfigured(t *testing.T) {
	cases := []struct {
		name     string
		env      []string
		wantRuns int
		wantFor  time.Duration
	}{
		{"defaults", nil, 40, 10 * time.Minute},
		{"configured", []string{"RADIAL_STATUS_RETRY_RUNS", "3", "RADIAL_STATUS_RETRY_FOR", "90s"}, 3, 90 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := []string{"AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/", "PROVIDERS", "radial",
				"RADIAL_BASE_URL", "http://127.0.0.1:8081/radial", "RADIAL_API_KEY", "k3y", "RADIAL_STATUS_QUEUE", "q.radial.status",
				"STORE_DSN", "sqlite:" + filepath.Join(t.TempDir(), "w.db")}
			env = append(env, tc.env...)
			for i := 0; i+1 < len(env); i += 2 {
				t.Setenv(env[i], env[i+1])
			}
			cfg, err := config.Load(all.Providers)
			if err != nil {
				t.Fatal(err)
			}
			p, err := cfg.Sections["radial"].NewProvider(nil)
			if err != nil {
				t.Fatal(err)
			}
			src := p.(providers.StatusSourcer).StatusSource()
			h := statusHandler(cfg, "radial", src, zerolog.Nop())
			if h.RetryRuns != tc.wantRuns || h.RetryFor != tc.wantFor {
				t.Errorf("status handler's budget: %d runs, %s; want %d runs, %s", h.RetryRuns, h.RetryFor, tc.wantRuns, tc.wantFor)
			}
		})
	}
}
