package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/store"
)

// Env is what the commands need.
type Env struct {
	// AMQPURL is the broker (AMQP_URL).
	AMQPURL string
	// StoreDSN is the settlement store (STORE_DSN), opened read-only.
	StoreDSN string
	// Providers are the providers a command covers when none is named
	// (every registered one).
	Providers []string
	// RetryDelays name the retry queues (RETRY_DELAYS).
	RetryDelays []time.Duration
	// Keys open the bodies sealed at rest (STORE_ENCRYPTION_KEY; nil: none).
	Keys *store.Keyring
	// Out receives the results, Err notes and warnings.
	Out, Err io.Writer
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Timeout bounds how long a command waits on a store or a broker that
	// does not answer (DefaultTimeout when 0): show, stuck and stats end
	// with an error after it, retention after a batch that takes it; the
	// broker commands when no step answers for that long (watchdog).
	Timeout time.Duration
	// Progress, when set, starts a progress indicator for a run of total
	// steps labelled label (a bar on a terminal). Nil: none.
	Progress func(label string, total int) Progress
}

// Progress shows how far a long run got.
type Progress interface {
	// Set records that n of the total steps are done.
	Set(n int)
	// Finish ends the indicator.
	Finish()
}

// DefaultTimeout is how long a command waits on the store or the broker
// when Env.Timeout is 0.
const DefaultTimeout = time.Minute

func (e Env) timeout() time.Duration {
	if e.Timeout > 0 {
		return e.Timeout
	}
	return DefaultTimeout
}

// storeCall runs f with ctx bounded by the timeout: a store that accepts
// connections and never answers (a stopped server, a dead proxy) would
// otherwise hold the command forever, since the command line's context
// ends only on Ctrl-C and the store's connections have no timeout of
// their own. An error after the timeout says the store did not answer.
func (e Env) storeCall(ctx context.Context, f func(ctx context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, e.timeout())
	defer cancel()
	err := f(cctx)
	if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("the store (STORE_DSN) did not answer within %s (--timeout sets the wait): %w", e.timeout(), err)
	}
	return err
}

func (e Env) now() time.Time {
	if e.Now != nil {
		return e.Now().UTC()
	}
	return time.Now().UTC()
}

func (e Env) out() io.Writer {
	if e.Out == nil {
		return io.Discard
	}
	return e.Out
}

func (e Env) errw() io.Writer {
	if e.Err == nil {
		return io.Discard
	}
	return e.Err
}

// dial connects to the broker once (an operator wants an answer, not a
// retry loop).
func (e Env) dial() (*amqp.Connection, error) {
	cfg := broker.DialConfig("settlement-worker operator") // AMQP_TLS_* included
	cfg.Dial = amqp.DefaultDial(10 * time.Second)
	// Through the header guard: a parked message whose headers the AMQP
	// client cannot read would close the connection of every listing,
	// replay and purge of its queue.
	conn, err := broker.DialGuarded(e.AMQPURL, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the broker %s (AMQP_URL): %w", broker.Redact(e.AMQPURL), err)
	}
	return conn, nil
}

// openStore opens the store read-only.
func (e Env) openStore(ctx context.Context) (store.Store, error) {
	st, err := store.Open(ctx, e.StoreDSN, store.ReadOnly())
	if err != nil {
		return nil, fmt.Errorf("%w (operator commands read the worker's STORE_DSN)", err)
	}
	return store.Encrypted(st, e.Keys), nil
}

// table is a tab-aligned writer.
func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

// age formats a duration for a person: 45s, 12m, 3h05m, 2d04h.
func age(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}

// stamp formats a time in UTC to the second.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// stampMS formats a time in UTC to the millisecond (history lines).
func stampMS(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// oneLine makes free text fit a table cell: no line breaks or tabs, at
// most max runes (no cap when max <= 0).
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); max > 0 && len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// watchdog ends a command's broker connection when the command's broker
// work makes no progress for the timeout. A broker that stops answering
// while its heartbeats still come (a wedged node; a connection blocked at
// a resource alarm, which RabbitMQ stops reading from) never times the
// connection out, and basic.get, a channel's opening and a publish's
// confirm have no deadline of their own: a replay held there forever,
// printing nothing. Closed, the connection fails every call waiting on
// it, and the broker requeues the messages the command held.
type watchdog struct {
	timeout time.Duration
	timer   *time.Timer
	fired   atomic.Bool
}

// watch starts a watchdog on conn; kick it after every step that
// answered, and stop it when the command is done with conn.
func (e Env) watch(conn *amqp.Connection) *watchdog {
	w := &watchdog{timeout: e.timeout()}
	w.timer = time.AfterFunc(w.timeout, func() {
		w.fired.Store(true)
		_ = conn.CloseDeadline(time.Now()) // a write blocked on the socket fails at once
	})
	return w
}

// kick records progress: the timeout counts from now.
func (w *watchdog) kick() {
	if !w.fired.Load() {
		w.timer.Reset(w.timeout)
	}
}

// stop ends the watchdog.
func (w *watchdog) stop() { w.timer.Stop() }

// explain says, when the watchdog ended the connection, that err came
// from a broker that did not answer.
func (w *watchdog) explain(err error) error {
	if err == nil || !w.fired.Load() {
		return err
	}
	return fmt.Errorf("the broker (AMQP_URL) did not answer within %s (--timeout sets the wait; what was not moved stays parked): %w", w.timeout, err)
}
