package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/settlement-worker/settlement-worker/config"
	"github.com/settlement-worker/settlement-worker/ops"
	"github.com/settlement-worker/settlement-worker/providers/all"
	"github.com/settlement-worker/settlement-worker/store"
)

// The operator commands: thin wiring of package ops. They read AMQP_URL and
// STORE_DSN (config.Ops), never a provider's settings.

const opsEnvHelp = "It needs only AMQP_URL and STORE_DSN (the store is opened read-only, so it works\n" +
	"beside a running worker, SQLite included)."

// maskedIDHelp says how the commands that print settlements show an id
// holding a card number, and how to find its settlement.
const maskedIDHelp = "A card number a sender put in a request id, store id or order id is printed\n" +
	"masked (REQ-************1111), beside the provider, order, state and times that\n" +
	"tell the row; give the full request id, as the order system has it, to show and\n" +
	"--request-id.\n"

// opsRun runs f with the operator environment and a context that SIGINT
// and SIGTERM cancel. A configuration error exits 2, a failure 1.
func opsRun(c *cobra.Command, f func(ctx context.Context, e ops.Env) error) error {
	cfg, err := config.LoadOps()
	if err != nil {
		fmt.Fprintf(c.ErrOrStderr(), "%s: %v\n", c.CommandPath(), err)
		return exitCode(2)
	}
	keys, err := cfg.StoreKeys()
	if err != nil {
		return err
	}
	e := ops.Env{
		AMQPURL: cfg.AMQPURL, StoreDSN: cfg.StoreDSN, Providers: all.Providers.Names(), RetryDelays: cfg.RetryDelays, Keys: keys,
		Out: c.OutOrStdout(), Err: c.ErrOrStderr(), Progress: progressBars(c.ErrOrStderr()),
	}
	if d, err := c.Flags().GetDuration("timeout"); err == nil {
		e.Timeout = d
	}
	ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := f(ctx, e); err != nil {
		fmt.Fprintf(c.ErrOrStderr(), "%s: %v\n", c.CommandPath(), err)
		return exitCode(1)
	}
	return nil
}

// isTerminal reports whether w (or r) is a terminal.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressBars draws progress bars on w when it is a terminal.
func progressBars(w io.Writer) func(string, int) ops.Progress {
	if !isTerminal(w) {
		return nil
	}
	return func(label string, total int) ops.Progress {
		return bar{progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(label),
			progressbar.OptionShowCount(), progressbar.OptionSetWidth(30), progressbar.OptionThrottle(50*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }))}
	}
}

type bar struct{ b *progressbar.ProgressBar }

func (b bar) Set(n int) { _ = b.b.Set(n) }
func (b bar) Finish()   { _ = b.b.Finish() }

// ageValue is a duration flag that also takes days: 90m, 6h, 2d, 1d12h.
type ageValue struct{ d *time.Duration }

func (a ageValue) String() string {
	if a.d == nil || *a.d == 0 {
		return "0" // pflag shows no default for "0"
	}
	return a.d.String()
}

func (a ageValue) Type() string { return "duration" }

func (a ageValue) Set(s string) error {
	d, err := parseAge(s)
	if err != nil {
		return err
	}
	*a.d = d
	return nil
}

// maxAgeDays is the most days a time.Duration holds (about 292 years).
const maxAgeDays = math.MaxInt64 / int64(24*time.Hour)

