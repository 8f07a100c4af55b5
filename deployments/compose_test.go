package deployments

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/settlement-worker/settlement-worker/config"
	"github.com/settlement-worker/settlement-worker/providers/all"
)

const composeFile = "docker-compose.yml"

// testEnv stands in for deployments/.env.
var testEnv = map[string]string{
	"RABBITMQ_USER":     "settlement",
	"RABBITMQ_PASSWORD": "rabbit-secret",
	"POSTGRES_PASSWORD": "pg-secret",
	"RADIAL_API_KEY":    "radial-key",
}

func envList(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

func loadProject(t *testing.T, env map[string]string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{composeFile},
		cli.WithWorkingDirectory("."),
		cli.WithEnv(envList(env)),
		cli.WithInterpolation(true),
		cli.WithResolvedPaths(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func mustLoad(t *testing.T) *types.Project {
	t.Helper()
	p, err := loadProject(t, testEnv)
	if err != nil {
		t.Fatalf("load %s: %v", composeFile, err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("service %s: %v", name, err)
	}
	return s
}

func env(t *testing.T, s types.ServiceConfig, name string) string {
	t.Helper()
	v, ok := s.Environment[name]
	if !ok || v == nil || *v == "" {
		t.Fatalf("service %s: environment %s is missing or empty", s.Name, name)
	}
	return *v
}

func TestComposeServices(t *testing.T) {
	p := mustLoad(t)
	want := []string{"postgres", "provider-sandbox", "rabbitmq", "rabbitmq-init", "settlement-worker"}
	if got := p.ServiceNames(); !slices.Equal(sorted(got), want) {
		t.Fatalf("services %v, want %v", sorted(got), want)
	}
	if img := service(t, p, "rabbitmq").Image; !strings.HasPrefix(img, "rabbitmq:3.13") || !strings.Contains(img, "management") {
		t.Errorf("rabbitmq image %q, want rabbitmq:3.13-management", img)
	}
	if img := service(t, p, "postgres").Image; img != "postgres:16" && !strings.HasPrefix(img, "postgres:16.") {
		t.Errorf("postgres image %q, want postgres:16", img)
	}
	for _, name := range []string{"settlement-worker", "provider-sandbox"} {
		s := service(t, p, name)
		if s.Build == nil {
			t.Fatalf("%s: no build section", name)
		}
		if s.Build.Target != name {
			t.Errorf("%s: build target %q, want %q", name, s.Build.Target, name)
		}
		df := s.Build.Dockerfile
		if !filepath.IsAbs(df) {
			df = filepath.Join(s.Build.Context, df)
		}
		if _, err := os.Stat(df); err != nil {
			t.Errorf("%s: Dockerfile: %v", name, err)
		}
		if _, err := os.Stat(filepath.Join(s.Build.Context, "go.mod")); err != nil {
			t.Errorf("%s: build context %s is not the module root: %v", name, s.Build.Context, err)
		}
	}
	w := service(t, p, "settlement-worker")
	if w.Deploy == nil || w.Deploy.Replicas == nil || *w.Deploy.Replicas != 2 {
		t.Errorf("settlement-worker: want deploy.replicas 2, got %+v", w.Deploy)
	}
	if w.ContainerName != "" {
		t.Errorf("settlement-worker: container_name %q prevents replicas", w.ContainerName)
	}
	if len(w.Ports) != 0 {
		t.Errorf("settlement-worker: published ports %v clash between replicas", w.Ports)
	}
}

func TestComposeHealthchecks(t *testing.T) {
	p := mustLoad(t)
	for _, name := range []string{"rabbitmq", "postgres", "provider-sandbox", "settlement-worker"} {
		s := service(t, p, name)
		hc := s.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) < 2 || hc.Test[0] == "NONE" {
			t.Errorf("%s: no usable healthcheck: %+v", name, hc)
			continue
		}
		if hc.Interval == nil || hc.Retries == nil {
			t.Errorf("%s: healthcheck needs interval and retries", name)
		}
	}
	// The distroless images have no shell: their healthchecks must be exec
	// form, running the healthcheck binary that the Dockerfile installs.
	for _, name := range []string{"provider-sandbox", "settlement-worker"} {
		hc := service(t, p, name).HealthCheck
		if hc != nil && (hc.Test[0] != "CMD" || hc.Test[1] != "/usr/local/bin/healthcheck") {
			t.Errorf("%s: healthcheck %v: want [CMD /usr/local/bin/healthcheck URL]", name, hc.Test)
		}
	}
}

func TestComposeDependsOn(t *testing.T) {
	p := mustLoad(t)
	want := map[string]map[string]string{
		"rabbitmq-init": {
			"rabbitmq": types.ServiceConditionHealthy,
		},
		"provider-sandbox": {
			"rabbitmq":      types.ServiceConditionHealthy,
			"rabbitmq-init": types.ServiceConditionCompletedSuccessfully,
		},
		"settlement-worker": {
			"rabbitmq":         types.ServiceConditionHealthy,
			"rabbitmq-init":    types.ServiceConditionCompletedSuccessfully,
			"postgres":         types.ServiceConditionHealthy,
			"provider-sandbox": types.ServiceConditionHealthy,
		},
	}
	for svc, deps := range want {
		s := service(t, p, svc)
		for dep, cond := range deps {
			got, ok := s.DependsOn[dep]
			if !ok {
				t.Errorf("%s: no depends_on %s", svc, dep)
				continue
			}
			if got.Condition != cond {
				t.Errorf("%s: depends_on %s condition %q, want %q", svc, dep, got.Condition, cond)
			}
		}
	}
}

func TestComposeRadialVhost(t *testing.T) {
	p := mustLoad(t)
	init := service(t, p, "rabbitmq-init")
	script := strings.Join(append(append([]string{}, init.Entrypoint...), init.Command...), "\n")
	for _, want := range []string{"/vhosts/radial", "/permissions/radial/", "http://rabbitmq:15672/api"} {
		if !strings.Contains(script, want) {
			t.Errorf("rabbitmq-init does not call %s:\n%s", want, script)
		}
	}
	// $$ must have become $ for the shell.
	if strings.Contains(script, "$$") {
		t.Errorf("rabbitmq-init script still has $$:\n%s", script)
	}
}

func TestComposeWorkerEnv(t *testing.T) {
	p := mustLoad(t)
	w := service(t, p, "settlement-worker")
	sb := service(t, p, "provider-sandbox")

	host := func(name, raw string) *url.URL {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("%s=%q: %v", name, raw, err)
		}
		return u
	}
	amqpURL := host("AMQP_URL", env(t, w, "AMQP_URL"))
	if amqpURL.Scheme != "amqp" || amqpURL.Hostname() != "rabbitmq" || amqpURL.User.Username() != "settlement" {
		t.Errorf("AMQP_URL %s: want amqp://settlement:...@rabbitmq:5672/", amqpURL.Redacted())
	}
	if pw, _ := amqpURL.User.Password(); pw != testEnv["RABBITMQ_PASSWORD"] {
		t.Errorf("AMQP_URL password not interpolated: %q", pw)
	}
	radialAMQP := host("RADIAL_AMQP_URL", env(t, w, "RADIAL_AMQP_URL"))
	if radialAMQP.Hostname() != "rabbitmq" || radialAMQP.Path != "/radial" {
		t.Errorf("RADIAL_AMQP_URL %s: want the radial vhost on rabbitmq", radialAMQP.Redacted())
	}
	base := host("RADIAL_BASE_URL", env(t, w, "RADIAL_BASE_URL"))
	if base.Hostname() != "provider-sandbox" || base.Port() != "8081" || base.Path != "/radial" {
		t.Errorf("RADIAL_BASE_URL %s: want http://provider-sandbox:8081/radial", base)
	}
	store := host("STORE_DSN", env(t, w, "STORE_DSN"))
	if store.Scheme != "postgres" || store.Hostname() != "postgres" {
		t.Errorf("STORE_DSN %s: replicas must share postgres", store.Redacted())
	}
	if got := env(t, w, "RADIAL_API_KEY"); got != testEnv["RADIAL_API_KEY"] {
		t.Errorf("RADIAL_API_KEY %q", got)
	}
	if got := env(t, w, "RADIAL_STATUS_QUEUE"); !strings.HasPrefix(got, "q.Payments.Settlements.Status.") {
		t.Errorf("RADIAL_STATUS_QUEUE %q", got)
	}
	if got := env(t, w, "HTTP_ADDR"); !strings.HasSuffix(got, ":9090") || strings.HasPrefix(got, "127.") {
		t.Errorf("HTTP_ADDR %q: the healthcheck and metrics need 0.0.0.0:9090", got)
	}

	// The worker and the sandbox must agree on the Radial side.
	pairs := [][2]string{
		{"RADIAL_API_KEY", "SANDBOX_RADIAL_API_KEY"},
		{"RADIAL_AMQP_URL", "SANDBOX_RADIAL_AMQP_URL"},
		{"RADIAL_STATUS_QUEUE", "SANDBOX_RADIAL_STATUS_QUEUE"},
	}
	for _, pr := range pairs {
		if a, b := env(t, w, pr[0]), env(t, sb, pr[1]); a != b {
			t.Errorf("worker %s=%q but sandbox %s=%q", pr[0], a, pr[1], b)
		}
	}
	if addr := env(t, sb, "SANDBOX_ADDR"); !strings.HasSuffix(addr, ":"+base.Port()) {
		t.Errorf("SANDBOX_ADDR %q does not serve RADIAL_BASE_URL's port %s", addr, base.Port())
	}
}

// Every variable set on the worker must be one its config reads: a typo
// would silently fall back to a default.
func TestComposeWorkerEnvKnownToConfig(t *testing.T) {
	var known []string
	for _, v := range config.Vars(all.Providers) {
		known = append(known, v.Name)
	}
	if len(known) == 0 {
		t.Fatal("no env tags found on config.Config")
	}
	w := service(t, mustLoad(t), "settlement-worker")
	for name := range w.Environment {
		if !slices.Contains(known, name) {
			t.Errorf("settlement-worker: %s is not read by config.Config (known: %v)", name, known)
		}
	}
}

func TestComposeRequiresSecrets(t *testing.T) {
	for _, secret := range []string{"RABBITMQ_PASSWORD", "POSTGRES_PASSWORD", "RADIAL_API_KEY"} {
		env := map[string]string{}
		for k, v := range testEnv {
			if k != secret {
				env[k] = v
			}
		}
		if _, err := loadProject(t, env); err == nil || !strings.Contains(err.Error(), secret) {
			t.Errorf("without %s: load error %v, want one naming it", secret, err)
		}
	}
}

func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(raw)
	stages := map[string]string{} // stage -> base image
	for _, m := range regexp.MustCompile(`(?mi)^FROM\s+(\S+)\s+AS\s+(\S+)`).FindAllStringSubmatch(df, -1) {
		stages[m[2]] = m[1]
	}
	if !strings.HasPrefix(stages["build"], "golang:1.26") {
		t.Errorf("build stage from %q, want golang:1.26", stages["build"])
	}
	for _, target := range []string{"settlement-worker", "provider-sandbox"} {
		if !strings.Contains(stages[target], "distroless/static") {
			t.Errorf("stage %s from %q, want distroless/static", target, stages[target])
		}
	}
	if !regexp.MustCompile(`CGO_ENABLED=0`).MatchString(df) {
		t.Error("Dockerfile does not set CGO_ENABLED=0")
	}
	for _, pkg := range []string{"./cmd/settlement-worker", "./cmd/provider-sandbox", "./deployments/healthcheck"} {
		if !strings.Contains(df, pkg) {
			t.Errorf("Dockerfile does not build %s", pkg)
		}
		if _, err := os.Stat(filepath.Join("..", pkg)); err != nil {
			t.Errorf("Dockerfile builds %s: %v", pkg, err)
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
