package providertest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// Replica is the settlement handler of one replica of the worker in a
// test of several on one PostgreSQL database (dsn): its own store (closed
// with the test), the provider client p and the publisher pub; retries a
// second apart, at most 5 attempts, each call bounded by callTimeout,
// nothing logged. The test sets the rest (Crash, Now) on what it returns.
func Replica(t testing.TB, dsn string, p providers.Provider, pub handlers.Publisher, callTimeout time.Duration) *handlers.Settlement {
	t.Helper()
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return &handlers.Settlement{
		Provider:    p,
		Store:       st,
		Pub:         pub,
		Retry:       handlers.RetryPolicy{Delays: []time.Duration{time.Second}, MaxAttempts: 5},
		CallTimeout: callTimeout,
		Log:         zerolog.Nop(),
	}
}

// TerminateOrderLocks ends the PostgreSQL sessions holding order locks on
// dsn's database, as a failover or a replica paused past the lease loses
// them, and returns how many it ended.
func TerminateOrderLocks(t testing.TB, dsn string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var ended int
	if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory'
		AND objsubid = 1 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&ended); err != nil {
		t.Fatal(err)
	}
	return ended
}
