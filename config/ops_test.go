package config_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/config"
)

// The operator commands read the worker's variables with the worker's
// defaults.
func TestOpsTagsMatchConfig(t *testing.T) {
	ops := reflect.TypeFor[config.Ops]()
	cfg := reflect.TypeFor[config.Config]()
	for i := range ops.NumField() {
		f := ops.Field(i)
		g, ok := cfg.FieldByName(f.Name)
		if !ok {
			t.Errorf("Config has no field %s", f.Name)
			continue
		}
		if f.Type != g.Type || f.Tag.Get("env") != g.Tag.Get("env") || f.Tag.Get("envDefault") != g.Tag.Get("envDefault") {
			t.Errorf("Ops.%s (%s %q %q) differs from Config.%s (%s %q %q)", f.Name, f.Type, f.Tag.Get("env"), f.Tag.Get("envDefault"),
				g.Name, g.Type, g.Tag.Get("env"), g.Tag.Get("envDefault"))
		}
	}
}

func TestLoadOps(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		wantErr string
		check   func(config.Ops) bool
	}{
		{map[string]string{}, "", func(o config.Ops) bool {
			return o.AMQPURL == "amqp://guest:guest@127.0.0.1:5672/" && o.StoreDSN == "sqlite:settlement-worker.db" &&
				len(o.RetryDelays) == 5 && o.StuckAfter == time.Hour
		}},
		// Provider settings are neither needed nor read.
		{map[string]string{"PROVIDERS": "nosuch", "STORE_DSN": "postgres://x/y", "RETRY_DELAYS": "2s"}, "", func(o config.Ops) bool {
			return o.StoreDSN == "postgres://x/y" && len(o.RetryDelays) == 1 && o.RetryDelays[0] == 2*time.Second
		}},
		{map[string]string{"AMQP_URL": "http://u:s3cret@h/"}, "AMQP_URL", nil},
		{map[string]string{"STUCK_AFTER": "0s"}, "STUCK_AFTER", nil},
		{map[string]string{"RETRY_DELAYS": "soon"}, "RETRY_DELAYS", nil},
	} {
		cleanEnv(t)
		for k, v := range tc.env {
			t.Setenv(k, v)
		}
		o, err := config.LoadOps()
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("%v: error %v, want one naming %s (without the password)", tc.env, err, tc.wantErr)
			}
		case err != nil || !tc.check(o):
			t.Errorf("%v: LoadOps = %+v, %v", tc.env, o, err)
		}
	}
}
