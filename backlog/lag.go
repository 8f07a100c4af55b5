package backlog

import (
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/settlement-worker/settlement-worker/broker"
)

// Lag measures consumer lag: how long requests wait in their queue before
// a worker takes them.
//
// Every request a handler takes is timed from when it became ready in the
// request queue (broker.ReadySince: the worker's settlement_ready_at header
// on retried, resumed and replayed copies, else the AMQP timestamp the
// order system set) to now: the histogram settlement_request_wait_seconds.
// The last one taken per provider is kept for the Collector's estimate of
// the age of the oldest ready request (HeadAge). A request without either
// timestamp is counted in settlement_request_wait_unknown_total.
type Lag struct {
	now     func() time.Time
	wait    *prometheus.HistogramVec
	unknown *prometheus.CounterVec

	mu   sync.Mutex
	last map[string]Taken
}

// Taken is the last request a worker took from a provider's queue.
type Taken struct {
	// At is when it was taken (zero: none yet).
	At time.Time
	// Wait is how long it had been ready in the queue, when Known.
	Wait  time.Duration
	Known bool
}

// NewLag registers the lag metrics on reg, every provider's series at zero.
// now is the clock (time.Now when nil).
func NewLag(reg prometheus.Registerer, providers []string, now func() time.Time) *Lag {
	if now == nil {
		now = time.Now
	}
	l := &Lag{
		now: now,
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "settlement_request_wait_seconds",
			Help:    "How long a request waited in its provider's request queue (from its publish, or the end of its retry delay) before a worker took it.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
		}, []string{"provider"}),
		unknown: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "settlement_request_wait_unknown_total",
			Help: "Requests taken whose wait cannot be measured: their publisher set no AMQP timestamp.",
		}, []string{"provider"}),
		last: map[string]Taken{},
	}
	reg.MustRegister(l.wait, l.unknown)
	for _, p := range providers {
		l.wait.WithLabelValues(p)
		l.unknown.WithLabelValues(p)
	}
	return l
}

// Took records that a worker took a request of provider whose metadata is
// md (a Watermill message's).
func (l *Lag) Took(provider string, md map[string]string) {
	now := l.now()
	t := Taken{At: now}
	if since, ok := broker.ReadySince(md); ok {
		t.Wait, t.Known = max(now.Sub(since), 0), true
		l.wait.WithLabelValues(provider).Observe(t.Wait.Seconds())
	} else {
		l.unknown.WithLabelValues(provider).Inc()
	}
	l.mu.Lock()
	l.last[provider] = t
	l.mu.Unlock()
}

// Last returns the last request taken from provider's queue.
func (l *Lag) Last(provider string) Taken {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last[provider]
}

// Middleware records each message the handler of provider's request queue
// takes, before the handler runs.
func (l *Lag) Middleware(provider string) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			l.Took(provider, msg.Metadata)
			return h(msg)
		}
	}
}

// HeadAge estimates the age in seconds of the oldest ready request of a
// queue that holds ready requests (0 when it holds none), from what this
// worker saw:
//
//   - nonEmptySince is the first reading that found the queue non-empty
//     with no empty reading since;
//   - last is the last request this worker took from it.
//
// If the worker took a request since the queue became non-empty, the
// oldest ready one was published after it (queues are FIFO), so its age is
// at most last.Wait plus the time since: that bound is returned (or just
// the time since, when last.Wait is unknown). Otherwise nothing was taken
// while requests were ready: they have waited at least since
// nonEmptySince, which is returned. Either way the gauge grows while
// consumers are stalled and stays near the real wait while they keep up.
// Each replica estimates on its own: take the min over replicas.
func HeadAge(now time.Time, ready float64, nonEmptySince time.Time, last Taken) float64 {
	if ready <= 0 {
		return 0
	}
	if !last.At.IsZero() && !last.At.Before(nonEmptySince) {
		age := now.Sub(last.At)
		if last.Known {
			age += last.Wait
		}
		return max(age.Seconds(), 0)
	}
	if nonEmptySince.IsZero() {
		return 0
	}
	return max(now.Sub(nonEmptySince).Seconds(), 0)
}
