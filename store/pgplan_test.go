package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// TestPostgresGenericPlansUseTheRightIndex pins the index each hot
// statement's generic plan reads on a young table (a fresh database, a
// hundred rows, never analyzed): the plan a connection caches after its first few
// executions (pgx prepares every statement) and keeps until the table's
// statistics change. A key lookup that reads an index leading with
// provider alone scans every settlement of the provider: each transition
// then costs more as the table grows, until autovacuum's first ANALYZE.
// That happened with settlements_correlation (provider, correlation_id) and
// settlements_order (provider, store_id, order_id), and was measured: the
// store's serial PostgreSQL lifecycle over 3,000 settlements took 6.1 ms
// per settlement instead of 1.3 ms.
func TestPostgresGenericPlansUseTheRightIndex(t *testing.T) {
	s, _ := openCountingPostgres(t)
	ctx := context.Background()
	// A hundred settlements: on a table of a few pages (twenty settlements
	// since their history lines moved into the row) a sequential scan is
	// the cheapest plan for the sweeper's read, and is chosen.
	for i := 0; i < 100; i++ {
		if err := radialDebit(ctx, s, fmt.Sprintf("plan-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	key := Key{Provider: "radial", RequestID: "plan-3"}
	trArgs := pgTransitionArgs(key, []State{StateConfirming}, StateSubmitting, Change{Note: "n"}, time.Now(), 0)
	staleSQL, staleArgs := staleQuery(2, len(inFlightStates), false, 500)
	staleArgs[0], staleArgs[1], staleArgs[2] = time.Now(), "radial", "other"
	for i, st := range inFlightStates {
		staleArgs[3+i] = string(st)
	}
	pageSQL, pageArgs := staleQuery(2, len(inFlightStates), true, 500)
	copy(pageArgs, staleArgs)
	n := len(staleArgs)
	pageArgs[n], pageArgs[n+1], pageArgs[n+2] = time.Now().Add(-time.Hour), "radial", "plan-3"
	for _, c := range []struct {
		name  string
		query string
		args  []any
		want  string // the index the plan must read
	}{
		// The sweeper's read of the enabled providers' stuck settlements.
		{"stale of providers", staleSQL, staleArgs, "settlements_state_updated"},
		{"stale of providers after a cursor", pageSQL, pageArgs, "settlements_state_updated"},
		{"transition", pgTransitionSQL, trArgs, "settlements_pkey"},
		{"get", `SELECT ` + settlementColumns + ` FROM settlements WHERE provider = $1 AND request_id = $2`,
			[]any{key.Provider, key.RequestID}, "settlements_pkey"},
		// The foreign key check of every status event.
		{"foreign key check", `SELECT 1 FROM ONLY settlements x WHERE provider = $1 AND request_id = $2 FOR KEY SHARE OF x`,
			[]any{key.Provider, key.RequestID}, "settlements_pkey"},
		{"find by correlation", `SELECT ` + settlementColumns + ` FROM settlements WHERE provider = $1 AND correlation_id = $2 ORDER BY created_at, request_id`,
			[]any{key.Provider, "sw-plan-3"}, "settlements_correlation"},
		{"find by order", `SELECT ` + settlementColumns + ` FROM settlements WHERE provider = $1 AND store_id = $2 AND order_id = $3 ORDER BY created_at, request_id`,
			[]any{key.Provider, "store-1", "order-plan-3"}, "settlements_order"},
	} {
		rows, err := conn.QueryContext(ctx, "EXPLAIN "+c.query, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		rows.Close()
		text := strings.Join(plan, "\n")
		var read []string
		for _, idx := range []string{"settlements_pkey", "settlements_correlation", "settlements_order", "settlements_state_updated"} {
			if strings.Contains(text, " using "+idx+" on settlements") || strings.Contains(text, "Index Scan using "+idx+" ") ||
				strings.Contains(text, "Bitmap Index Scan on "+idx+" ") {
				read = append(read, idx)
			}
		}
		if len(read) != 1 || read[0] != c.want {
			t.Errorf("%s: the generic plan reads %v, want only %s:\n%s", c.name, read, c.want, text)
		}
	}
}

// inFlightStates are the states the sweeper resumes from
// (handlers.inFlight).
var inFlightStates = []State{StateReceived, StateConfirming, StateConfirmed, StateSubmitting, StatePending}

// TestPostgresSessionsPlanGenerically: the store's sessions plan each
// statement once (setGenericPlans), unless STORE_DSN sets plan_cache_mode.
func TestPostgresSessionsPlanGenerically(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	ctx := context.Background()
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	for _, c := range []struct{ dsn, want string }{
		{dsn, "force_generic_plan"},
		{dsn + sep + "plan_cache_mode=auto", "auto"},
	} {
		st, err := Open(ctx, c.dsn)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := st.(*sqlStore).db.QueryRowContext(ctx, "SHOW plan_cache_mode").Scan(&got); err != nil {
			t.Fatal(err)
		}
		st.Close()
		if got != c.want {
			t.Errorf("STORE_DSN %s: plan_cache_mode %s, want %s", strings.TrimPrefix(c.dsn, dsn), got, c.want)
		}
	}
}
