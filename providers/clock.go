package providers

import (
	"context"
	"time"
)

// clockKey is the context key of WithClock.
type clockKey struct{}

// WithClock returns a copy of ctx carrying now, the clock the pipeline
// records its own times with and passes to every provider call: the
// host's clock corrected to the store's shared clock (PostgreSQL's), one
// clock for every replica. A time a provider records in Refs on one
// replica and compares on another (Frisbii's first use of an idempotency
// key) must be read from it: each host's own clock may be minutes off the
// others'.
func WithClock(ctx context.Context, now func() time.Time) context.Context {
	return context.WithValue(ctx, clockKey{}, now)
}

// ClockOf returns ctx's clock (WithClock) and true, or nil and false when
// ctx carries none (a call made outside the pipeline).
func ClockOf(ctx context.Context) (func() time.Time, bool) {
	now, ok := ctx.Value(clockKey{}).(func() time.Time)
	return now, ok && now != nil
}
