// Command settlement-demo runs the settlement worker end to end on a local
// broker, for `make demo`: it builds the worker and the provider sandbox,
// starts both as subprocesses with every provider enabled (radial,
// paysafe, frisbii, miva), the HTTP intake and the status webhook, seeds
// each provider sandbox through its admin API, and sends example
// settlement requests:
//
//   - Radial over AMQP: the seed's two examples and one request per
//     interesting path (funds check failed, credit, invalid, declined,
//     chargeback, transient 503s, unparseable, duplicate);
//   - Paysafe, Frisbii and Miva over AMQP: a debit, a funds-check refusal,
//     a credit of the debit, and a provider decline each;
//   - the HTTP intake: the seed RetailOPS order_settle_payment webhook
//     posted twice (one settlement), and a PaymentSettlementRequestList
//     of two posted to the Radial-format endpoint.
//
// It prints every status event as it arrives (and every batch the webhook
// receives), then a summary per provider and intake that checks each
// outcome against what the README promises and against the provider
// sandbox's ledger (exactly one debit per debit request). It exits
// non-zero when anything did not match.
//
// Environment (what scripts/rabbitmq.sh start prints):
//
//	AMQP_URL                 our broker (default amqp://guest:guest@127.0.0.1:5672/)
//	RADIAL_AMQP_URL          Radial's vhost (default: AMQP_URL's broker, vhost radial)
//	RABBITMQ_MANAGEMENT_URL  only printed, for inspecting queues
//	SETTLEMENT_DEMO_BROKER_STOP  how to stop the broker (printed at the end)
//
// The broker is left running; the worker and the sandbox are always stopped
// (also on errors and Ctrl-C).
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
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
)

// Exit codes.
const (
	exitOK          = 0
	exitMismatch    = 1
	exitSetup       = 2
	exitInterrupted = 130
)

func main() {
	os.Exit(run())
}

// options are the command line and environment.
type options struct {
	timeout     time.Duration // for the outcomes, from the first publish
	amqpURL     string
	radialURL   string
	mgmtURL     string
	brokerStop  string
	statusQueue string // ours, declared by the worker
	radialQueue string // Radial's, declared by the sandbox
}

func parseOptions() (options, error) {
	o := options{}
	fs := flag.NewFlagSet("settlement-demo", flag.ContinueOnError)
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "how long to wait for every expected outcome")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: settlement-demo [-timeout 60s]   (normally: make demo)")
		fmt.Fprintln(fs.Output(), "Environment: AMQP_URL, RADIAL_AMQP_URL (as printed by scripts/rabbitmq.sh start).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		return o, err
	}
	o.amqpURL = envOr("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
	o.radialURL = os.Getenv("RADIAL_AMQP_URL")
	if o.radialURL == "" {
		u, err := url.Parse(o.amqpURL)
		if err != nil {
			return o, fmt.Errorf("AMQP_URL is not a URL: %w", err)
		}
		u.Path, u.RawPath = "/radial", ""
		o.radialURL = u.String()
	}
	o.mgmtURL = os.Getenv("RABBITMQ_MANAGEMENT_URL")
	o.brokerStop = envOr("SETTLEMENT_DEMO_BROKER_STOP", "make broker-down")
	o.statusQueue = broker.StatusQueueName(broker.Username(o.amqpURL))
	o.radialQueue = broker.StatusQueueName(broker.Username(o.radialURL))
	return o, nil
}

func envOr(k, def string) string {
	if v := strings.TrimSpace(os.Getenv(k)); v != "" {
		return v
	}
	return def
}

func run() int {
	o, err := parseOptions()
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "settlement-demo:", err)
		return exitSetup
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	d := &demo{opt: o, out: newPrinter(os.Stdout), runID: newRunID()}
	return d.run(ctx)
}

// newRunID returns a short id that makes this run's requestIds and order ids
// unique: the time in milliseconds, base 36, last 6 characters.
func newRunID() string {
	s := strconv.FormatInt(time.Now().UnixMilli(), 36)
	return s[len(s)-6:]
}