// parseAge reads a duration that may start with days (2d, 1d12h). A
// negative age, or one beyond what a time.Duration holds, is refused:
// wrapped around or taken as is, it would be no filter at all, and a
// purge with it deletes every parked message.
func parseAge(s string) (time.Duration, error) {
	in := s
	bad := fmt.Errorf("%q is not a duration (e.g. 90m, 6h, 2d)", in)
	tooLong := fmt.Errorf("%q is too long: at most %dd", in, maxAgeDays)
	var days time.Duration
	if i := strings.Index(s, "d"); i > 0 {
		n, err := strconv.ParseInt(s[:i], 10, 64)
		switch {
		case errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(s, "-"):
			return 0, tooLong
		case err != nil || n < 0:
			return 0, bad
		case n > maxAgeDays:
			return 0, tooLong
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, bad
	}
	if d > math.MaxInt64-days {
		return 0, tooLong
	}
	return d + days, nil
}

// timeoutFlag adds --timeout, how long a command waits on a store or a
// broker that does not answer (ops.Env.Timeout; opsRun reads it).
func timeoutFlag(c *cobra.Command, what string) {
	d := ops.DefaultTimeout
	c.Flags().Var(timeoutValue{&d}, "timeout", "fail when "+what+" does not answer within this long")
}

// timeoutValue is a positive duration flag (a usage error otherwise).
type timeoutValue struct{ d *time.Duration }

func (v timeoutValue) String() string {
	if v.d == nil {
		return ops.DefaultTimeout.String()
	}
	return v.d.String()
}

func (v timeoutValue) Type() string { return "duration" }

func (v timeoutValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return fmt.Errorf("%q is not a positive duration (e.g. 30s, 5m)", s)
	}
	*v.d = d
	return nil
}

// checkProvider is a usage error for a provider this build does not know.
func checkProvider(p string) error {
	if p != "" && !slices.Contains(all.Providers.Names(), p) {
		return fmt.Errorf("unknown provider %q: want one of %s", p, strings.Join(all.Providers.Names(), ", "))
	}
	return nil
}

func providerList(p string) []string {
	if p == "" {
		return nil
	}
	return []string{p}
}

// filterFlags adds the parked message filters to c.
func filterFlags(c *cobra.Command, f *ops.Filter, provider *string) {
	c.Flags().StringVar(provider, "provider", "", "only this provider's parked queue (default: every provider's): "+strings.Join(all.Providers.Names(), ", "))
	c.Flags().StringVar(&f.RequestID, "request-id", "", "only the request with this requestId (or message_id)")
	c.Flags().StringVar(&f.Reason, "reason", "", "only messages whose parked reason contains this text (any case)")
	c.Flags().Var(ageValue{&f.OlderThan}, "older-than", "only messages parked at least this long ago (90m, 6h, 2d)")
	timeoutFlag(c, "the broker")
}

func newParkedCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "parked",
		Short: "List, replay or purge parked requests",
		Long: "parked reads the parked queues, where the worker puts the requests it cannot\n" +
			"settle without a person, with why, when and after how many attempts.\n" + opsEnvHelp,
		Example: "  settlement-worker parked ls\n" +
			"  settlement-worker parked replay --provider radial --reason 'provider down'",
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown command %q for %q", args[0], c.CommandPath())
			}
			return c.Help()
		},
	}
	c.AddCommand(newParkedLsCmd(), newParkedReplayCmd(), newParkedPurgeCmd())
	return c
}

func newParkedLsCmd() *cobra.Command {
	var (
		f        ops.Filter
		provider string
		asJSON   bool
	)
	c := &cobra.Command{
		Use:   "ls",
		Short: "List parked requests (nothing moves)",
		Long: "ls lists the parked requests of every provider (or of --provider): request id,\n" +
			"order, provider, attempts, when and why parked. It reads each parked queue and\n" +
			"puts every message back in its order (they are held unacked meanwhile, and\n" +
			"requeued together): nothing is lost or moved.\n" + maskedIDHelp + opsEnvHelp,
		Example: "  settlement-worker parked ls\n" +
			"  settlement-worker parked ls --provider radial --reason 'provider down' --older-than 2h\n" +
			"  settlement-worker parked ls --json | jq -r '.[].request_id'",
		Args: cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			return checkProvider(provider)
		},
		RunE: func(c *cobra.Command, _ []string) error {
			f.Providers = providerList(provider)
			return opsRun(c, func(ctx context.Context, e ops.Env) error { return ops.List(ctx, e, f, asJSON) })
		},
	}
	filterFlags(c, &f, &provider)
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return c
}

