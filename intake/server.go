package intake

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// ReadyFunc reports whether the intake can take requests (the broker is
// reachable, the worker runs...): nil means ready. The lead provides it.
type ReadyFunc func(ctx context.Context) error

// Server is the HTTP intake: the RetailOPS webhook, the Radial-format
// endpoint, /healthz and /readyz.
type Server struct {
	cfg   Config
	pub   Publisher
	ready ReadyFunc
	log   zerolog.Logger
	srv   *http.Server
	// inFlight holds a place for each webhook request being handled
	// (MaxInFlight).
	inFlight chan struct{}

	// Metrics, when set before the server serves, counts the endpoints'
	// answers (nil: none).
	Metrics *Metrics
}

// New validates cfg (after applying defaults) and builds the server. pub
// publishes with confirms (a *broker.Publisher); ready may be nil (always
// ready).
func New(cfg Config, pub Publisher, ready ReadyFunc, log zerolog.Logger) (*Server, error) {
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("intake configuration: %w", err)
	}
	if pub == nil {
		return nil, errors.New("intake: a publisher is required")
	}
	s := &Server{cfg: cfg, pub: pub, ready: ready, log: log.With().Str("component", "intake").Logger(),
		inFlight: make(chan struct{}, cfg.MaxInFlight)}
	s.srv = &http.Server{
		Addr:              cfg.Addr,
		Handler:           s.Handler(),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
	return s, nil
}

// Handler returns the intake's routes. Paths are matched exactly; a wrong
// method gets 405 in the endpoint's own error shape.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", s.healthz)
	mux.HandleFunc("/readyz", s.readyz)
	if Enabled(s.cfg.RetailOPS.Path) {
		mux.HandleFunc(s.cfg.RetailOPS.Path, s.counted(EndpointRetailOPS, s.retailOPS))
	}
	if Enabled(s.cfg.Radial.Path) {
		mux.HandleFunc(s.cfg.Radial.Path, s.counted(EndpointRadial, s.radial))
	}
	return mux
}

// Serve serves on ln until Shutdown; it returns nil after a Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.log.Info().Str("addr", ln.Addr().String()).Str("retailops", s.cfg.RetailOPS.Path).
		Str("radial", s.cfg.Radial.Path).Msg("intake listening")
	if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("intake: serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// Shutdown stops accepting connections and waits, until ctx ends, for
// in-flight requests to finish their publishes and answers.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("intake: shutdown: %w", err)
	}
	return nil
}

// Run listens on cfg.Addr and serves until ctx is cancelled, then shuts down
// gracefully within cfg.ShutdownTimeout. It returns nil when the intake is
// disabled (Addr "off") or stopped by ctx.
func (s *Server) Run(ctx context.Context) error {
	if !Enabled(s.cfg.Addr) {
		<-ctx.Done()
		return nil
	}
	ln, err := s.Listen()
	if err != nil {
		return err
	}
	return s.RunOn(ctx, ln)
}

// Listen listens on cfg.Addr, so that a caller learns at start that the
// address cannot be served (RunOn then serves on it).
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("intake: listen on %s: %w", s.cfg.Addr, err)
	}
	return ln, nil
}

// RunOn serves on ln until ctx is cancelled, then shuts down gracefully
// within cfg.ShutdownTimeout, as Run does.
func (s *Server) RunOn(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := s.Shutdown(sctx)
	if serr := <-errc; serr != nil {
		err = errors.Join(err, serr)
	}
	return err
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if s.ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ready\n"))
}

// publishContext is the context of the publishes of one HTTP request:
// detached from the request (a client that hangs up must not abort half a
// batch: the publishes finish, and its retry finds the same requestIds)
// and bounded by PublishTimeout.
func (s *Server) publishContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), s.cfg.PublishTimeout)
}
