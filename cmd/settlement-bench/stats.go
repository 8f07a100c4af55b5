package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// sample is the outcome of one measured run: how many requests, how long
// from the first publish to the last completion, and each request's latency.
type sample struct {
	name    string
	n       int             // requests in the run
	elapsed time.Duration   // first publish → last completion
	lat     []time.Duration // completed requests, sorted
}

func (s *sample) sort() { slices.Sort(s.lat) }

// completed is the number of requests that completed.
func (s sample) completed() int { return len(s.lat) }

// rate is completed requests per second.
func (s sample) rate() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.completed()) / s.elapsed.Seconds()
}

// pct is the p-th percentile (nearest rank) of the latencies.
func (s sample) pct(p float64) time.Duration {
	if len(s.lat) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(s.lat)))) - 1
	return s.lat[min(max(i, 0), len(s.lat)-1)]
}

func (s sample) summary() string {
	return fmt.Sprintf("%d/%d in %s: %s/s, p50 %s, p99 %s", s.completed(), s.n,
		s.elapsed.Round(time.Millisecond), fmtRate(s.rate()), fmtDur(s.pct(50)), fmtDur(s.pct(99)))
}

// report is everything printed at the end.
type report struct {
	opts     options
	machine  string
	command  string
	bodySize int
	raw      *sample
	workers  []workerResult
	mixed    *mixedResult
	// The open-loop run, its rate and where the rate came from; the note
	// says why it did not run.
	openLoop       *workerResult
	openLoopRate   float64
	openLoopSource string
	openLoopNote   string
	backlog        *workerResult
}

// sqliteRun is the closed-loop run with its store on SQLite at this
// sandbox latency, nil when there is none.
func (r *report) sqliteRun(latency time.Duration) *workerResult {
	for i := range r.workers {
		if r.workers[i].latency == latency && r.workers[i].store == "" {
			return &r.workers[i]
		}
	}
	return nil
}

// radial0 is the Radial 0 ms closed-loop run on SQLite (-n requests), the
// measured maximum the other phases are compared with; nil when there is
// none.
func (r *report) radial0() *workerResult { return r.sqliteRun(0) }

func (r *report) print(w io.Writer) {
	if r.raw != nil || len(r.workers) > 0 {
		r.printSingle(w)
	}
	if r.openLoop != nil || r.openLoopNote != "" {
		r.printOpenLoop(w)
	}
	if r.backlog != nil {
		r.printBacklog(w)
	}
	if r.mixed != nil {
		r.printMixed(w)
	}
	r.printTargets(w)
	fmt.Fprintf(w, "\nCommand: %s\n", r.command)
}

