package ops

import (
	"context"
	"fmt"
	"time"

	"github.com/settlement-worker/settlement-worker/store"
)

// Retention empties the request and published status bodies (which may
// hold raw card numbers) of settlements finished longer than olderThan ago,
// at most limit (all when 0; a negative limit is refused), and says how
// many. It is the one operator command that writes: it opens the store for
// writing, so an SQLite file owned by a running worker is refused (the
// worker's BODY_RETENTION does the same in its sweeper). A store that does
// not exist yet is refused, never created.
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
	ro, err := e.openStore(ctx)
	if err != nil {
		return fmt.Errorf("retention works on the worker's existing store: %w", err)
	}
	ro.Close()
	st, err := store.Open(ctx, e.StoreDSN)
	if err != nil {
		return fmt.Errorf("%w (retention writes: with SQLite, stop the worker or let its BODY_RETENTION do it)", err)
	}
	defer st.Close()
	n, err := st.PurgeBodies(ctx, e.now().Add(-olderThan), limit)
	fmt.Fprintf(e.out(), "emptied the bodies of %d settlement(s) finished before %s\n", n, e.now().Add(-olderThan).UTC().Format(time.RFC3339))
	return err
}
