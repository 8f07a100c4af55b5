// Command settlement-chaos is the chaos suite: it runs the real
// settlement-worker binary against the four in-process provider sandboxes
// (Radial, Paysafe, Frisbii, Miva) on a PRIVATE RabbitMQ node (started with
// scripts/rabbitmq.sh on -amqp-port/-mgmt-port as -node; the shared broker
// is never touched), and judges the worker's promise — money is never taken
// twice, a verdict is never wrong, nothing waits forever in silence — from
// the providers' own ledgers and our status queue, never from the worker's
// store.
//
// Scenario, once on SQLite (one worker) and once on PostgreSQL (two worker
// replicas on a fresh database created from STORE_TEST_POSTGRES_DSN):
//   - per provider -n settlements in groups of four: a debit order with
//     three debits, two of them of EQUAL amounts, and a credit order with a
//     refund of an already settled payment; one in ten is republished with
//     the same headers, and about 5 % (those with a verdict by then) with a
//     CHANGED money header (store_id or the provider's own: tender_type,
//     authorization_id/settlement_id, charge_handle, miva_payment_id);
//   - sandbox faults on every endpoint (-fail, -late with -late-ms beyond
//     the worker's 2 s timeout, -hang, -drop, per mille); Paysafe's
//     sandbox checks merchantRefNum when a call arrives
//     (DupCheckAtArrival), so a repeat racing a late commit would settle
//     twice;
//   - 3 worker SIGKILLs (alternating replicas) and 2 restarts of the
//     private broker, at 12/40/75 % and 25/60 % of the verdicts; with
//     PostgreSQL, every session holding the replicas' order locks
//     terminated at 33 and 66 % (pg_terminate_backend): each holder must
//     stop before its next provider call, and the run reports how many did;
//   - short worker timings (*_TIMEOUT=2s, *_SETTLE_WINDOW=4s, RETRY_DELAYS
//     200ms,1s,2s, MAX_ATTEMPTS=8, SWEEP_INTERVAL=2s, STUCK_AFTER=15s,
//     OUTBOX_RELAY_AFTER=2s).
//
// It waits until quiet (every settlement has an S, an R or is parked, and
// no event, parked message or ledger entry arrived for -quiet; or -timeout),
// then prints per scenario and provider: published, S, R, parked (with each
// parked_reason), "p+$" parked with money (a person resolves those),
// "dupPk" changed-header duplicates parked / published (expected), and the
// columns that must be zero:
//   - lost: no status event and not parked;
//   - double: more money moved at the provider than S verdicts (per
//     requestId; Miva, without an idempotency key, per (order, type,
//     amount) multiset: captures of X on O = S debits of X on O + parked);
//   - S-no$: an S without money moved;
//   - $-noS: money moved without an S, and not parked;
//   - confl: an S and an R, or two Ss, with distinct message_ids for one
//     requestId (the same event republished with its message_id is fine);
//   - chgNP: a changed-header duplicate that was not parked.
//
// The exit status is 1 when any of those is not 0, 2 on a usage error.
//
// Usage: make chaos [ARGS=...] | make chaos-short
//
//	go run ./cmd/settlement-chaos [-n 2000] [-stores sqlite,postgres] [-timeout 20m]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type options struct {
	n              int
	stores         []string
	timeout, quiet time.Duration
	faults         faults
	amqpPort, mgmt int
	node           string
	keepBroker     bool
	verbose        bool
	window         int
	logLevel       string
	restarts       int
	lateGrace      time.Duration
}

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	o, err := parseFlags(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "settlement-chaos:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	failures, err := chaos(ctx, o, os.Stdout)
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, "settlement-chaos:", err)
		return 1
	case failures > 0:
		fmt.Fprintf(os.Stderr, "settlement-chaos: FAIL: %d settlements break the promise (see the tables)\n", failures)
		return 1
	}
	fmt.Fprintln(os.Stderr, "settlement-chaos: PASS")
	return 0
}

