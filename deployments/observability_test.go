package deployments

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.yaml.in/yaml/v3"

	"github.com/settlement-worker/settlement-worker/config"
	"github.com/settlement-worker/settlement-worker/intake"
	"github.com/settlement-worker/settlement-worker/store"
	"github.com/settlement-worker/settlement-worker/webhook"
	"github.com/settlement-worker/settlement-worker/worker"
)

const (
	alertsFile     = "prometheus/alerts.yml"
	alertTestsFile = "prometheus/alerts_test.yml"
	dashboardFile  = "grafana/settlement-worker.json"
)

// promtool checks the rules and runs their unit tests (every alert firing
// and not firing). Without promtool the test is skipped, except in CI
// (CI=true), which installs it (.ci/run: the prometheus package).
func TestAlertRulesWithPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is not on PATH (CI=true): install it (Debian: apt-get install prometheus; .ci/run does)")
		}
		t.Skip("promtool is not on PATH: install it (Debian: apt-get install prometheus) to check deployments/prometheus")
	}
	for _, args := range [][]string{
		{"check", "rules", filepath.Base(alertsFile)},
		{"test", "rules", filepath.Base(alertTestsFile)},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = filepath.Dir(alertsFile)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// Every alert has a severity and a summary and description; every alert
// has a unit test; every metric an expression reads is one the worker
// exports.
func TestAlertRulesUseExportedMetrics(t *testing.T) {
	exported := exportedMetrics(t)
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, alertsFile, &rules)
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	readYAML(t, alertTestsFile, &tests)
	firing, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				firing[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s: needs a severity label, a summary and a description", r.Alert)
			}
			if !firing[r.Alert] || !quiet[r.Alert] {
				t.Errorf("alert %s: %s needs a unit test where it fires and one where it does not", r.Alert, alertTestsFile)
			}
			checkNames(t, "alert "+r.Alert, r.Expr, exported)
		}
	}
	if n < 10 {
		t.Fatalf("%d alerts read from %s", n, alertsFile)
	}
}

// The dashboard is valid JSON with a Prometheus datasource variable every
// panel uses, and its queries only read metrics the worker exports.
func TestDashboard(t *testing.T) {
	exported := exportedMetrics(t)
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	type target struct {
		Expr       string         `json:"expr"`
		Datasource map[string]any `json:"datasource"`
	}
	type panel struct {
		ID         int            `json:"id"`
		Type       string         `json:"type"`
		Title      string         `json:"title"`
		Datasource map[string]any `json:"datasource"`
		GridPos    map[string]int `json:"gridPos"`
		Targets    []target       `json:"targets"`
	}
	var d struct {
		Title      string `json:"title"`
		UID        string `json:"uid"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Type       string `json:"type"`
				Query      any    `json:"query"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.Title == "" || d.UID == "" {
		t.Error("dashboard without title or uid")
	}
	hasDS := false
	for _, v := range d.Templating.List {
		if v.Name == "datasource" && v.Type == "datasource" && v.Query == "prometheus" {
			hasDS = true
		}
		if m := labelValues.FindStringSubmatch(v.Definition); m != nil {
			checkNames(t, "variable "+v.Name, m[1], exported)
		} else if v.Definition != "" {
			t.Errorf("variable %s: query %q is not label_values(METRIC, LABEL)", v.Name, v.Definition)
		}
	}
	if !hasDS {
		t.Error("no Prometheus datasource variable named datasource")
	}
	ids := map[int]bool{}
	queries := 0
	wantPanels := []string{"outcomes", "by state", "oldest", "queue", "retries", "latency", "parked", "panics", "webhook"}
	var titles []string
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos["w"] == 0 || p.GridPos["h"] == 0 {
			t.Errorf("panel %q has no size", p.Title)
		}
		if p.Type == "row" {
			continue
		}
		titles = append(titles, strings.ToLower(p.Title))
		if p.Datasource["uid"] != "${datasource}" {
			t.Errorf("panel %q does not use the datasource variable: %v", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			queries++
			if tg.Datasource["uid"] != "${datasource}" {
				t.Errorf("panel %q: a query does not use the datasource variable", p.Title)
			}
			checkNames(t, "panel "+p.Title, tg.Expr, exported)
		}
	}
	for _, w := range wantPanels {
		if !slices.ContainsFunc(titles, func(s string) bool { return strings.Contains(s, w) }) {
			t.Errorf("no panel about %q (titles: %v)", w, titles)
		}
	}
	if queries < 15 {
		t.Errorf("%d queries", queries)
	}
}

// exportedMetrics are the metric names a worker with every part on (two
// providers, the webhook deliverer, the intake) registers, collected from
// its collectors' descriptions (a family with no series yet counts), plus
// Prometheus' own up.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	cfg := config.Config{Providers: []string{"radial", "paysafe"}, Webhook: webhook.Config{URL: "http://webhook.example/statuses"},
		Intake: intake.DefaultConfig()}
	cfg.Intake.Addr = "127.0.0.1:0"
	rec := &recorder{reg: prometheus.NewRegistry(), names: map[string]bool{"up": true}}
	// As worker.Run: Go and process collectors, then RegisterMetrics and
	// the router's metrics.
	rec.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	tel := worker.RegisterMetrics(rec, cfg, nil, nil)
	router, err := message.NewRouter(message.RouterConfig{}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	tel.Instrument(router)
	worker.RegisterStoreMetrics(rec, storeStats{})
	for _, want := range []string{"settlement_settlements", "settlement_oldest_seconds", "settlement_queue_messages",
		"settlement_outcomes_total", "settlement_webhook_posts_total", "settlement_intake_requests_total",
		"settlement_router_handler_execution_time_seconds", "settlement_store_lock_sessions_ended_total", "go_goroutines"} {
		if !rec.names[want] {
			t.Fatalf("the worker's registry has no %s: %v", want, keys(rec.names))
		}
	}
	return rec.names
}

