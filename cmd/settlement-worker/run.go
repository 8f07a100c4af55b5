package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/config"
	"github.com/settlement-worker/settlement-worker/providers/all"
	"github.com/settlement-worker/settlement-worker/store"
	"github.com/settlement-worker/settlement-worker/tracing"
	"github.com/settlement-worker/settlement-worker/worker"
)

// run runs the worker until SIGTERM or SIGINT and returns the process's exit
// code: 2 for a configuration error (also STORE_ENCRYPTION_KEY not matching
// the store's key, store.ErrKeyMismatch), 1 when the worker stops with an error.
func run() int {
	log := zerolog.New(os.Stderr).With().Timestamp().Str("service", "settlement-worker").Logger()
	cfg, err := config.Load(all.Providers)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		fmt.Fprintln(os.Stderr, "\nRun settlement-worker --help for the list of variables.")
		return 2
	}
	level, _ := zerolog.ParseLevel(cfg.LogLevel)
	log = log.Level(level)
	log.Debug().Str("gogc", worker.TuneGC(os.Getenv)).Msg("garbage collector target")

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	shutdownTracing, err := tracing.Setup(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdownTracing(sctx); err != nil {
			log.Warn().Err(err).Msg("flushing traces")
		}
	}()
	if tracing.Enabled() {
		log.Info().Msg("tracing: exporting spans over OTLP (OTEL_* variables)")
	}

	clients, err := providerClients(cfg)
	if err != nil {
		log.Error().Err(err).Msg("provider clients")
		return 2
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
		if errors.Is(err, store.ErrKeyMismatch) {
			return 2 // a configuration error, found in the store
		}
		return 1
	}
	log.Info().Msg("worker stopped")
	return 0
}