// demo is one run.
type demo struct {
	opt   options
	out   *printer
	runID string

	root    string      // module root
	dir     string      // temp dir: logs, store
	urls    sandboxURLs // the sandbox's base URLs, as the worker uses them
	sandbox *proc
	worker  *proc
	bus     *bus
	intake  *intakeClient
	webhook *webhookReceiver
	tracker atomic.Pointer[tracker]
}

// run does the whole demo and returns the exit code. Every started process
// is stopped before it returns.
func (d *demo) run(ctx context.Context) int {
	start := time.Now()
	d.out.header(fmt.Sprintf("settlement-worker demo, run %s", d.runID))
	d.out.say("broker %s   radial vhost %s", broker.Redact(d.opt.amqpURL), broker.Redact(d.opt.radialURL))
	if d.opt.mgmtURL != "" {
		d.out.say("management UI %s", redactHTTP(d.opt.mgmtURL))
	}

	code := exitOK
	var res *results
	err := d.setup(ctx)
	if err != nil {
		code = exitSetup
		if ctx.Err() == nil {
			d.out.fail("setup: %v", err)
		}
	} else {
		res, err = d.scenarios(ctx)
		switch {
		case ctx.Err() != nil:
			code = exitInterrupted
		case res == nil:
			d.out.fail("%v", err)
			code = exitSetup
		case err != nil: // printed before the summary
			code = exitMismatch
		case !res.ok():
			code = exitMismatch
		}
	}
	if ctx.Err() != nil {
		code = exitInterrupted
		d.out.fail("interrupted: stopping the worker and the sandbox")
	}
	if c := d.shutdown(); c != exitOK && code == exitOK {
		code = c
	}

	d.out.say("")
	switch {
	case code == exitInterrupted:
		d.out.say("INTERRUPTED after %s: the worker and the sandbox were stopped", since(start))
	case code == exitOK:
		d.out.say("PASS: all %d requests of %d providers and 2 HTTP intakes ended as expected, one ledger entry each at most; worker stopped cleanly (%s)",
			len(res.scs), len(allProviders), since(start))
	case res != nil:
		d.out.say("FAIL: see the !! lines above (%s)", since(start))
	default:
		d.out.say("FAIL: the demo could not run (%s)", since(start))
	}
	if d.dir != "" {
		d.out.say("logs and store of this run: %s", d.dir)
	}
	d.out.say("the broker keeps running; stop it with: %s", d.opt.brokerStop)
	return code
}

