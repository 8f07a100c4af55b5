package config_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/config"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/all"
)

// acmeSection is a fifth provider's configuration section, declared the
// way a provider folder declares it: nothing in package config knows it.
type acmeSection struct {
	BaseURL      string        `env:"BASE_URL" help:"Acme API base URL."`
	Timeout      time.Duration `env:"TIMEOUT" envDefault:"5s" help:"Timeout of each Acme call."`
	SettleWindow time.Duration `env:"SETTLE_WINDOW" envDefault:"30s" help:"How long Acme may take to commit a call."`
	// resolvedWith records the host Resolve was given.
	resolvedWith providers.Host
}

func (a *acmeSection) Resolve(h providers.Host) { a.resolvedWith = h }

func (a *acmeSection) Check(providers.Host) []error {
	var errs []error
	if a.BaseURL == "" {
		errs = append(errs, errors.New("BaseURL is required"))
	}
	if err := providers.CheckWindow(a.Timeout, a.SettleWindow); err != nil {
		errs = append(errs, err)
	}
	return errs
}

func (a *acmeSection) Facts() providers.Facts {
	return providers.Facts{CallTimeout: a.Timeout, SettleWindow: a.SettleWindow, Idempotent: true}
}

func (a *acmeSection) NewProvider(*http.Client) (providers.Provider, error) { return nil, nil }

var acme = providers.Registration{
	Name: "acme", EnvPrefix: "ACME_", Summary: "A provider added as one folder.",
	NewSection: func() providers.Section { return new(acmeSection) },
}

// TestRegistrationIsAllAProviderNeeds: a provider registered by value is
// read from its own variables, documented, validated (naming its
// variables) and sized into the sweeper's deadline check, with no change to
// package config.
func TestRegistrationIsAllAProviderNeeds(t *testing.T) {
	reg := append(slices.Clone(all.Providers), acme)
	cleanEnv(t)
	for _, n := range []string{"ACME_BASE_URL", "ACME_TIMEOUT", "ACME_SETTLE_WINDOW"} {
		t.Setenv(n, "")
	}
	setEnv(t, "PROVIDERS", "acme", "ACME_BASE_URL", "https://acme.example/", "ACME_SETTLE_WINDOW", "2m")

	c, err := config.Load(reg)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	sec := c.Sections["acme"].(*acmeSection)
	if sec.BaseURL != "https://acme.example/" || sec.Timeout != 5*time.Second || sec.SettleWindow != 2*time.Minute {
		t.Errorf("acme section = %+v", sec)
	}
	if sec.resolvedWith.AMQPURL != c.AMQPURL || !slices.Contains(sec.resolvedWith.OwnQueues, "q.Payments.Settlements.Status.guest") {
		t.Errorf("Resolve got host %+v, want the worker's broker and its own queues", sec.resolvedWith)
	}
	if f := c.Facts()["acme"]; f.SettleWindow != 2*time.Minute || !f.Idempotent {
		t.Errorf("Facts()[acme] = %+v", f)
	}
	if _, ok := c.Facts()["radial"]; ok {
		t.Error("Facts() lists radial, which is not enabled")
	}

	var names []string
	for _, v := range config.Vars(reg) {
		names = append(names, v.Name)
	}
	for _, n := range []string{"ACME_BASE_URL", "ACME_TIMEOUT", "ACME_SETTLE_WINDOW"} {
		if !slices.Contains(names, n) {
			t.Errorf("Vars does not document %s", n)
		}
	}
	if v := config.Vars(reg)[slices.Index(names, "PROVIDERS")]; !strings.Contains(v.Help, "acme") {
		t.Errorf("PROVIDERS help %q does not list acme", v.Help)
	}

	t.Setenv("ACME_BASE_URL", "")
	t.Setenv("ACME_SETTLE_WINDOW", "1s")
	_, err = config.Load(reg)
	for _, want := range []string{"ACME_BASE_URL: is required (PROVIDERS includes acme)", "ACME_SETTLE_WINDOW: must be at least ACME_TIMEOUT"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load = %v, want it to say %q", err, want)
		}
	}

	// A long settle window lengthens what STUCK_AFTER must exceed.
	setEnv(t, "ACME_BASE_URL", "https://acme.example/", "ACME_SETTLE_WINDOW", "2h")
	if _, err := config.Load(reg); err == nil || !strings.Contains(err.Error(), "STUCK_AFTER") {
		t.Errorf("Load with a 2h settle window = %v, want STUCK_AFTER refused", err)
	}
}
