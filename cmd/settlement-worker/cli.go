package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/settlement-worker/settlement-worker/config"
	"github.com/settlement-worker/settlement-worker/ops"
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
			"and publishes PaymentSettlementStatus events. Without a command it runs the worker.\n" +
			"The operator commands (parked, show, stuck, stats, publish, tail) need only\n" +
			"AMQP_URL and STORE_DSN.",
		Example: "  settlement-worker                      # run the worker\n" +
			"  settlement-worker stats                # queues and settlements at a glance\n" +
			"  settlement-worker parked ls            # what needs a person\n" +
			"  settlement-worker show REQUEST_ID      # one settlement's history",
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
			Use:     "run",
			Short:   "Run the worker (the default)",
			Example: "  settlement-worker run\n  PROVIDERS=radial,paysafe STORE_DSN=postgres://… settlement-worker",
			Args:    cobra.NoArgs,
			RunE:    runWorker,
		},
		newParkedCmd(),
		newReplayCmd(),
		newShowCmd(),
		newStuckCmd(),
		newRetentionCmd(),
		newStatsCmd(),
		newPublishCmd(),
		newTailCmd(),
		&cobra.Command{
			Use:     "version",
			Short:   "Print the version",
			Example: "  settlement-worker version",
			Args:    cobra.NoArgs,
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
	var o ops.ReplayOptions
	c := &cobra.Command{
		Use:   "replay-parked PROVIDER",
		Short: "Replay a provider's parked requests (same as parked replay --provider PROVIDER)",
		Long: "replay-parked moves PROVIDER's parked requests back to the queue they were\n" +
			"parked from (after the cause was fixed), at most as many as were parked when\n" +
			"it started. It is kept for compatibility: parked replay --provider PROVIDER\n" +
			"does the same and filters. It needs only AMQP_URL (default " + amqpURLDefault() + ").\n" +
			"PROVIDER is one of: " + strings.Join(all.Providers.Names(), ", ") + ".",
		Example: "  settlement-worker replay-parked radial --dry-run\n" +
			"  settlement-worker replay-parked radial --limit 10",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("replay-parked takes one PROVIDER (%s), got %d argument(s)", strings.Join(all.Providers.Names(), ", "), len(args))
			}
			return checkProvider(args[0])
		},
		PreRunE: func(*cobra.Command, []string) error {
			if o.Limit < 0 {
				return fmt.Errorf("--limit must be >= 0, got %d", o.Limit)
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			return opsRun(c, func(ctx context.Context, e ops.Env) error {
				return ops.Replay(ctx, e, ops.Filter{Providers: args}, o)
			})
		},
	}
	c.Flags().IntVar(&o.Limit, "limit", 0, "move at most N messages (0: all that were parked at the start)")
	timeoutFlag(c, "the broker")
	c.Flags().BoolVar(&o.DryRun, "dry-run", false, "list what would be replayed and move nothing")
	return c
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