// setup builds the binaries, checks the broker, starts the sandbox and the
// worker and subscribes to our status queue.
func (d *demo) setup(ctx context.Context) error {
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	d.root = root
	d.dir, err = os.MkdirTemp("", "settlement-demo-"+d.runID+"-")
	if err != nil {
		return err
	}

	d.out.section("setup")
	t := time.Now()
	bins, err := build(ctx, root, "settlement-worker", "provider-sandbox")
	if err != nil {
		return err
	}
	d.out.step("built %s, %s (%s)", rel(root, bins[0]), rel(root, bins[1]), since(t))

	if d.bus, err = dialBus(d.opt.amqpURL, d.opt.radialURL); err != nil {
		return err
	}
	if err := d.bus.checkNobodyElseConsumes(d.opt.radialQueue); err != nil {
		return err
	}
	if n, queues := d.bus.leftovers(); n > 0 {
		d.out.step("note: %d request(s) of earlier runs wait in %s; the worker will settle them too (their status events are ignored here)", n, strings.Join(queues, ", "))
	}

	t = time.Now()
	sbAddr, err := freeAddr()
	if err != nil {
		return err
	}
	d.sandbox, err = startProc(ctx, "provider-sandbox", bins[1], filepath.Join(d.dir, "sandbox.log"), []string{
		"SANDBOX_ADDR=" + sbAddr,
		"SANDBOX_RADIAL_AMQP_URL=" + d.opt.radialURL,
		"SANDBOX_RADIAL_API_KEY=" + apiKey,
		"SANDBOX_RADIAL_STATUS_QUEUE=" + d.opt.radialQueue,
		"SANDBOX_RADIAL_STATUS_DELAY=" + sandboxStatusDelay.String(),
		"SANDBOX_PAYSAFE_USERNAME=" + paysafeUser,
		"SANDBOX_PAYSAFE_PASSWORD=" + paysafePassword,
		"SANDBOX_PAYSAFE_BATCH_INTERVAL=" + paysafeBatch.String(),
		"SANDBOX_FRISBII_API_KEY=" + frisbiiAPIKey,
		"SANDBOX_MIVA_API_TOKEN=" + mivaToken,
		"SANDBOX_MIVA_STORE_CODE=" + mivaStoreCode,
		"SANDBOX_MIVA_CURRENCY=" + currency,
		"SANDBOX_LOG_LEVEL=info",
	})
	if err != nil {
		return err
	}
	if err := d.sandbox.waitHTTP(ctx, "http://"+sbAddr+"/healthz", 20*time.Second); err != nil {
		return err
	}
	d.urls = urlsOf("http://" + sbAddr)
	d.out.step("sandbox  http://%s  pid %d (%s)  log %s", sbAddr, d.sandbox.pid(), since(t), d.sandbox.logPath)
	d.out.say("           /radial   status delay %s, Radial's status queue %s", sandboxStatusDelay, d.opt.radialQueue)
	d.out.say("           /paysafe  batches PENDING settlements and refunds every %s", paysafeBatch)
	d.out.say("           /frisbii  /miva (store code %s)", mivaStoreCode)

	if d.webhook, err = startWebhook(d.out); err != nil {
		return err
	}
	d.webhook.tr = d.tracker.Load
	d.out.step("webhook  receiver %s (basic auth), prints every PaymentSettlementStatusList the worker POSTs", d.webhook.url)

	t = time.Now()
	httpAddr, err := freeAddr()
	if err != nil {
		return err
	}
	intakeAddr, err := freeAddr()
	if err != nil {
		return err
	}
	d.worker, err = startProc(ctx, "settlement-worker", bins[0], filepath.Join(d.dir, "worker.log"), []string{
		"AMQP_URL=" + d.opt.amqpURL,
		"PROVIDERS=" + strings.Join(allProviders, ","),
		"RADIAL_AMQP_URL=" + d.opt.radialURL,
		"RADIAL_STATUS_QUEUE=" + d.opt.radialQueue,
		"RADIAL_BASE_URL=" + d.urls.radial,
		"RADIAL_API_KEY=" + apiKey,
		"PAYSAFE_BASE_URL=" + d.urls.paysafe,
		"PAYSAFE_USERNAME=" + paysafeUser,
		"PAYSAFE_PASSWORD=" + paysafePassword,
		"PAYSAFE_ACCOUNTS=" + paysafeStore + ":" + paysafeAccount,
		"PAYSAFE_CURRENCIES=" + paysafeAccount + ":" + currency,
		"PAYSAFE_RECHECK_AFTER=" + paysafeRecheck.String(),
		"FRISBII_BASE_URL=" + d.urls.frisbii,
		"FRISBII_API_KEY=" + frisbiiAPIKey,
		"FRISBII_REFUND_RECHECK=" + paysafeRecheck.String(),
		"MIVA_BASE_URL=" + d.urls.miva,
		"MIVA_STORE_CODE=" + mivaStoreCode,
		"MIVA_API_TOKEN=" + mivaToken,
		"INTAKE_ADDR=" + intakeAddr,
		"INTAKE_RETAILOPS_AUTH_KEYS=" + intakeRetailOPSKey,
		"INTAKE_RETAILOPS_CHANNELS=" + retailOPSChannel + "=" + provMiva + ":" + mivaStore + ":" + retailOPSTender + ":" + currency,
		"INTAKE_RADIAL_API_KEYS=" + intakeRadialKey,
		"WEBHOOK_URL=" + d.webhook.url,
		"WEBHOOK_AUTH_MODE=basic",
		"WEBHOOK_USERNAME=" + webhookUser,
		"WEBHOOK_PASSWORD=" + webhookPassword,
		"WEBHOOK_QUEUE=" + webhookQueue,
		"WEBHOOK_BATCH_WAIT=200ms",
		"WEBHOOK_RETRY_INITIAL=200ms",
		"STORE_DSN=sqlite:" + filepath.Join(d.dir, "demo.db"),
		"RETRY_DELAYS=" + retryDelays,
		"MAX_ATTEMPTS=" + strconv.Itoa(maxAttempts),
		// A reply lost in a scenario is reconciled after the settle window.
		"RADIAL_TIMEOUT=2s", "PAYSAFE_TIMEOUT=2s", "FRISBII_TIMEOUT=2s", "MIVA_TIMEOUT=2s",
		"RADIAL_SETTLE_WINDOW=3s", "PAYSAFE_SETTLE_WINDOW=3s", "FRISBII_SETTLE_WINDOW=3s", "MIVA_SETTLE_WINDOW=3s",
		"HTTP_ADDR=" + httpAddr,
		"LOG_LEVEL=warn",
		"SHUTDOWN_TIMEOUT=10s",
	})
	if err != nil {
		return err
	}
	if err := d.worker.waitHTTP(ctx, "http://"+httpAddr+"/readyz", 60*time.Second); err != nil {
		return err
	}
	if err := d.worker.waitHTTP(ctx, "http://"+intakeAddr+"/readyz", 20*time.Second); err != nil {
		return err
	}
	d.intake = &intakeClient{base: "http://" + intakeAddr, hc: newHTTPClient(), out: d.out}
	d.out.step("worker   ready (GET /readyz 200 on %s and on the intake %s)  pid %d (%s)  log %s",
		httpAddr, intakeAddr, d.worker.pid(), since(t), d.worker.logPath)
	d.out.say("           PROVIDERS=%s, RETRY_DELAYS=%s, MAX_ATTEMPTS=%d, PAYSAFE_RECHECK_AFTER=%s",
		strings.Join(allProviders, ","), retryDelays, maxAttempts, paysafeRecheck)
	d.out.say("           intake: POST /orders (RetailOPS channel %s → %s, store %s), POST /radial/settlements (→ radial)",
		retailOPSChannel, provMiva, mivaStore)
	d.out.say("           webhook: queue %s → %s", webhookQueue, d.webhook.url)
	return nil
}

