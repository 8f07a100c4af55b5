package handlers

import (
	"context"
	"errors"
	"sync"
	"time"
)

// The times a settlement records of its calls (call_sent_at,
// call_answered_at) and the settle window counted from them are read by
// every replica: one replica records a call, another, whose clock may run
// minutes ahead, runs the retry. Counted on its own clock, a window of a
// minute would have passed at once, and a provider without an idempotency
// key read for a late commit before it landed (then called again: two
// captures). So the pipeline's clock is its host's corrected by the offset
// of the store's shared clock (store.Store.SharedNow: PostgreSQL's),
// measured at most every clockRefresh: one round trip, off the hot path.
const (
	// clockRefresh is how long a measured offset is used.
	clockRefresh = 10 * time.Second
	// clockMaxRoundTrip is the longest round trip a measurement is taken
	// from (its error is at most half of it); a slower one keeps the last
	// offset.
	clockMaxRoundTrip = time.Second
	// clockFirstRoundTrip is clockMaxRoundTrip while no offset is known:
	// the host's clock, the only other, may be minutes off, so a slow
	// measurement (a loaded database) is far better than none.
	clockFirstRoundTrip = 5 * time.Second
)

// sharedClock caches the offset of the store's shared clock from the
// host's.
type sharedClock struct {
	mu        sync.Mutex
	offset    time.Duration // shared clock − host clock
	known     bool          // offset was measured (else: 0, the host's clock)
	measured  time.Time     // when it was last measured (time.Now); zero: never
	measuring bool          // a caller is refreshing a known offset
}

// hostNow is the host's clock (Settlement.Now, else time.Now).
func (h *Settlement) hostNow() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// clock is the time the pipeline records a call's times with and counts
// the settle window on: the host's clock corrected to the store's shared
// clock (the host's own for a store that shares none, SQLite). Run checks
// clockReady first, so an offset is known here.
func (h *Settlement) clock(ctx context.Context) time.Time {
	offset, _ := h.clockOffset(ctx)
	return h.hostNow().Add(offset)
}

// stamp is h.clock's time as a settlement records it (RFC 3339 with
// nanoseconds, UTC).
func (h *Settlement) stamp(ctx context.Context) string {
	return h.clock(ctx).UTC().Format(time.RFC3339Nano)
}

// callClock is the clock a provider call is given (providers.WithClock):
// h.clock with the offset measured last, read without measuring (a
// provider call never waits for the store; Run measured it at most
// clockRefresh ago).
func (h *Settlement) callClock() func() time.Time {
	h.shared.mu.Lock()
	offset := h.shared.offset
	h.shared.mu.Unlock()
	return func() time.Time { return h.hostNow().Add(offset) }
}

// errClockUnknown is clockReady's error while the store's shared clock has
// never been read.
var errClockUnknown = errors.New("the store's clock has not been read yet: no call's time is recorded and no settle window counted on this host's clock, which may be minutes off the other replicas'")

// clockReady reads the store's shared clock if no offset is known yet and
// fails while none is: a replica must not record a call's time, or count
// a settle window, on its own clock (a window passed at once: a late
// commit looked for before it landed, then a second capture). The
// delivery fails like one whose store does not answer, and is retried.
func (h *Settlement) clockReady(ctx context.Context) error {
	if _, known := h.clockOffset(ctx); !known {
		return errClockUnknown
	}
	return nil
}

// clockOffset returns the shared clock's offset from the host's (0 while
// none is known) and whether one is known, measured again when the last
// measurement is clockRefresh old, and a second after a failed one. Until
// one succeeds, a measurement is waited for by every caller; a refresh is
// one caller's: the others use the last offset meanwhile rather than
// queue behind a slow store.
func (h *Settlement) clockOffset(ctx context.Context) (time.Duration, bool) {
	c := &h.shared
	c.mu.Lock()
	if !c.measured.IsZero() && (c.measuring || time.Since(c.measured) < clockRefresh) {
		offset, known := c.offset, c.known
		c.mu.Unlock()
		return offset, known
	}
	known := c.known
	if !known {
		// Every caller waits for the first offset: held through the read.
		defer c.mu.Unlock()
		offset, ok := h.measureOffset(ctx, false)
		c.settle(offset, ok)
		return c.offset, c.known
	}
	c.measuring = true
	last := c.offset
	c.mu.Unlock()
	var offset time.Duration
	ok := false
	defer func() { // also when the read panics: the next caller measures
		c.mu.Lock()
		defer c.mu.Unlock()
		c.measuring = false
		c.settle(offset, ok)
	}()
	if offset, ok = h.measureOffset(ctx, true); !ok {
		return last, true
	}
	return offset, true
}

// settle records a measurement's outcome (c.mu held): the offset when it
// succeeded; the time, so that the next is due after clockRefresh, or a
// second after a failure.
func (c *sharedClock) settle(offset time.Duration, ok bool) {
	if ok {
		c.offset, c.known = offset, true
	}
	c.measured = time.Now()
	if !ok {
		c.measured = c.measured.Add(time.Second - clockRefresh)
	}
}

// measureOffset reads the store's shared clock once: its offset from the
// host's (0 for a store that shares none), or false when the read failed
// or took longer than clockMaxRoundTrip, clockFirstRoundTrip while no
// offset is known (the last offset is kept).
func (h *Settlement) measureOffset(ctx context.Context, known bool) (time.Duration, bool) {
	limit := clockMaxRoundTrip
	if !known {
		limit = clockFirstRoundTrip
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limit)
	defer cancel()
	start, host := time.Now(), h.hostNow()
	at, shared, err := h.Store.SharedNow(mctx)
	rtt := time.Since(start)
	kept := "keeping the last offset from it"
	if !known {
		kept = "no call is made until it is read"
	}
	switch {
	case err != nil:
		h.Log.Warn().Err(err).Msg("the store's clock could not be read; " + kept)
		return 0, false
	case !shared:
		return 0, true
	case rtt > limit:
		h.Log.Warn().Dur("round_trip", rtt).Msg("the store's clock answered too slowly to measure; " + kept)
		return 0, false
	}
	return at.Sub(host.Add(rtt / 2)), true
}
