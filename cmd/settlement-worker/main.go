// Command settlement-worker settles payment requests from RabbitMQ with
// payment providers and publishes PaymentSettlementStatus events.
//
// It is the composition root: it reads the configuration, builds the
// provider clients and hands everything to worker.Run. `--help` prints the
// environment variables.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/config"
	"github.com/settlement-worker/settlement-worker/worker"
)

func main() {
	for _, a := range os.Args[1:] {
		if a == "--help" || a == "-h" || a == "help" {
			config.PrintHelp(os.Stdout)
			fmt.Println("\nCommands:\n  settlement-worker                   run the worker\n  settlement-worker replay-parked P   move provider P's parked requests back to its request queue")
			return
		}
	}
	if len(os.Args) > 1 && os.Args[1] == "replay-parked" {
		os.Exit(replayParked(os.Args[2:]))
	}
	log := zerolog.New(os.Stderr).With().Timestamp().Str("service", "settlement-worker").Logger()
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		fmt.Fprintln(os.Stderr, "\nRun settlement-worker --help for the list of variables.")
		os.Exit(2)
	}
	level, _ := zerolog.ParseLevel(cfg.LogLevel)
	log = log.Level(level)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	clients, err := providerClients(cfg)
	if err != nil {
		log.Fatal().Err(err).Msg("provider clients")
	}
	deps := worker.Deps{Providers: clients}
	if cfg.CrashAt != "" {
		log.Warn().Str("crash_at", cfg.CrashAt).Msg("TEST MODE: the worker will SIGKILL itself at this crash point")
		deps.Crash = func(point string) {
			if point == cfg.CrashAt {
				log.Warn().Str("crash_point", point).Msg("crash point reached: SIGKILL")
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		}
	}
	if err := worker.Run(ctx, cfg, deps, log); err != nil {
		log.Error().Err(err).Msg("worker stopped with an error")
		os.Exit(1)
	}
	log.Info().Msg("worker stopped")
}

// replayParked moves a provider's parked requests back to its request queue
// (after the cause was fixed): settlement-worker replay-parked radial [N].
func replayParked(args []string) int {
	if len(args) < 1 {
		fmt.Fprintln(os.Stderr, "usage: settlement-worker replay-parked PROVIDER [LIMIT]")
		return 2
	}
	limit := 0
	if len(args) > 1 {
		if _, err := fmt.Sscan(args[1], &limit); err != nil {
			fmt.Fprintln(os.Stderr, "LIMIT must be a number")
			return 2
		}
	}
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	p := args[0]
	res, err := broker.Replay(context.Background(), cfg.AMQPURL, broker.ReplayOptions{Parked: broker.ParkedQueue(p), Fallback: broker.RequestQueue(p), Limit: limit})
	n := res.Moved
	fmt.Printf("replayed %d message(s) from %s\n", n, broker.ParkedQueue(p))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
