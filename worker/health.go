package worker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Readiness holds the worker's dependencies and how to check each one.
// /readyz answers 200 only when every registered check passes, and lists
// each dependency with its state either way. Checks are registered as the
// worker starts; a dependency not yet available is registered with a check
// that says what it waits for.
//
// Concurrent callers share one run of the checks: a burst of /readyz
// would otherwise ping the store (a connection of its pool each, or the
// SQLite writer's queue) and the broker once per request, competing with
// the settlements; and each caller waits for the run only within its own
// context, so a check that does not return holds one goroutine, not every
// /readyz answer.
type Readiness struct {
	mu     sync.Mutex
	checks map[string]func(context.Context) error
	run    *readinessRun // the run in progress, nil when none
}

// readinessRun is one run of the checks; done is closed once states and
// ok are set.
type readinessRun struct {
	done   chan struct{}
	states map[string]string
	ok     bool
}

// readinessTimeout bounds a run of the checks (each check gets what the
// ones before it left).
const readinessTimeout = 2 * time.Second

// NewReadiness returns a Readiness that is not ready until a check exists.
func NewReadiness() *Readiness {
	return &Readiness{checks: map[string]func(context.Context) error{}}
}

// Set registers (or replaces) the check of dependency name.
func (r *Readiness) Set(name string, check func(context.Context) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks[name] = check
}

// Waiting marks dependency name as not available yet, with why.
func (r *Readiness) Waiting(name, why string) {
	r.Set(name, func(context.Context) error { return errors.New(why) })
}

// Check returns the dependencies' states by name, and whether all passed:
// those of the run in progress, or of a new one (bounded by
// readinessTimeout, whoever asked first). It waits at most until ctx ends;
// then the states say that the checks did not finish.
func (r *Readiness) Check(ctx context.Context) (map[string]string, bool) {
	r.mu.Lock()
	run := r.run
	if run == nil {
		run = &readinessRun{done: make(chan struct{})}
		r.run = run
		checks := make(map[string]func(context.Context) error, len(r.checks))
		for k, v := range r.checks {
			checks[k] = v
		}
		go func() {
			// Detached from the first caller's context: its hanging up
			// must not fail the others' answers.
			rctx, cancel := context.WithTimeout(context.Background(), readinessTimeout)
			defer cancel()
			run.states, run.ok = runChecks(rctx, checks)
			r.mu.Lock()
			r.run = nil
			r.mu.Unlock()
			close(run.done)
		}()
	}
	r.mu.Unlock()
	select {
	case <-run.done:
		out := make(map[string]string, len(run.states))
		for k, v := range run.states {
			out[k] = v
		}
		return out, run.ok
	case <-ctx.Done():
		return map[string]string{"checks": "down: not finished: " + ctx.Err().Error()}, false
	}
}

// runChecks runs every check (each bounded by ctx).
func runChecks(ctx context.Context, checks map[string]func(context.Context) error) (map[string]string, bool) {
	out := map[string]string{}
	ok := len(checks) > 0
	if !ok {
		out["worker"] = "starting"
	}
	for name, check := range checks {
		if err := check(ctx); err != nil {
			out[name] = "down: " + err.Error()
			ok = false
		} else {
			out[name] = "ok"
		}
	}
	return out, ok
}

// handler serves /readyz: one line per dependency, 503 while any is down.
func (r *Readiness) handler(w http.ResponseWriter, req *http.Request) {
	ctx, cancel := context.WithTimeout(req.Context(), readinessTimeout+500*time.Millisecond)
	defer cancel()
	states, ok := r.Check(ctx)
	names := make([]string, 0, len(states))
	for n := range states {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s: %s\n", n, states[n])
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write([]byte(b.String()))
}

// server is an HTTP server bound at construction: an address that cannot
// be listened on is an error at start, never a worker running without
// health or metrics.
type server struct {
	srv *http.Server
	ln  net.Listener
}

// Timeouts of the ops and pprof servers (variables for the tests). With a
// ReadHeaderTimeout alone, net/http waits for a keep-alive connection's
// next request, and for a request's body, without end: every client that
// went away without closing held a connection and a goroutine, and enough
// of them use up the file descriptors the worker needs for its broker,
// store and providers.
var (
	// opsReadTimeout bounds reading a whole request, body included.
	opsReadTimeout = 10 * time.Second
	// opsIdleTimeout closes a keep-alive connection idle this long.
	opsIdleTimeout = 60 * time.Second
	// opsWriteTimeout bounds a request of the ops server, its answer
	// written (/readyz takes at most 2 s; a client that stops reading
	// /metrics is let go). The pprof server has none: a CPU profile or a
	// trace runs as long as its seconds parameter asks.
	opsWriteTimeout = 30 * time.Second
)

// listen binds addr ("" or "off": no server). writeTimeout 0 leaves the
// handling and answer of a request unbounded.
func listen(addr string, h http.Handler, writeTimeout time.Duration) (*server, error) {
	if addr == "" || addr == "off" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &server{srv: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: opsReadTimeout,
		IdleTimeout: opsIdleTimeout, WriteTimeout: writeTimeout}, ln: ln}, nil
}

// serve runs the server until shutdown; onError reports a failure.
func (s *server) serve(onError func(error)) {
	if s == nil {
		return
	}
	go func() {
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			onError(err)
		}
	}()
}

// shutdown stops the server within 2 s.
func (s *server) shutdown() {
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}

// opsMux serves /healthz (the process is alive), /readyz and /metrics.
func opsMux(ready *Readiness, reg *prometheus.Registry) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", ready.handler)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

// pprofMux serves the Go profiles (PPROF_ADDR only; off by default).
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