// printSingle prints the raw and single-provider (Radial) runs.
func (r *report) printSingle(w io.Writer) {
	o := r.opts
	fmt.Fprintln(w)
	fmt.Fprintf(w, "### Settlement throughput (%s queues, CONCURRENCY=%d, RADIAL_STATUS_CONCURRENCY=%d; %d on PostgreSQL)\n\n", o.queueType, o.concurrency, o.statusConcurrency, o.pgStatusConcurrency)
	fmt.Fprintf(w, "Measured with `%s` on %s. Requests: %d-byte PaymentSettlementRequest debits (PaymentContextBase, distinct orders), at most %d outstanding.\n\n",
		r.command, r.machine, r.bodySize, o.window)
	fmt.Fprintln(w, "| Path | Messages | Throughput | p50 latency | p99 latency | Peak RSS | vs raw |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|")
	if r.raw != nil {
		fmt.Fprintf(w, "| Raw amqp091-go: publish+confirm → consume+ack (%d publishers, prefetch %d) | %s | %s msg/s | %s | %s | – | 1.00 |\n",
			o.publishers, o.publishers, count(*r.raw), fmtRate(r.raw.rate()), fmtDur(r.raw.pct(50)), fmtDur(r.raw.pct(99)))
	}
	for _, wr := range r.workers {
		s := wr.sample
		fmt.Fprintf(w, "| Worker end to end, Radial sandbox %s%s | %s | %s settlements/s | %s | %s | %s | %s |\n",
			fmtLatency(wr.latency), wr.store, count(s), fmtRate(s.rate()), fmtDur(s.pct(50)), fmtDur(s.pct(99)),
			fmtBytes(wr.peakRSS), r.vsRaw(s))
	}
	fmt.Fprintln(w)
	if r.raw != nil {
		for _, wr := range r.workers {
			fmt.Fprintf(w, "- worker (sandbox %s%s) / raw throughput: %s\n", fmtLatency(wr.latency), wr.store, r.vsRaw(wr.sample))
		}
	}
	if len(r.workers) > 1 {
		base := r.workers[0]
		for _, wr := range r.workers[1:] {
			if wr.store != "" {
				if wr.latency == base.latency {
					fmt.Fprintf(w, "- worker throughput at %s%s / SQLite: %.2f\n", fmtLatency(wr.latency), wr.store, ratioOf(wr.sample.rate(), base.sample.rate()))
				}
				continue
			}
			ratio := ratioOf(wr.sample.rate(), base.sample.rate())
			verdict := "FAIL"
			if ratio >= 0.5 && wr.sample.completed() == wr.sample.n {
				verdict = "PASS"
			}
			fmt.Fprintf(w, "- worker throughput at %s / at %s: %.2f — %s (provider latency must not set the pace: within a factor of 2)\n",
				fmtLatency(wr.latency), fmtLatency(base.latency), ratio, verdict)
		}
	}
	if t := r.latencyCostTarget(); t.measured {
		fmt.Fprintf(w, "- issue 9 target: %s %s — measured %s, %s\n", t.name, t.goal, t.value, t.verdict())
	}
	fmt.Fprintln(w, "- Ratios are what to compare: absolute figures move with the machine and whatever else shares it.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Latency is request published → PaymentSettlementStatus event received (raw: published → consumed).")
	if len(r.workers) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Where a settlement's time goes (p50 / p99 of each stage; requests queue before the slowest):")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| Worker run | published → Radial settle call | → Radial status on its queue | → our status event | Worker CPU per settlement |")
		fmt.Fprintln(w, "|---|--:|--:|--:|--:|")
		for _, wr := range r.workers {
			fmt.Fprintf(w, "| Radial sandbox %s%s |", fmtLatency(wr.latency), wr.store)
			for _, st := range wr.stages {
				fmt.Fprintf(w, " %s / %s |", fmtDur(st.pct(50)), fmtDur(st.pct(99)))
			}
			fmt.Fprintf(w, " %s |\n", wr.cpuPer())
		}
		fmt.Fprintln(w)
		for _, wr := range r.workers {
			fmt.Fprintf(w, "- Checks at %s%s: %s\n", fmtLatency(wr.latency), wr.store, wr.checks())
		}
	}
}

