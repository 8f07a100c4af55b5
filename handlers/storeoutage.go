package handlers

import (
	"context"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/cenkalti/backoff/v5"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
)

// StoreOutage rides a delivery through an outage of the store (a
// PostgreSQL restart or failover, a partition to the database, a stalled
// disk) instead of handing it back to the queue.
//
// A delivery handed back (nacked) is counted by a quorum queue towards its
// delivery limit: each run failing after its in-place retries (a few
// seconds), an outage of about a minute dead-lettered, parked as
// "delivery_limit", every request that arrived meanwhile, never attempted.
// A delivery held unacked is not counted. So a delivery whose run failed
// while the store does not answer its ping (the one classification of a
// store outage: a failure of the run, and the store not answering) is held
// on its consumer, unacked, its run repeated once the store answers again:
// every run is idempotent, and resumes from what the store recorded, so
// the record written before a provider call is still durable before it,
// nothing is acked before its outcome is durable, and no provider call is
// repeated that the store did not say may be. The consumers busy holding,
// the queue keeps the other requests, ready, uncounted.
//
// Nothing waits forever in silence: /readyz says the store is down (its
// own check), settlement_deliveries_held_store_down counts the held
// deliveries (alert SettlementsHeldStoreDown), a warning is logged when a
// delivery is held and when it is run again; and a delivery held past
// Hold is parked with a reason saying so (the broker's consumer_timeout,
// 30 min by default, would otherwise close the channel and hand it back).
// A failure while the store answers is not a store outage: it is
// returned, to the router's retries and the queue, as before.
type StoreOutage struct {
	// Ping checks that the store answers (store.Store.Ping).
	Ping func(context.Context) error
	// Hold bounds how long one delivery is held (STORE_OUTAGE_HOLD),
	// counted from its delivery when the consumer noted it
	// (broker.ReceivedAt); 0 holds none.
	Hold time.Duration
	// MaxBackoff bounds the wait between two pings of the store
	// (STORE_OUTAGE_BACKOFF).
	MaxBackoff time.Duration
	// Stopping is closed when the worker stops: a held delivery is handed
	// back to the queue at once (counted once) instead of holding the
	// drain.
	Stopping <-chan struct{}
	Metrics  *Metrics
}

// storePingTimeout bounds one ping of a store that does not answer (a
// stalled disk, a partition dropping packets).
const storePingTimeout = 5 * time.Second

// ride runs run, one handling of msg, and holds msg while its run fails
// and the store does not answer (see StoreOutage); park parks msg with a
// reason once it was held o.Hold. handler names the handler in the metric
// (settle, status); logger is called only when there is something to log.
func (o *StoreOutage) ride(msg *message.Message, provider, handler string, logger func() zerolog.Logger,
	run func() error, park func(ctx context.Context, reason string) error,
) error {
	err := run()
	if err == nil || o == nil || o.Hold <= 0 || o.Ping == nil {
		return err
	}
	log := logger()
	// The hold is counted from msg's delivery when its consumer noted it
	// (broker.ReceivedAt: a status waits there, unacked, behind its
	// order's held one), else from the first time msg was held; also
	// across the router's retries of a ride that returned (its park
	// failed: the broker down too): the time msg is unacked stays below
	// the broker's consumer_timeout, which counts from the delivery.
	start, _ := msg.Context().Value(heldSinceKey{}).(time.Time)
	holding := false
	defer func() {
		if holding {
			o.Metrics.held(provider, handler, -1)
		}
	}()
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 250 * time.Millisecond
	b.MaxInterval = max(o.MaxBackoff, b.InitialInterval)
	for {
		perr := o.ping()
		if perr == nil {
			// The store answers: not (or no longer) an outage.
			return err
		}
		if !holding {
			holding = true
			if start.IsZero() {
				start = time.Now()
				if at, ok := broker.ReceivedAt(msg); ok && at.Before(start) {
					start = at
				}
				msg.SetContext(context.WithValue(msg.Context(), heldSinceKey{}, start))
			}
			o.Metrics.held(provider, handler, 1)
			log.Warn().Err(err).Str("store", perr.Error()).Dur("hold", o.Hold).
				Msg("the store does not answer: holding the delivery (unacked, not counted by the queue) until it does")
		}
		for perr != nil {
			if time.Since(start) >= o.Hold {
				reason := fmt.Sprintf("the store did not answer for %s (STORE_OUTAGE_HOLD; the last run failed: %s; the store: %s): "+
					"held, then parked; replay it once /readyz says the store is ok: the replay resumes from what the store recorded",
					o.Hold, maskedText(err.Error(), 400), maskedText(perr.Error(), 300))
				ctx, cancel := context.WithTimeout(context.WithoutCancel(msg.Context()), 30*time.Second)
				defer cancel()
				return park(ctx, reason)
			}
			wait := min(b.NextBackOff(), o.Hold-time.Since(start))
			select {
			case <-o.Stopping:
				return err
			case <-time.After(max(wait, 0)):
			}
			perr = o.ping()
		}
		log.Info().Dur("held", time.Since(start).Round(time.Millisecond)).Msg("the store answers again: running the held delivery")
		if err = run(); err == nil {
			return nil
		}
	}
}

// heldSinceKey keys, in a message's context, when it was first held.
type heldSinceKey struct{}

func (o *StoreOutage) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), storePingTimeout)
	defer cancel()
	return o.Ping(ctx)
}
