// Command provider-sandbox serves faithful sandboxes of the payment
// providers settlement-worker talks to, for demos and end-to-end tests where
// the real providers cannot be reached. It mounts Radial under /radial (the
// worker's RADIAL_BASE_URL is then http://<addr>/radial), Paysafe under
// /paysafe, Frisbii under /frisbii and Miva under /miva, and answers
// GET /healthz. It is configured by environment variables only; run it with
// --help for the table.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/sandbox/radial"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "provider-sandbox:", err)
		os.Exit(1)
	}
}

// run parses the command line and the environment, serves until ctx ends or
// SIGTERM/SIGINT arrives, and shuts down cleanly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("provider-sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
		} else {
			usage(stderr)
		}
		return err
	}
	if fs.NArg() > 0 {
		usage(stderr)
		return fmt.Errorf("unexpected arguments %q: configure with environment variables", fs.Args())
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := zerolog.New(stdout).Level(cfg.logLevel).With().Timestamp().Str("service", "provider-sandbox").Logger()

	sb, err := radial.NewSandbox(radial.Config{
		Prefix:        "/radial",
		APIKey:        cfg.radialAPIKey,
		StatusAMQPURL: cfg.radialAMQPURL,
		StatusQueue:   cfg.radialStatusQueue,
		StatusDelay:   cfg.radialStatusDelay,
		Logger:        log.With().Str("provider", "radial").Logger(),
	})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := sb.Start(ctx); err != nil {
		_ = sb.Close()
		return fmt.Errorf("starting the radial status publisher: %w", err)
	}

	others, err := otherSandboxes(cfg, log)
	if err != nil {
		_ = sb.Close()
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/radial/", sb.Handler())
	for _, o := range others {
		mux.Handle(o.prefix+"/", o.handler)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok","providers":["radial","paysafe","frisbii","miva"]}`+"\n")
	})
	srv := &http.Server{
		Handler:           accessLog(log, mux),
		ReadHeaderTimeout: 10 * time.Second,
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		_ = sb.Close()
		return fmt.Errorf("listening on %s: %w", cfg.addr, err)
	}
	log.Info().Str("addr", ln.Addr().String()).Str("radial_base_url", "http://"+ln.Addr().String()+"/radial").
		Str("radial_status_queue", cfg.radialStatusQueue).Str("radial_amqp_url", redactURL(cfg.radialAMQPURL)).
		Dur("radial_status_delay", cfg.radialStatusDelay).Msg("provider sandbox listening")

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		_ = sb.Close()
		for _, o := range others {
			_ = o.close()
		}
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down")
	// Closing the sandbox first releases calls held by a "hang" fault, so
	// that Shutdown can finish.
	closeErr := sb.Close()
	for _, o := range others {
		_ = o.close()
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down the HTTP server: %w", err)
	}
	if closeErr != nil {
		log.Warn().Err(closeErr).Msg("radial sandbox closed with unpublished statuses")
	}
	log.Info().Msg("stopped")
	return nil
}

// accessLog logs one line per request. Paths carry store ids and tender
// types only; bodies (with account numbers) are never logged here.
func accessLog(log zerolog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		log.Debug().Str("method", r.Method).Str("path", r.URL.Path).Int("status", rec.status).
			Dur("duration", time.Since(start)).Str("remote", r.RemoteAddr).Msg("http request")
	})
}

// statusRecorder remembers the status code written.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the status.
func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// redactURL hides the password of a URL for logs.
func redactURL(raw string) string {
	if i := strings.Index(raw, "@"); i >= 0 {
		if j := strings.Index(raw, "://"); j >= 0 && j < i {
			user := raw[j+3 : i]
			if k := strings.IndexByte(user, ':'); k >= 0 {
				return raw[:j+3] + user[:k] + ":xxxxx" + raw[i:]
			}
		}
	}
	return raw
}