func newParkedReplayCmd() *cobra.Command {
	var (
		f        ops.Filter
		provider string
		o        ops.ReplayOptions
	)
	c := &cobra.Command{
		Use:   "replay",
		Short: "Move parked requests back to the queue they were parked from",
		Long: "replay moves the matching parked requests back to the queue they were parked\n" +
			"from (after the cause was fixed): the worker settles them again with a fresh\n" +
			"retry budget. It reads at most as many messages as each parked queue held when\n" +
			"it started; messages that do not match stay parked, untouched and in order.\n" +
			"A progress bar shows on a terminal, a summary line per queue otherwise.\n" +
			"A --request-id that no parked message has (a typo, the wrong --provider, a\n" +
			"second run) fails and moves nothing. " + opsEnvHelp,
		Example: "  settlement-worker parked replay --provider radial --reason 'provider down' --dry-run\n" +
			"  settlement-worker parked replay --provider radial --reason 'provider down'\n" +
			"  settlement-worker parked replay --request-id 7f3c2a --provider paysafe",
		Args: cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if o.Limit < 0 {
				return fmt.Errorf("--limit must be >= 0, got %d", o.Limit)
			}
			return checkProvider(provider)
		},
		RunE: func(c *cobra.Command, _ []string) error {
			f.Providers = providerList(provider)
			return opsRun(c, func(ctx context.Context, e ops.Env) error { return ops.Replay(ctx, e, f, o) })
		},
	}
	filterFlags(c, &f, &provider)
	c.Flags().IntVar(&o.Limit, "limit", 0, "move at most N messages in all (0: every match)")
	c.Flags().BoolVar(&o.DryRun, "dry-run", false, "list what would be replayed and move nothing")
	return c
}

func newParkedPurgeCmd() *cobra.Command {
	var (
		f        ops.Filter
		provider string
		limit    int
		yes      bool
		purgeAll bool
	)
	c := &cobra.Command{
		Use:   "purge",
		Short: "Delete parked requests for good",
		Long: "purge deletes the matching parked requests and parked provider statuses\n" +
			"(Radial's, matched by their message id with --request-id; the settlements keep\n" +
			"their records and parked reason in the store: see show). On a terminal it lists them and asks\n" +
			"for confirmation; --yes skips the question, and is required when stdin is not a\n" +
			"terminal. Bounded like replay; messages that do not match stay parked in order.\n" +
			"A --request-id that no parked message has fails and deletes nothing. Without\n" +
			"a filter it needs --all.\n" + opsEnvHelp,
		Example: "  settlement-worker parked purge --provider radial --request-id 7f3c2a\n" +
			"  settlement-worker parked purge --reason 'duplicate' --older-than 7d --yes",
		Args: cobra.NoArgs,
		PreRunE: func(c *cobra.Command, _ []string) error {
			if limit < 0 {
				return fmt.Errorf("--limit must be >= 0, got %d", limit)
			}
			if !yes && !isTerminal(c.InOrStdin()) {
				return fmt.Errorf("parked purge deletes messages: pass --yes (stdin is not a terminal, so it cannot ask)")
			}
			if !purgeAll && provider == "" && f.RequestID == "" && f.Reason == "" && f.OlderThan == 0 {
				return fmt.Errorf("parked purge without a filter deletes every parked message of every provider: name --provider, --request-id, --reason or --older-than, or pass --all")
			}
			return checkProvider(provider)
		},
		RunE: func(c *cobra.Command, _ []string) error {
			f.Providers = providerList(provider)
			o := ops.PurgeOptions{Limit: limit}
			return opsRun(c, func(ctx context.Context, e ops.Env) error {
				if !yes {
					o.Confirm = confirmer(ctx, c.InOrStdin(), c.ErrOrStderr())
				}
				return ops.Purge(ctx, e, f, o)
			})
		},
	}
	filterFlags(c, &f, &provider)
	c.Flags().IntVar(&limit, "limit", 0, "delete at most N messages in all (0: every match)")
	c.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	c.Flags().BoolVar(&purgeAll, "all", false, "allow a purge without a filter (every parked message of every provider)")
	return c
}