// printMixed prints the mixed-provider run.
func (r *report) printMixed(w io.Writer) {
	o, m := r.opts, r.mixed
	fmt.Fprintln(w)
	fmt.Fprintf(w, "### Mixed providers in one worker (%s queues, CONCURRENCY=%d per provider)\n\n", o.queueType, o.concurrency)
	fmt.Fprintf(w, "PROVIDERS=%s, each sandbox in-process under its prefix on one loopback server; %d debits per provider (distinct orders, one authorization each), all published at once, at most %d outstanding per provider. "+
		"Paysafe answers PENDING and batches every %s; the worker re-checks after PAYSAFE_RECHECK_AFTER=%s (RETRY_DELAYS=%s). Radial sandbox latency 0 ms.\n\n",
		strings.Join(mixedProviders, ","), m.perProvider, o.window, paysafeBatchInterval, mixedRecheck, mixedRetryDelays)
	fmt.Fprintln(w, "| Provider | Messages | Throughput | p50 latency | p99 latency | Ledger debits | Peak RSS | vs raw |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|")
	for _, pr := range m.providers {
		s := pr.sample
		fmt.Fprintf(w, "| %s | %s | %s settlements/s | %s | %s | %d | – | %s |\n",
			pr.provider, count(s), fmtRate(s.rate()), fmtDur(s.pct(50)), fmtDur(s.pct(99)), pr.debits, r.vsRaw(s))
	}
	var debits int
	for _, pr := range m.providers {
		debits += pr.debits
	}
	fmt.Fprintf(w, "| **all four** | %s | %s settlements/s | %s | %s | %d | %s | %s |\n",
		count(m.total), fmtRate(m.total.rate()), fmtDur(m.total.pct(50)), fmtDur(m.total.pct(99)), debits, fmtBytes(m.peakRSS), r.vsRaw(m.total))
	fmt.Fprintln(w)
	if r.raw != nil && r.raw.rate() > 0 {
		fmt.Fprintf(w, "- vs raw: each provider's throughput / the raw broker run's %s msg/s (same run).\n", fmtRate(r.raw.rate()))
	}
	radial0 := r.radial0()
	if radial0 != nil && radial0.sample.rate() > 0 {
		fmt.Fprintf(w, "- mixed total / single-provider Radial 0 ms throughput: %.2f (%s vs %s settlements/s)\n",
			ratioOf(m.total.rate(), radial0.sample.rate()), fmtRate(m.total.rate()), fmtRate(radial0.sample.rate()))
	} else {
		fmt.Fprintln(w, "- mixed total / single-provider Radial 0 ms throughput: – (no Radial 0 ms run in this invocation; run without -only-mixed)")
	}
	fmt.Fprintln(w, "- Throughput per provider: its settlements / (run's first publish → its last status event); all four: every settlement / (first publish → last status event).")
	fmt.Fprintln(w, "- Latency is request published → its PaymentSettlementStatus event received, matched by the event's provider header and correlation_id.")
	if n := m.total.completed(); n > 0 && m.cpu > 0 {
		fmt.Fprintf(w, "- Worker CPU per settlement: %s\n", fmtDur(m.cpu/time.Duration(n)))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Where a settlement's time goes in the mixed run (p50 / p99 of each stage, from the sandboxes' ledgers; Frisbii and Miva answer the settle call synchronously):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| Provider | published → settle call | → provider verdict (Radial: status on its queue; Paysafe: batch COMPLETED) | → our status event |")
	fmt.Fprintln(w, "|---|--:|--:|--:|")
	for _, pr := range m.providers {
		fmt.Fprintf(w, "| %s |", pr.provider)
		for _, st := range pr.stages {
			fmt.Fprintf(w, " %s / %s |", fmtDur(st.pct(50)), fmtDur(st.pct(99)))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	for _, pr := range m.providers {
		var vs []string
		for _, k := range slices.Sorted(maps.Keys(pr.verdicts)) {
			vs = append(vs, fmt.Sprintf("%d %s", pr.verdicts[k], k))
		}
		verdict := "OK"
		if len(pr.problems) > 0 {
			verdict = "MISMATCH: " + strings.Join(pr.problems, "; ")
		}
		fmt.Fprintf(w, "- Checks %s: requests by status events %s; %d ledger debits for %d requests; sandbox calls %s; %d parked — %s\n",
			pr.provider, strings.Join(vs, ", "), pr.debits, pr.sample.n, pr.calls, pr.parked, verdict)
	}
	overall := "every request got exactly one S and exactly one ledger debit"
	if !m.ok() {
		overall = "MISMATCHES, see above"
		if len(m.problems) > 0 {
			overall += "; " + strings.Join(m.problems, "; ")
		}
	}
	logs := fmt.Sprintf("%d worker log lines at warn or above", m.logLines)
	if m.lastLog != "" {
		logs += " (last: " + m.lastLog + ")"
	}
	fmt.Fprintf(w, "- Checks overall: %d redelivered status events (same message_id, dropped); %s — %s\n",
		m.duplicates, logs, overall)
}

// printOpenLoop prints the open-loop run: latency at a fixed publish rate.
func (r *report) printOpenLoop(w io.Writer) {
	o := r.opts
	fmt.Fprintln(w)
	fmt.Fprintf(w, "### Latency at a fixed rate (open loop, %s queues, CONCURRENCY=%d)\n\n", o.queueType, o.concurrency)
	ol := r.openLoop
	if ol == nil {
		fmt.Fprintf(w, "Open-loop run %s.\n", r.openLoopNote)
		return
	}
	s := ol.sample
	fmt.Fprintf(w, "One worker, Radial sandbox 0 ms; requests published at %s/s (%s), one every %s whatever the worker's pace (a ticker, no window), for %s: %d requests. "+
		"The publisher fell behind its schedule by at most %s.\n\n",
		fmtRate(r.openLoopRate), r.openLoopSource, fmtDur(time.Duration(float64(time.Second)/r.openLoopRate)), o.openLoopDuration, s.n, fmtDur(ol.lag))
	fmt.Fprintln(w, "| Run | Messages | Throughput | p50 latency | p99 latency | published → Radial settle call | → Radial status on its queue | → our status event | Worker CPU per settlement | Peak RSS |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	fmt.Fprintf(w, "| open loop at %s/s | %s | %s settlements/s | %s | %s |", fmtRate(r.openLoopRate), count(s), fmtRate(s.rate()), fmtDur(s.pct(50)), fmtDur(s.pct(99)))
	for _, st := range ol.stages {
		fmt.Fprintf(w, " %s / %s |", fmtDur(st.pct(50)), fmtDur(st.pct(99)))
	}
	fmt.Fprintf(w, " %s | %s |\n\n", ol.cpuPer(), fmtBytes(ol.peakRSS))
	fmt.Fprintln(w, "- Latency is request published → PaymentSettlementStatus event received; the stages (p50 / p99) split it as in the closed-loop runs.")
	fmt.Fprintf(w, "- Checks: %s\n", ol.checks())
}

// printBacklog prints the backlog run: the drain rate of a queue filled
// before the worker started.
func (r *report) printBacklog(w io.Writer) {
	o, b := r.opts, r.backlog
	s := b.sample
	fmt.Fprintln(w)
	fmt.Fprintf(w, "### Draining a backlog (%s queues, CONCURRENCY=%d, RADIAL_STATUS_CONCURRENCY=%d)\n\n", o.queueType, o.concurrency, o.statusConcurrency)
	fmt.Fprintf(w, "%d requests published (with confirms, %d publishers) into the request queue in %s before the worker started; the worker took %s from its start to consuming; the drain is timed from then to its last status event. Radial sandbox 0 ms.\n\n",
		s.n, o.concurrency, b.prepublish.Round(time.Millisecond), b.startup.Round(time.Millisecond))
	fmt.Fprintln(w, "| Run | Messages | Drain rate | vs closed loop (-n) | vs raw | Worker CPU per settlement | Peak RSS (VmHWM) |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|")
	vsClosed := "–"
	if c := r.radial0(); c != nil && c.sample.rate() > 0 {
		vsClosed = fmt.Sprintf("%.2f", ratioOf(s.rate(), c.sample.rate()))
	}
	fmt.Fprintf(w, "| backlog of %d | %s | %s settlements/s | %s | %s | %s | %s |\n\n",
		s.n, count(s), fmtRate(s.rate()), vsClosed, r.vsRaw(s), b.cpuPer(), fmtBytes(b.peakRSS))
	fmt.Fprintln(w, "- vs closed loop: drain rate / the Radial 0 ms closed-loop run's throughput (same run). Peak RSS is the worker's high-water mark (VmHWM) over its whole life.")
	fmt.Fprintf(w, "- Checks: %s\n", b.checks())
}

func (r *report) vsRaw(s sample) string {
	if r.raw == nil || r.raw.rate() == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3f", ratioOf(s.rate(), r.raw.rate()))
}

func ratioOf(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// count is "n", or "done of n" for an incomplete run.
func count(s sample) string {
	if s.completed() == s.n {
		return fmt.Sprint(s.n)
	}
	return fmt.Sprintf("%d of %d", s.completed(), s.n)
}

func fmtRate(r float64) string {
	switch {
	case r >= 1000:
		whole := fmt.Sprintf("%.0f", r)
		var b strings.Builder
		for i, c := range whole {
			if i > 0 && (len(whole)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		return b.String()
	case r >= 100:
		return fmt.Sprintf("%.0f", r)
	default:
		return fmt.Sprintf("%.1f", r)
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

func fmtLatency(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

func fmtBytes(b int64) string {
	if b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

// describeMachine names the CPU, the broker and the toolchain, for the README.
func describeMachine(ctx context.Context, mgmtURL string) string {
	parts := []string{fmt.Sprintf("%d cores", runtime.NumCPU())}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				parts[0] += " (" + strings.TrimSpace(v) + ")"
				break
			}
		}
		f.Close()
	}
	if v := rabbitVersion(ctx, mgmtURL); v != "" {
		parts = append(parts, "RabbitMQ "+v)
	}
	parts = append(parts, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH)
	return strings.Join(parts, ", ")
}