// shutdown stops the worker (SIGTERM, expecting exit 0) and the sandbox.
func (d *demo) shutdown() int {
	code := exitOK
	if d.bus != nil {
		d.bus.close()
	}
	if d.worker != nil || d.sandbox != nil {
		d.out.section("shutdown")
	}
	if d.worker != nil {
		exit, took, err := d.worker.stop(20 * time.Second)
		switch {
		case err != nil:
			d.out.fail("worker: %v", err)
			code = exitMismatch
		case exit != 0:
			d.out.fail("worker exited with status %d after SIGTERM (expected 0); log %s", exit, d.worker.logPath)
			code = exitMismatch
		default:
			d.out.step("worker stopped on SIGTERM: exit 0 in %s", took.Round(time.Millisecond))
		}
		warns, errs, lines := d.worker.logLevels()
		d.out.step("worker log: %s; %d error(s)  %s", countsOf(warns, "warning"), errs, d.worker.logPath)
		for _, l := range lines {
			d.out.say("      %s", l)
		}
	}
	if d.webhook != nil {
		d.webhook.stop()
	}
	if d.sandbox != nil {
		exit, took, err := d.sandbox.stop(15 * time.Second)
		switch {
		case err != nil:
			d.out.fail("sandbox: %v", err)
		case exit != 0:
			d.out.fail("sandbox exited with status %d; log %s", exit, d.sandbox.logPath)
		default:
			d.out.step("sandbox stopped: exit 0 in %s", took.Round(time.Millisecond))
		}
	}
	return code
}

// countsOf renders message counts: `3 warnings ("a" ×2, "b")`.
func countsOf(m map[string]int, noun string) string {
	total := 0
	keys := make([]string, 0, len(m))
	for k, n := range m {
		total += n
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		part := strconv.Quote(k)
		if m[k] > 1 {
			part += fmt.Sprintf(" ×%d", m[k])
		}
		parts = append(parts, part)
	}
	s := fmt.Sprintf("%d %s(s)", total, noun)
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

func since(t time.Time) string { return time.Since(t).Round(10 * time.Millisecond).String() }

func rel(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil {
		return r
	}
	return p
}

// redactHTTP hides the password of an http URL.
func redactHTTP(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