// confirmer asks on w whether to delete n parked messages and reads the
// answer from in: only "yes" confirms. Ctrl-C (ctx ending) answers no at
// once: opsRun catches SIGINT, so a read that ignored it would keep the
// person at the prompt.
func confirmer(ctx context.Context, in io.Reader, w io.Writer) func(n int) bool {
	r := bufio.NewReader(in)
	return func(n int) bool {
		fmt.Fprintf(w, "Delete these %d parked message(s) for good? Type yes to confirm: ", n)
		answer := make(chan string, 1)
		go func() { // left blocked on in after Ctrl-C; the process ends soon
			line, _ := r.ReadString('\n')
			answer <- line
		}()
		select {
		case line := <-answer:
			return strings.TrimSpace(strings.ToLower(line)) == "yes"
		case <-ctx.Done():
			fmt.Fprintln(w)
			return false
		}
	}
}

func newShowCmd() *cobra.Command {
	var (
		provider string
		asJSON   bool
	)
	c := &cobra.Command{
		Use:   "show REQUEST_ID",
		Short: "Show a settlement's whole history from the store",
		Long: "show prints a settlement from the store: amounts, state, attempts, provider\n" +
			"references, decline and parked reasons, every state change with its time, and\n" +
			"the status events recorded with their message_id and whether they were\n" +
			"published. Request and status bodies are never printed; the account is masked.\n" +
			"REQUEST_ID may also be the message_id of a status event not published yet (the\n" +
			"sweeper's \"relay MESSAGE_ID\" warning): its settlement is shown.\n" +
			"Without --provider every provider is searched.\n" + maskedIDHelp + opsEnvHelp,
		Example: "  settlement-worker show 7f3c2a\n" +
			"  settlement-worker show 7f3c2a --provider radial --json",
		Args: cobra.ExactArgs(1),
		PreRunE: func(*cobra.Command, []string) error {
			return checkProvider(provider)
		},
		RunE: func(c *cobra.Command, args []string) error {
			return opsRun(c, func(ctx context.Context, e ops.Env) error {
				return ops.Show(ctx, e, args[0], providerList(provider), asJSON)
			})
		},
	}
	timeoutFlag(c, "the store")
	c.Flags().StringVar(&provider, "provider", "", "the provider (default: search every provider)")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func newStuckCmd() *cobra.Command {
	var (
		states    []string
		provider  string
		olderThan time.Duration
		asJSON    bool
	)
	waiting := make([]string, len(ops.WaitingStates))
	for i, s := range ops.WaitingStates {
		waiting[i] = string(s)
	}
	c := &cobra.Command{
		Use:   "stuck",
		Short: "List settlements that have waited too long in a state",
		Long: "stuck lists the settlements last updated longer ago than --older-than (default\n" +
			"STUCK_AFTER, 1h) in the given states (default: every non-final state), by\n" +
			"provider and state, oldest first. Parked settlements are listed by parked ls.\n" +
			"The worker's sweeper resumes stuck settlements by itself; this shows what it\n" +
			"is waiting on.\n" + maskedIDHelp + opsEnvHelp,
		Example: "  settlement-worker stuck\n" +
			"  settlement-worker stuck --state pending --older-than 2d",
		Args: cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			for _, s := range states {
				if !slices.Contains(waiting, s) {
					return fmt.Errorf("unknown state %q: want one of %s", s, strings.Join(waiting, ", "))
				}
			}
			return checkProvider(provider)
		},
		RunE: func(c *cobra.Command, _ []string) error {
			return opsRun(c, func(ctx context.Context, e ops.Env) error {
				d := olderThan
				if !c.Flags().Changed("older-than") {
					cfg, _ := config.LoadOps()
					d = cfg.StuckAfter
				}
				var ss []store.State
				for _, s := range states {
					ss = append(ss, store.State(s))
				}
				return ops.Stuck(ctx, e, ss, providerList(provider), d, asJSON)
			})
		},
	}
	c.Flags().StringSliceVar(&states, "state", nil, "only these states (repeat or comma-separate): "+strings.Join(waiting, ", "))
	c.Flags().StringVar(&provider, "provider", "", "only this provider")
	c.Flags().Var(ageValue{&olderThan}, "older-than", "waiting longer than this (default STUCK_AFTER); 90m, 6h, 2d")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	timeoutFlag(c, "the store")
	return c
}

