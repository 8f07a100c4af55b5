package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/config"
	"github.com/settlement-worker/settlement-worker/providers/all"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitCode is an error that carries the process's exit code: a command that
// ran and failed. Any other error from the command line (unknown command or
// flag, bad arguments) is a usage error: exit code 2 with the usage.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit code %d", int(c)) }

// execute runs the command line args and returns the exit code.
func execute(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	var code exitCode
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	default:
		if cmd == nil {
			cmd = root
		}
		fmt.Fprintf(stderr, "Error: %v\n\n%s", err, cmd.UsageString())
		return 2
	}
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "settlement-worker",
		Short: "Settle payment requests from RabbitMQ with payment providers",
		Long: "settlement-worker settles payment requests from RabbitMQ with payment providers\n" +
			"and publishes PaymentSettlementStatus events. Without a command it runs the worker.",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE:          runWorker,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return err })
	defaultHelp := root.HelpFunc()
	root.SetHelpFunc(func(c *cobra.Command, args []string) {
		defaultHelp(c, args)
		if c == root || c.Name() == "run" {
			fmt.Fprintln(c.OutOrStdout())
			config.PrintHelp(c.OutOrStdout(), all.Providers)
		}
	})
	root.AddCommand(
		&cobra.Command{
			Use:   "run",
			Short: "Run the worker (the default)",
			Args:  cobra.NoArgs,
			RunE:  runWorker,
		},
		newReplayCmd(),
		&cobra.Command{
			Use:   "version",
			Short: "Print the version",
			Args:  cobra.NoArgs,
			Run: func(c *cobra.Command, _ []string) {
				fmt.Fprintln(c.OutOrStdout(), "settlement-worker", buildVersion())
			},
		},
	)
	return root
}

func runWorker(*cobra.Command, []string) error {
	if code := run(); code != 0 {
		return exitCode(code)
	}
	return nil
}

func newReplayCmd() *cobra.Command {
	var (
		limit  int
		dryRun bool
	)
	c := &cobra.Command{
		Use:   "replay-parked PROVIDER",
		Short: "Move a provider's parked requests back to the queue they were parked from",
		Long: "replay-parked moves PROVIDER's parked requests back to the queue they were\n" +
			"parked from (after the cause was fixed), at most as many as were parked when\n" +
			"it started. It needs only AMQP_URL (default " + amqpURLDefault() + ").\n" +
			"PROVIDER is one of: " + strings.Join(all.Providers.Names(), ", ") + ".",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("replay-parked takes one PROVIDER (%s), got %d argument(s)", strings.Join(all.Providers.Names(), ", "), len(args))
			}
			if !slices.Contains(all.Providers.Names(), args[0]) {
				return fmt.Errorf("unknown provider %q: want one of %s", args[0], strings.Join(all.Providers.Names(), ", "))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if limit < 0 {
				return fmt.Errorf("--limit must be >= 0, got %d", limit)
			}
			ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return replayParked(ctx, c.OutOrStdout(), c.ErrOrStderr(), args[0], limit, dryRun)
		},
	}
	c.Flags().IntVar(&limit, "limit", 0, "move at most N messages (0: all that were parked at the start)")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be replayed and move nothing")
	return c
}

// replayParked replays provider p's parked queue and prints a summary.
func replayParked(ctx context.Context, stdout, stderr io.Writer, p string, limit int, dryRun bool) error {
	amqpURL := os.Getenv("AMQP_URL")
	if amqpURL == "" {
		amqpURL = amqpURLDefault()
	}
	parked := broker.ParkedQueue(p)
	res, err := broker.Replay(ctx, amqpURL, broker.ReplayOptions{
		Parked: parked, Fallback: broker.RequestQueue(p), Limit: limit, DryRun: dryRun,
	})
	if dryRun {
		for _, m := range res.Messages {
			fmt.Fprintf(stdout, "%s\treason=%q\t-> %s\n", m.RequestID, m.Reason, m.Target)
		}
		fmt.Fprintf(stdout, "would replay %d of %d parked message(s) from %s\n", len(res.Messages), res.Parked, parked)
	} else {
		fmt.Fprintf(stdout, "replayed %d of %d parked message(s) from %s\n", res.Moved, res.Parked, parked)
	}
	if err != nil {
		fmt.Fprintln(stderr, "replay-parked:", err)
		return exitCode(1)
	}
	return nil
}

// amqpURLDefault is AMQP_URL's default from the configuration.
func amqpURLDefault() string {
	for _, v := range config.Vars(all.Providers) {
		if v.Name == "AMQP_URL" {
			return v.Default
		}
	}
	return ""
}

func buildVersion() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				v += " (" + s.Value + ")"
			}
		}
	}
	return v
}
