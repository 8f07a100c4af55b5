package ops

import (
	"context"
	"fmt"
	"time"

	"github.com/settlement-worker/settlement-worker/store"
)

// retentionBatch is how many settlements one PurgeBodies call of
// Retention empties: each batch gets Env.Timeout.
const retentionBatch = 1000

// Retention empties the request and published status bodies (which may
// hold raw card numbers) of settlements finished longer than olderThan ago,
// at most limit (all when 0; a negative limit is refused), and says how
// many. It is the one operator command that writes: it opens the store for
// writing, so an SQLite file owned by a running worker is refused (the
// worker's BODY_RETENTION does the same in its sweeper). A store that does
// not exist yet is refused, never created. It works in batches of
// retentionBatch settlements, each (and the opening) bounded by
// Env.Timeout: a store that stops answering fails it with what was
// emptied so far.
func Retention(ctx context.Context, e Env, olderThan time.Duration, limit int) error {
	if olderThan <= 0 {
		return fmt.Errorf("--older-than must be positive")
	}
	if limit < 0 { // store.PurgeBodies takes it as no cap
		return fmt.Errorf("--limit must be >= 0, got %d", limit)
	}
	// Opening for writing creates an SQLite store that is not there (a
	// mistyped path, a PostgreSQL DSN that is no URL): it would empty
	// nothing and say so with success. A read-only open fails instead.
	var st store.Store
	err := e.storeCall(ctx, func(ctx context.Context) error {
		ro, err := e.openStore(ctx)
		if err != nil {
			return fmt.Errorf("retention works on the worker's existing store: %w", err)
		}
		ro.Close()
		if st, err = store.Open(ctx, e.StoreDSN); err != nil {
			return fmt.Errorf("%w (retention writes: with SQLite, stop the worker or let its BODY_RETENTION do it)", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer st.Close()
	before := e.now().Add(-olderThan)
	n := 0
	for limit == 0 || n < limit {
		batch := retentionBatch
		if limit > 0 {
			batch = min(batch, limit-n)
		}
		var k int
		err = e.storeCall(ctx, func(ctx context.Context) error {
			var err error
			k, err = st.PurgeBodies(ctx, before, batch)
			return err
		})
		n += k
		if err != nil || k < batch {
			break
		}
	}
	fmt.Fprintf(e.out(), "emptied the bodies of %d settlement(s) finished before %s\n", n, before.UTC().Format(time.RFC3339))
	return err
}