func newStatsCmd() *cobra.Command {
	var asJSON bool
	c := withJSON(&cobra.Command{
		Use:   "stats",
		Short: "Show queue depths and consumers, and settlements per state",
		Long: "stats prints, per provider, the ready messages and consumers of the request,\n" +
			"retry (named from RETRY_DELAYS) and parked queues, then the settlements per\n" +
			"provider and state with how many are parked and the oldest last update. If the\n" +
			"broker or the store cannot be reached, the other half is still printed.\n" + opsEnvHelp,
		Example: "  settlement-worker stats\n" +
			"  watch -n 10 settlement-worker stats",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return opsRun(c, func(ctx context.Context, e ops.Env) error { return ops.Stats(ctx, e, asJSON) })
		},
	}, &asJSON)
	timeoutFlag(c, "the store or the broker")
	return c
}

func withJSON(c *cobra.Command, asJSON *bool) *cobra.Command {
	c.Flags().BoolVar(asJSON, "json", false, "print JSON")
	return c
}

func newPublishCmd() *cobra.Command {
	var (
		o       ops.PublishOptions
		headers []string
	)
	c := &cobra.Command{
		Use:   "publish",
		Short: "Publish a settlement request by hand (and wait for its status)",
		Long: "publish sends the request in --file (XML or JSON: from the extension, else the\n" +
			"first character) as the order system does: to the payments.settlements exchange\n" +
			"with the provider's routing key, the store_id and tender_type headers,\n" +
			"persistent, with publisher confirms. With --wait it prints the request's status\n" +
			"event (from a temporary queue bound to the status exchange before publishing),\n" +
			"or fails when none comes in time. A request that fails validation, or lacks\n" +
			"the --tender its provider requires, is not published (the worker would refuse\n" +
			"its requestId for good) unless --force.\n" + opsEnvHelp,
		Example: "  settlement-worker publish --file request.xml --provider radial --store ABCXYZ --tender VC --wait 30s\n" +
			"  settlement-worker publish --file refund.json --provider paysafe --store S1 \\\n" +
			"      --header original_authorization_amount=25.00",
		Args: cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			o.Headers = map[string]string{}
			for _, h := range headers {
				k, v, ok := strings.Cut(h, "=")
				if !ok || k == "" {
					return fmt.Errorf("--header %q: want NAME=VALUE", h)
				}
				// The worker routes the status by store_id: a second
				// value would send it where --wait does not listen.
				if flag, own := map[string]string{"store_id": "--store", "tender_type": "--tender"}[strings.ToLower(strings.TrimSpace(k))]; own {
					return fmt.Errorf("--header %q: set %s with %s", h, k, flag)
				}
				o.Headers[k] = v
			}
			if o.Wait < 0 {
				return fmt.Errorf("--wait must be >= 0, got %s", o.Wait)
			}
			if err := checkProvider(o.Provider); err != nil {
				return err
			}
			if reg, ok := all.Providers.Lookup(o.Provider); ok {
				o.RequireTenderType = reg.NewSection().Facts().RequireTenderType
			}
			return nil
		},
		RunE: func(c *cobra.Command, _ []string) error {
			return opsRun(c, func(ctx context.Context, e ops.Env) error { return ops.Publish(ctx, e, o) })
		},
	}
	c.Flags().StringVar(&o.File, "file", "", "the request, XML or JSON (required)")
	c.Flags().StringVar(&o.Provider, "provider", "", "the provider: "+strings.Join(all.Providers.Names(), ", ")+" (required)")
	c.Flags().StringVar(&o.StoreID, "store", "", "the store_id header (required)")
	c.Flags().StringVar(&o.TenderType, "tender", "", "the tender_type header (Radial requires it)")
	c.Flags().StringArrayVar(&headers, "header", nil, "another header, NAME=VALUE (repeatable)")
	c.Flags().DurationVar(&o.Wait, "wait", 0, "wait this long for the status event and print it (0: do not wait)")
	c.Flags().BoolVar(&o.Force, "force", false, "publish even a request the worker will refuse (its requestId gets status R for good)")
	for _, f := range []string{"file", "provider", "store"} {
		_ = c.MarkFlagRequired(f)
	}
	return c
}

