package deployments

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/settlement-worker/settlement-worker/config"
	"github.com/settlement-worker/settlement-worker/providers/all"
)

const (
	composeFile       = "docker-compose.yml"
	composeDebianFile = "docker-compose.debian.yml"
	composeTestFile   = "docker-compose.test.yml"
)

// testEnv stands in for the environment: no secret is in it, they are
// files.
var testEnv = map[string]string{
	"RABBITMQ_USER": "settlement",
}

// testSecrets stand in for the secret files (SECRETS_DIR) where the
// entrypoint (deployments/secretenv) reads them.
var testSecrets = map[string]string{
	"RABBITMQ_PASSWORD": "rabbit-secret",
	"POSTGRES_PASSWORD": "pg-secret",
	"RADIAL_API_KEY":    "radial-key",
	// 32 bytes in base64, as store.ParseKeyring reads it.
	"STORE_ENCRYPTION_KEY": "c2V0dGxlbWVudC13b3JrZXItdGVzdC1rZXktMzJiISE=",
}

func envList(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

func loadProject(t *testing.T, env map[string]string, files ...string) (*types.Project, error) {
	t.Helper()
	if len(files) == 0 {
		files = []string{composeFile}
	}
	opts, err := cli.NewProjectOptions(files,
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

// resolvedEnv is the value the program sees once its entrypoint
// (deployments/secretenv) has read NAME_FILE secrets and replaced their
// ${NAME} references, with testSecrets as the files' contents. Each NAME_FILE
// must point at /run/secrets/<a secret the service mounts>.
func resolvedEnv(t *testing.T, s types.ServiceConfig, name string) string {
	t.Helper()
	fromFile := map[string]string{}
	for k, v := range s.Environment {
		base, ok := strings.CutSuffix(k, "_FILE")
		if !ok || v == nil {
			continue
		}
		secret, ok := strings.CutPrefix(*v, "/run/secrets/")
		if !ok || !mountsSecret(s, secret) {
			t.Fatalf("%s: %s=%v is not a secret the service mounts", s.Name, k, *v)
		}
		val, ok := testSecrets[strings.TrimPrefix(base, "SANDBOX_")]
		if !ok {
			t.Fatalf("%s: %s: no test secret for %s", s.Name, k, base)
		}
		fromFile[base] = val
	}
	if v, ok := fromFile[name]; ok {
		return v
	}
	v := env(t, s, name)
	for n, val := range fromFile {
		v = strings.ReplaceAll(v, "${"+n+"}", val)
	}
	return v
}

func mountsSecret(s types.ServiceConfig, name string) bool {
	for _, sc := range s.Secrets {
		if sc.Source == name && (sc.Target == "" || sc.Target == name || sc.Target == "/run/secrets/"+name) {
			return true
		}
	}
	return false
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
	// The worker publishes its HTTP_ADDR (health, metrics) on loopback
	// only, one host port per replica; profiles stay off.
	if v, ok := w.Environment["PPROF_ADDR"]; ok && v != nil && *v != "off" {
		t.Errorf("settlement-worker: PPROF_ADDR=%s: profiles are not for the deployment", *v)
	}
	if len(w.Ports) != 1 {
		t.Fatalf("settlement-worker: ports %+v, want the HTTP port once", w.Ports)
	}
	pt := w.Ports[0]
	lo, hi, isRange := strings.Cut(pt.Published, "-")
	if pt.Target != 9090 || pt.HostIP != "127.0.0.1" || !isRange {
		t.Errorf("settlement-worker: port %+v, want 127.0.0.1:<range>:9090", pt)
	} else if a, err1 := strconv.Atoi(lo); err1 != nil {
		t.Errorf("settlement-worker: published %q", pt.Published)
	} else if b, err2 := strconv.Atoi(hi); err2 != nil || b-a+1 < *w.Deploy.Replicas {
		t.Errorf("settlement-worker: published %q: fewer ports than replicas", pt.Published)
	}
	// Nothing else is published but the management UI, on loopback.
	for _, name := range p.ServiceNames() {
		for _, pt := range service(t, p, name).Ports {
			if pt.HostIP != "127.0.0.1" {
				t.Errorf("%s: port %+v is published beyond loopback", name, pt)
			}
			if name != "settlement-worker" && (name != "rabbitmq" || pt.Target != 15672) {
				t.Errorf("%s: port %+v is published", name, pt)
			}
		}
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
	for _, want := range []string{"/vhosts/radial", "/permissions/radial/", "http://rabbitmq:15672/api", "/run/secrets/rabbitmq_password"} {
		if !strings.Contains(script, want) {
			t.Errorf("rabbitmq-init does not call %s:\n%s", want, script)
		}
	}
	// $$ must have become $ for the shell.
	if strings.Contains(script, "$$") {
		t.Errorf("rabbitmq-init script still has $$:\n%s", script)
	}
	if !mountsSecret(init, "rabbitmq_password") {
		t.Error("rabbitmq-init does not mount the rabbitmq_password secret")
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
	amqpURL := host("AMQP_URL", resolvedEnv(t, w, "AMQP_URL"))
	if amqpURL.Scheme != "amqp" || amqpURL.Hostname() != "rabbitmq" || amqpURL.User.Username() != "settlement" {
		t.Errorf("AMQP_URL %s: want amqp://settlement:...@rabbitmq:5672/", amqpURL.Redacted())
	}
	if pw, _ := amqpURL.User.Password(); pw != testSecrets["RABBITMQ_PASSWORD"] {
		t.Errorf("AMQP_URL password is not the secret's: %q", pw)
	}
	radialAMQP := host("RADIAL_AMQP_URL", resolvedEnv(t, w, "RADIAL_AMQP_URL"))
	if radialAMQP.Hostname() != "rabbitmq" || radialAMQP.Path != "/radial" {
		t.Errorf("RADIAL_AMQP_URL %s: want the radial vhost on rabbitmq", radialAMQP.Redacted())
	}
	base := host("RADIAL_BASE_URL", env(t, w, "RADIAL_BASE_URL"))
	if base.Hostname() != "provider-sandbox" || base.Port() != "8081" || base.Path != "/radial" {
		t.Errorf("RADIAL_BASE_URL %s: want http://provider-sandbox:8081/radial", base)
	}
	store := host("STORE_DSN", resolvedEnv(t, w, "STORE_DSN"))
	if store.Scheme != "postgres" || store.Hostname() != "postgres" {
		t.Errorf("STORE_DSN %s: replicas must share postgres", store.Redacted())
	}
	if pw, _ := store.User.Password(); pw != testSecrets["POSTGRES_PASSWORD"] {
		t.Errorf("STORE_DSN password is not the secret's: %q", pw)
	}
	if got := resolvedEnv(t, w, "RADIAL_API_KEY"); got != testSecrets["RADIAL_API_KEY"] {
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
		if a, b := resolvedEnv(t, w, pr[0]), resolvedEnv(t, sb, pr[1]); a != b {
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
		if slices.Contains(known, name) {
			continue
		}
		// NAME_FILE: config reads V_FILE for every variable V, and the
		// entrypoint (secretenv) reads the others to fill ${NAME} in the
		// config's variables.
		if base, ok := strings.CutSuffix(name, "_FILE"); ok {
			if slices.Contains(known, base) {
				continue
			}
			used := false
			for k, v := range w.Environment {
				used = used || (v != nil && slices.Contains(known, k) && strings.Contains(*v, "${"+base+"}"))
			}
			if used {
				continue
			}
		}
		t.Errorf("settlement-worker: %s is not read by config.Config (known: %v)", name, known)
	}
}

// Secrets are files: no secret value is an environment value of the compose
// file (it loads with none set), each is a file under SECRETS_DIR.
func TestComposeSecrets(t *testing.T) {
	p := mustLoad(t)
	want := []string{"postgres_password", "rabbitmq_password", "radial_api_key", "store_encryption_key"}
	var names []string
	for name, sc := range p.Secrets {
		names = append(names, name)
		if sc.File == "" || sc.Environment != "" || sc.Content != "" {
			t.Errorf("secret %s: want a file, got %+v", name, sc)
		}
		if filepath.Base(sc.File) != name || filepath.Base(filepath.Dir(sc.File)) != "secrets" {
			t.Errorf("secret %s: file %s, want <SECRETS_DIR, default ./secrets>/%s", name, sc.File, name)
		}
	}
	if !slices.Equal(sorted(names), want) {
		t.Fatalf("secrets %v, want %v", sorted(names), want)
	}
	dirEnv := map[string]string{"SECRETS_DIR": "/srv/settlement-secrets"}
	p2, err := loadProject(t, dirEnv)
	if err != nil {
		t.Fatal(err)
	}
	if f := p2.Secrets["radial_api_key"].File; f != "/srv/settlement-secrets/radial_api_key" {
		t.Errorf("SECRETS_DIR not honoured: %s", f)
	}
	// No service carries a secret value in its environment.
	for _, name := range p.ServiceNames() {
		for k, v := range service(t, p, name).Environment {
			for _, secret := range testSecrets {
				if v != nil && strings.Contains(*v, secret) {
					t.Errorf("%s: %s carries a secret value", name, k)
				}
			}
		}
	}
	mounts := map[string][]string{
		"rabbitmq":          {"rabbitmq_password"},
		"rabbitmq-init":     {"rabbitmq_password"},
		"postgres":          {"postgres_password"},
		"provider-sandbox":  {"rabbitmq_password", "radial_api_key"},
		"settlement-worker": {"rabbitmq_password", "postgres_password", "radial_api_key", "store_encryption_key"},
	}
	for svc, secrets := range mounts {
		for _, secret := range secrets {
			if !mountsSecret(service(t, p, svc), secret) {
				t.Errorf("%s does not mount secret %s", svc, secret)
			}
		}
	}
	if got := env(t, service(t, p, "postgres"), "POSTGRES_PASSWORD_FILE"); got != "/run/secrets/postgres_password" {
		t.Errorf("postgres: POSTGRES_PASSWORD_FILE=%s", got)
	}
	rmq := service(t, p, "rabbitmq")
	if ep := strings.Join(rmq.Entrypoint, " "); !strings.Contains(ep, "RABBITMQ_DEFAULT_PASS=$(cat /run/secrets/rabbitmq_password)") ||
		!strings.Contains(ep, "exec docker-entrypoint.sh rabbitmq-server") {
		t.Errorf("rabbitmq: entrypoint %q does not take RABBITMQ_DEFAULT_PASS from the secret", ep)
	}
}

// Debian's docker-compose 1.29 refuses a top-level name (and validates
// against its own schema): make compose-test runs the file with it.
func TestComposeFileForCompose1(t *testing.T) {
	for _, f := range []string{composeFile, composeDebianFile, composeTestFile} {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := regexp.MustCompile(`(?m)^(name|include):`).Find(raw); m != nil {
			t.Errorf("%s: top-level %s docker-compose 1.29 refuses", f, m)
		}
	}
}

// The overrides of make compose-test: images built from Debian's packages,
// and AMQP published on loopback for cmd/compose-check.
func TestComposeDebianOverride(t *testing.T) {
	p, err := loadProject(t, testEnv, composeFile, composeDebianFile, composeTestFile)
	if err != nil {
		t.Fatal(err)
	}
	for svc, img := range map[string]string{
		"rabbitmq":      "settlement/rabbitmq:debian",
		"rabbitmq-init": "settlement/rabbitmq:debian",
		"postgres":      "settlement/postgres:debian",
	} {
		if got := service(t, p, svc).Image; got != img {
			t.Errorf("%s: image %s, want %s", svc, got, img)
		}
	}
	for _, svc := range []string{"rabbitmq", "postgres"} {
		b := service(t, p, svc).Build
		if b == nil || b.Target != svc || filepath.Base(b.Context) != "debian" {
			t.Errorf("%s: build %+v, want target %s of deployments/debian", svc, b, svc)
			continue
		}
		if _, err := os.Stat(filepath.Join(b.Context, "Dockerfile")); err != nil {
			t.Error(err)
		}
	}
	published := map[uint32]string{}
	for _, pt := range service(t, p, "rabbitmq").Ports {
		published[pt.Target] = pt.HostIP + ":" + pt.Published
	}
	if published[5672] != "127.0.0.1:5692" || published[15672] != "127.0.0.1:15672" {
		t.Errorf("rabbitmq publishes %v, want AMQP on 127.0.0.1:5692 and the management UI", published)
	}
	// The rest is the deployment's, unchanged.
	base := mustLoad(t)
	for _, svc := range []string{"settlement-worker", "provider-sandbox"} {
		if a, b := service(t, p, svc), service(t, base, svc); a.Image != b.Image || !reflect.DeepEqual(a.Environment, b.Environment) {
			t.Errorf("%s differs under the overrides", svc)
		}
	}
}

func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(raw)
	args := map[string]string{} // global ARG defaults
	for _, m := range regexp.MustCompile(`(?m)^ARG\s+(\w+)=(\S+)`).FindAllStringSubmatch(df, -1) {
		args[m[1]] = m[2]
	}
	stages := map[string]string{} // stage -> base image, ARGs expanded
	for _, m := range regexp.MustCompile(`(?mi)^FROM\s+(\S+)\s+AS\s+(\S+)`).FindAllStringSubmatch(df, -1) {
		from := m[1]
		if name, ok := strings.CutPrefix(from, "${"); ok {
			from = args[strings.TrimSuffix(name, "}")]
		}
		stages[m[2]] = from
	}
	// Public images by default; a registry-less machine passes build args.
	if !strings.HasPrefix(stages["build"], "golang:1.26") {
		t.Errorf("build stage from %q, want golang:1.26 by default", stages["build"])
	}
	if stages["binaries"] != "build" {
		t.Errorf("binaries stage from %q, want the build stage by default (BINARIES=build)", stages["binaries"])
	}
	if stages["prebuilt"] != "scratch" {
		t.Errorf("prebuilt stage from %q, want scratch", stages["prebuilt"])
	}
	for _, target := range []string{"settlement-worker", "provider-sandbox"} {
		if !strings.Contains(stages[target], "distroless/static") {
			t.Errorf("stage %s from %q, want distroless/static by default", target, stages[target])
		}
	}
	if !regexp.MustCompile(`CGO_ENABLED=0`).MatchString(df) {
		t.Error("Dockerfile does not set CGO_ENABLED=0")
	}
	for _, pkg := range []string{"./cmd/settlement-worker", "./cmd/provider-sandbox", "./deployments/healthcheck", "./deployments/secretenv"} {
		if !strings.Contains(df, pkg) {
			t.Errorf("Dockerfile does not build %s", pkg)
		}
		if !strings.Contains(df, "bin/docker/"+filepath.Base(pkg)) {
			t.Errorf("the prebuilt stage does not copy bin/docker/%s", filepath.Base(pkg))
		}
		if _, err := os.Stat(filepath.Join("..", pkg)); err != nil {
			t.Errorf("Dockerfile builds %s: %v", pkg, err)
		}
	}
	for _, want := range []string{
		`USER 65532:65532`,
		`ENTRYPOINT ["/usr/local/bin/secretenv", "/usr/local/bin/settlement-worker"]`,
		`ENTRYPOINT ["/usr/local/bin/secretenv", "/usr/local/bin/provider-sandbox"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
	// A syntax directive would make BuildKit fetch its frontend image
	// from a registry.
	if regexp.MustCompile(`(?m)^#\s*syntax=`).MatchString(df) {
		t.Error("Dockerfile has a # syntax= directive")
	}
	ignore, err := os.ReadFile("Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{".tmp", "bin", "!bin/docker", "deployments/secrets"} {
		if !slices.Contains(strings.Split(string(ignore), "\n"), line) {
			t.Errorf("Dockerfile.dockerignore lacks %s", line)
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