// storeStats stands for a store that offers both of the store's own
// counter sets (SQLite's WriteStats, PostgreSQL's LockStats).
type storeStats struct{}

func (storeStats) WriteStats() (int64, int64)  { return 0, 0 }
func (storeStats) LockStats() store.LockCounts { return store.LockCounts{} }

// recorder registers on reg and records the names of what it registers.
type recorder struct {
	reg   *prometheus.Registry
	names map[string]bool
}

var labelValues = regexp.MustCompile(`^label_values\(([^,]+),\s*\w+\)$`)

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *recorder) Register(c prometheus.Collector) error {
	if err := r.reg.Register(c); err != nil {
		return err
	}
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	return nil
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

func (r *recorder) Unregister(c prometheus.Collector) bool { return r.reg.Unregister(c) }

var (
	reString    = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	reMatchers  = regexp.MustCompile(`\{[^}]*\}`)
	reRange     = regexp.MustCompile(`\[[^\]]*\]`)
	reGrouping  = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	reVariable  = regexp.MustCompile(`\$\{?\w+\}?`)
	reDuration  = regexp.MustCompile(`\b\d+(ms|s|m|h|d|w|y)\b`)
	reNumber    = regexp.MustCompile(`\b\d+(\.\d+)?([eE][-+]?\d+)?`)
	reIdent     = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
	promqlWords = map[string]bool{"and": true, "or": true, "unless": true, "offset": true, "bool": true, "by": true, "without": true,
		"on": true, "ignoring": true, "group_left": true, "group_right": true}
)

// metricNames returns the metric names a PromQL expression selects.
func metricNames(expr string) []string {
	s := expr
	for _, re := range []*regexp.Regexp{reString, reMatchers, reRange, reGrouping, reVariable, reDuration, reNumber} {
		s = re.ReplaceAllString(s, " ")
	}
	var out []string
	for _, m := range reIdent.FindAllString(s, -1) {
		if strings.HasSuffix(m, "(") || promqlWords[m] {
			continue // a function, an aggregation, a keyword
		}
		out = append(out, m)
	}
	return out
}

func checkNames(t *testing.T, where, expr string, exported map[string]bool) {
	t.Helper()
	names := metricNames(expr)
	if len(names) == 0 {
		t.Errorf("%s: no metric in %q", where, expr)
	}
	for _, n := range names {
		base := n
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(n, suffix); ok && exported[b] {
				base = b
			}
		}
		if !exported[base] {
			t.Errorf("%s: %s is not a metric the worker exports (expr %q)", where, n, expr)
		}
	}
}

func TestMetricNames(t *testing.T) {
	for expr, want := range map[string]string{
		`histogram_quantile(0.99, sum by (provider, le) (rate(a_bucket{provider=~"$provider"}[$__rate_interval])))`: "a_bucket",
		`sum by (provider) (b) > sum by (provider) (b offset 30m) or c{q="x"} * 60 > 1e-3`:                          "b b c",
		`time() - (d > 0)`: "d",
		`up{job="settlement-worker"} == 0 or absent(up{job="settlement-worker"})`: "up up",
	} {
		if got := strings.Join(metricNames(expr), " "); got != want {
			t.Errorf("metricNames(%q) = %q, want %q", expr, got, want)
		}
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Every alert has a section of docs/runbook.md that names it in its
// heading: the engineer paged at night looks the alert up there.
func TestEveryAlertHasARunbookSection(t *testing.T) {
	raw, err := os.ReadFile("../docs/runbook.md")
	if err != nil {
		t.Fatal(err)
	}
	var headings []string
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "## ") {
			headings = append(headings, line)
		}
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, alertsFile, &rules)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if !slices.ContainsFunc(headings, func(h string) bool { return strings.Contains(h, "`"+r.Alert+"`") }) {
				t.Errorf("alert %s: no section of docs/runbook.md names it in its heading", r.Alert)
			}
		}
	}
}

// Every metric docs/metrics.md's table names is one the worker exports: an
// engineer does not build a query or an alert on a series that never comes.
func TestMetricsDocNamesExportedMetrics(t *testing.T) {
	exported := exportedMetrics(t)
	// Registered by Watermill when the router decorates its first
	// subscriber (exportedMetrics' router has none).
	exported["settlement_router_subscriber_messages_received_total"] = true
	raw, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile("`(settlement_[a-z_]+)`")
	n := 0
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cell := strings.SplitN(line, "|", 3)[1]
		for _, m := range name.FindAllStringSubmatch(cell, -1) {
			n++
			if !exported[m[1]] {
				t.Errorf("docs/metrics.md names %s, which the worker does not export", m[1])
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d metric names read from docs/metrics.md's table", n)
	}
}