func newTailCmd() *cobra.Command {
	var o ops.TailOptions
	c := &cobra.Command{
		Use:   "tail",
		Short: "Print status events as they are published (Ctrl-C stops)",
		Long: "tail prints every PaymentSettlementStatus event published (one line each: time,\n" +
			"provider, request id, order, status, decline reason) from a temporary\n" +
			"auto-delete queue bound to the status exchange: it takes nothing from the\n" +
			"queues the order systems read. It stops on Ctrl-C. " + opsEnvHelp,
		Example: "  settlement-worker tail\n" +
			"  settlement-worker tail --store ABCXYZ --provider radial | grep rejected",
		Args: cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			return checkProvider(o.Provider)
		},
		RunE: func(c *cobra.Command, _ []string) error {
			return opsRun(c, func(ctx context.Context, e ops.Env) error { return ops.Tail(ctx, e, o) })
		},
	}
	c.Flags().StringVar(&o.StoreID, "store", "", "only this store's events")
	c.Flags().StringVar(&o.Provider, "provider", "", "only this provider's events")
	return c
}

func newRetentionCmd() *cobra.Command {
	var (
		olderThan time.Duration
		limit     int
	)
	c := &cobra.Command{
		Use:   "retention",
		Short: "Empty the bodies of settlements finished long ago (card data at rest)",
		Long: "retention empties the request and published status bodies (which may hold\n" +
			"raw card numbers) of settlements finished (settled, refused, withheld; not\n" +
			"parked) longer ago than --older-than. Their record stays: ids, amounts,\n" +
			"states, history, provider references. A later duplicate of one is parked,\n" +
			"not republished. It writes to the store: with SQLite, run it while the\n" +
			"worker is stopped, or set BODY_RETENTION and let the worker's sweeper do it.\n" +
			"A STORE_DSN naming no existing store fails (nothing is created).",
		Example: "  settlement-worker retention --older-than 2160h\n" +
			"  settlement-worker retention --older-than 720h --limit 10000",
		Args: cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			// It writes: a negative --limit would mean no cap.
			if limit < 0 {
				return fmt.Errorf("--limit must be >= 0, got %d", limit)
			}
			if olderThan <= 0 {
				return fmt.Errorf("--older-than must be positive, got %s", olderThan)
			}
			return nil
		},
		RunE: func(c *cobra.Command, _ []string) error {
			return opsRun(c, func(ctx context.Context, e ops.Env) error {
				return ops.Retention(ctx, e, olderThan, limit)
			})
		},
	}
	c.Flags().DurationVar(&olderThan, "older-than", 2160*time.Hour, "finished longer ago than this")
	c.Flags().IntVar(&limit, "limit", 0, "at most this many settlements (0: all)")
	timeoutFlag(c, "the store (per batch of 1000 settlements)")
	return c
}
