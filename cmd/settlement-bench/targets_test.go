package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// rateSample is a complete sample of n requests at rate per second, with
// every latency lat.
func rateSample(n int, rate float64, lat time.Duration) sample {
	s := sample{n: n, elapsed: time.Duration(float64(n) / rate * float64(time.Second))}
	for range n {
		s.lat = append(s.lat, lat)
	}
	return s
}

// benchReport is a report of a full run: raw 3,000/s, Radial 0 ms at
// rate0, 20 ms at rate20, PostgreSQL, open loop, backlog and mixed.
func benchReport(rate0, rate20 float64) *report {
	raw := rateSample(1000, 3000, time.Millisecond)
	stage := func(d time.Duration) sample { return rateSample(100, 1, d) }
	return &report{
		raw: &raw,
		workers: []workerResult{
			{latency: 0, sample: rateSample(1000, rate0, 50*time.Millisecond), cpu: 500 * time.Millisecond},
			{latency: 20 * time.Millisecond, sample: rateSample(1000, rate20, 60*time.Millisecond)},
			{latency: 0, store: ", PostgreSQL", sample: rateSample(1000, rate0/3, 90*time.Millisecond)},
		},
		openLoop: &workerResult{
			sample: rateSample(100, rate0/2, 80*time.Millisecond),
			stages: []sample{stage(10 * time.Millisecond), stage(30 * time.Millisecond), stage(25 * time.Millisecond)},
		},
		openLoopRate:   rate0 / 2,
		openLoopSource: "0.50 × the Radial 0 ms run",
		backlog:        &workerResult{sample: rateSample(5000, rate0*0.95, time.Second), peakRSS: 80 << 20},
		mixed: &mixedResult{providers: []providerResult{
			{provider: "radial", sample: rateSample(100, 270, time.Millisecond)},
			{provider: "paysafe", sample: rateSample(100, 200, time.Millisecond)},
		}},
	}
}

func TestTargets(t *testing.T) {
	r := benchReport(330, 290)
	want := []struct {
		name    string // prefix of the target's name
		value   string
		verdict string
	}{
		{"Radial end to end (0 ms) / raw", "0.110", "met"},
		{"Mixed run: radial / raw", "0.090", "met"},
		{"Mixed run: paysafe / raw", "0.067", "not met"},
		{"Worker CPU per settlement", "0.50 ms", "met"},
		{"p99 published → status event, open loop at 165/s", "80 ms", "met"},
		{"p99 Radial status on its queue → our status event", "25 ms", "not met"},
		{"Throughput with the provider at 20 ms / at 0 ms", "0.879", "not met"},
		{"Backlog of 5000: drain rate", "0.950", "met"},
		{"Worker peak RSS draining the backlog of 5000", "80 MiB", "not met"},
		{"PostgreSQL / SQLite", "0.333", "not met"},
	}
	got := r.targets()
	if len(got) != len(want) {
		t.Fatalf("%d targets, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if !strings.HasPrefix(g.name, w.name) || g.value != w.value || g.verdict() != w.verdict {
			t.Errorf("target %d = %q %s %s (%s), want %q… %s %s", i, g.name, g.value, g.verdict(), g.note, w.name, w.value, w.verdict)
		}
	}
}

func TestTargetsNotMeasured(t *testing.T) {
	tests := []struct {
		name   string
		report *report
		target string // prefix of the target's name
		note   string // substring of its note
	}{
		{"no raw run", &report{workers: benchReport(300, 290).workers}, "Radial end to end", "no raw run"},
		{"no mixed run", &report{}, "Mixed run: every provider", "-mixed=false"},
		{"open loop off", &report{}, "p99 published → status event", "-openloop=false"},
		{"open loop skipped", &report{openLoopNote: "skipped: no Radial 0 ms run"}, "p99 published → status event", "skipped"},
		{"no 20 ms run", &report{workers: benchReport(300, 290).workers[:1]}, "Throughput with the provider at 20 ms", "0ms and 20ms"},
		{"backlog off", &report{}, "Backlog drain rate", "-backlog 100000"},
		{"no PostgreSQL run", &report{workers: benchReport(300, 290).workers[:2]}, "PostgreSQL / SQLite", "no -postgres run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, g := range tt.report.targets() {
				if !strings.HasPrefix(g.name, tt.target) {
					continue
				}
				if g.measured || g.verdict() != "not measured" || g.value != "–" || !strings.Contains(g.note, tt.note) {
					t.Errorf("%q: measured %v, verdict %s, value %s, note %q; want not measured, note with %q", g.name, g.measured, g.verdict(), g.value, g.note, tt.note)
				}
				return
			}
			t.Fatalf("no target named %q…", tt.target)
		})
	}
}

func TestTargetIncompleteRunIsNotMet(t *testing.T) {
	r := benchReport(330, 329)
	r.workers[1].sample.lat = r.workers[1].sample.lat[:999] // one 20 ms request never completed
	got := r.latencyCostTarget()
	if !got.measured || got.met || got.note != "incomplete run" {
		t.Errorf("latency cost with an incomplete run = %+v, want measured, not met, incomplete run", got)
	}
}

func TestPrintTargets(t *testing.T) {
	var b bytes.Buffer
	benchReport(330, 300).printTargets(&b)
	out := b.String()
	for _, want := range []string{
		"### Targets (issue 9)",
		"| Target | Goal | Measured (this run) | Verdict |",
		"| Radial end to end (0 ms) / raw broker throughput | ≥ 0.10 | 0.110 | met |",
		"| Worker peak RSS draining the backlog of 5000 | ≤ 64 MiB | 80 MiB | not met |",
		"- 6 of 10 measured targets met, 0 not measured.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("printTargets lacks %q:\n%s", want, out)
		}
	}
}
