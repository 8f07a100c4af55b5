package frisbii

import (
	"context"
	"fmt"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
)

var _ providers.Preparer = (*Client)(nil)

// Prepare records, durably before a credit's first refund call (the
// pipeline stores these refs with the move to submitting), when its
// idempotency key is first used (RefKeyFirstUsed). A debit records it
// with ConfirmFunds, which precedes its first settle call.
func (c *Client) Prepare(ctx context.Context, _ *providers.Request) (map[string]string, error) {
	return map[string]string{RefKeyFirstUsed: keyTime(c.now(ctx))}, nil
}

// now is the time a key's first use is recorded and its age counted on:
// the pipeline's clock (providers.WithClock), which every replica shares,
// else the host's. On each host's own clock, a first use recorded by a
// replica whose clock runs minutes ahead looked minutes younger to
// another replica, which sent a repeat Frisbii had already forgotten the
// key of: a second capture (refund).
func (c *Client) now(ctx context.Context) time.Time {
	if now, ok := providers.ClockOf(ctx); ok {
		return now()
	}
	return c.hostNow()
}

// keyTime formats the time of a key's first use for RefKeyFirstUsed.
func keyTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// keyMayBeForgotten is checked before a settle or refund call that may
// repeat an earlier one (attempt > 1, Reconcile, Poll). Frisbii
// deduplicates on the key only while it holds it: a repeat past the key's
// lifetime is a new call, which captures (refunds) a second time when
// money is left, or is refused (102, 65, 79, a decline) although the first
// call moved the money. Frisbii offers no lookup by key and publishes no
// lifetime, so a repeat whose key was first used Config.KeyLifetime ago or
// longer is not sent: it is parked (Unresolved) for a person. A request
// without RefKeyFirstUsed (recorded by an older version) is not checked.
func (c *Client) keyMayBeForgotten(ctx context.Context, req *providers.Request, op, handle string) error {
	first, err := time.Parse(time.RFC3339Nano, req.Refs[RefKeyFirstUsed])
	if err != nil {
		return nil
	}
	age := c.now(ctx).Sub(first)
	if age < c.cfg.KeyLifetime {
		return nil
	}
	return providers.UnresolvedError("", fmt.Sprintf(
		"the %s of key %s on charge %s was not sent: it may repeat a call first sent at %s, %s ago, longer than Frisbii is trusted to remember the key "+
			"(FRISBII_KEY_LIFETIME %s); Frisbii would take the repeat for a new call and %s a second time, or refuse it although the first call moved the money; "+
			"check in the Frisbii admin whether charge %s holds a %s under key %s before deciding S or R",
		op, req.RequestID, handle, first.UTC().Format(time.RFC3339), age.Round(time.Minute), c.cfg.KeyLifetime,
		map[string]string{"settle": "capture", "refund": "refund"}[op], handle, op, req.RequestID), nil)
}