func parseFlags(args []string) (options, error) {
	o := options{}
	fs := flag.NewFlagSet("settlement-chaos", flag.ContinueOnError)
	fs.IntVar(&o.n, "n", 2000, "settlements per provider per scenario")
	stores := fs.String("stores", "sqlite,postgres", "scenarios: sqlite (one worker), postgres (two replicas)")
	fs.DurationVar(&o.timeout, "timeout", 20*time.Minute, "time limit of each scenario")
	fs.DurationVar(&o.quiet, "quiet", 6*time.Second, "how long nothing may change before judging")
	fs.IntVar(&o.faults.fail, "fail", 100, "per mille of provider calls answered 5xx")
	fs.IntVar(&o.faults.late, "late", 50, "per mille of provider calls committed late (after -late-ms)")
	fs.IntVar(&o.faults.lateMS, "late-ms", 2500, "delay of a late commit, ms (beyond the worker's 2s timeout)")
	fs.IntVar(&o.faults.hang, "hang", 10, "per mille of provider calls that hang")
	fs.IntVar(&o.faults.drop, "drop", 0, "per mille of provider calls that act, then answer 502")
	fs.IntVar(&o.window, "window", 48, "most settlements per provider published and not yet finished (verdict or parked)")
	fs.IntVar(&o.amqpPort, "amqp-port", 5676, "AMQP port of the private RabbitMQ node")
	fs.IntVar(&o.mgmt, "mgmt-port", 15676, "management port of the private RabbitMQ node")
	fs.StringVar(&o.node, "node", "chaos@localhost", "node name of the private RabbitMQ node")
	fs.BoolVar(&o.keepBroker, "keep-broker", false, "leave the private node running at the end")
	fs.DurationVar(&o.lateGrace, "late-grace", 200*time.Second, "once nothing moved for 3×-quiet+20s with requests still without a verdict, how much longer to wait before judging them lost (a broker may hold a retry up to its dead_letter_worker_publisher_confirm_timeout)")
	fs.IntVar(&o.restarts, "restarts", 2, "broker restarts per scenario (at least 2; more are spread between 15 % and 90 % of the verdicts)")
	fs.StringVar(&o.logLevel, "log-level", "warn", "the workers' LOG_LEVEL (info logs every step of every settlement: for diagnosing a failed run)")
	fs.BoolVar(&o.verbose, "v", false, "print the tail of each worker's log at the end of a scenario")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.restarts < 2 {
		return o, errors.New("-restarts must be at least 2")
	}
	if o.n < 4 {
		return o, errors.New("-n must be at least 4")
	}
	for _, s := range strings.Split(*stores, ",") {
		if s = strings.TrimSpace(s); s != "sqlite" && s != "postgres" {
			return o, fmt.Errorf("-stores: unknown %q", s)
		}
		o.stores = append(o.stores, strings.TrimSpace(s))
	}
	return o, nil
}

// chaos runs every scenario, prints the tables and returns the number of
// failures.
func chaos(ctx context.Context, o options, out *os.File) (int, error) {
	root, err := repoRoot(ctx)
	if err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp("", "settlement-chaos-")
	if err != nil {
		return 0, err
	}
	failures := 0
	// A failed run keeps what it judged from (the SQLite store, the
	// PostgreSQL database, every worker's log); a passing one removes it.
	type scratch struct {
		what   string
		remove func()
	}
	scratches := []scratch{{tmp + " (the SQLite store, each worker's log)", func() { os.RemoveAll(tmp) }}}
	defer func() {
		for _, sc := range scratches {
			if failures == 0 {
				sc.remove()
			} else {
				progress("kept for diagnosis: %s", sc.what)
			}
		}
	}()
	progress("building the worker")
	bin, err := buildWorker(ctx, tmp)
	if err != nil {
		return 0, err
	}
	b := newPrivateBroker(root, o.amqpPort, o.mgmt, o.node)
	progress("starting the private broker %s on :%d", o.node, o.amqpPort)
	if err := b.start(ctx); err != nil {
		return 0, err
	}
	if !o.keepBroker {
		defer func() { _ = b.stop(context.WithoutCancel(ctx)) }()
	}
	for _, st := range o.stores {
		sc := scenario{name: "sqlite, 1 worker", store: st, storeDSN: sqliteDSN(filepath.Join(tmp, "sqlite")), replicas: 1}
		if st == "postgres" {
			dsn, drop, err := freshPostgres(ctx)
			if err != nil {
				return failures, err
			}
			scratches = append(scratches, scratch{"the PostgreSQL database " + databaseOf(dsn), drop})
			sc = scenario{name: "postgres, 2 replicas", store: st, storeDSN: dsn, replicas: 2}
		}
		progress("scenario %s: %d settlements per provider", sc.name, o.n)
		t0 := time.Now()
		rs, notes, err := runScenario(ctx, o, sc, b, bin, tmp)
		if err != nil {
			return failures, fmt.Errorf("%s: %w", sc.name, err)
		}
		printTable(out, fmt.Sprintf("%s (%s)", sc.name, time.Since(t0).Round(time.Second)), rs, notes)
		for _, r := range rs {
			failures += r.failures()
		}
	}
	return failures, nil
}

// databaseOf is the database a PostgreSQL DSN names (no credentials).
func databaseOf(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return strings.TrimPrefix(u.Path, "/")
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
