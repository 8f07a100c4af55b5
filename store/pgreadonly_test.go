package store

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// TestPingSaysThePostgresServerRefusesWrites: after a failover, STORE_DSN
// may reach a server that takes sessions but refuses every write (the old
// primary back as a standby, a DNS name not moved yet, a managed service
// that went read-only on a full disk). Ping answered as if all was well:
// /readyz said "store: ok", and a delivery whose writes failed was not
// taken for a store outage (handlers.StoreOutage) but handed back to the
// queue, counted, until DELIVERY_LIMIT parked it. Ping now fails while
// the server refuses writes, naming why.
func TestPingSaysThePostgresServerRefusesWrites(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	ctx := context.Background()
	st, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Ping(ctx); err != nil {
		t.Fatalf("Ping of a writable server: %v", err)
	}

	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var db string
	if err := admin.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	exec := func(sql string) {
		t.Helper()
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	// Every new session of the database is read-only; the store's are
	// ended, as a failover ends them.
	exec(`ALTER DATABASE "` + db + `" SET default_transaction_read_only = on`)
	defer exec(`ALTER DATABASE "` + db + `" RESET default_transaction_read_only`)
	exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)

	for range 3 { // the pool finds its sessions ended, then opens new ones
		err = st.Ping(ctx)
	}
	if err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("Ping of a server refusing writes = %v, want an error saying it is read-only", err)
	}
	t.Logf("Ping: %v", err)
	exec(`ALTER DATABASE "` + db + `" RESET default_transaction_read_only`)
	exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	for range 3 {
		err = st.Ping(ctx)
	}
	if err != nil {
		t.Fatalf("Ping once the server takes writes again: %v", err)
	}
}

// TestOpenOnAReadOnlyServerIsWaitedFor: a worker started while STORE_DSN
// reaches a server refusing writes (a failover not finished) fails to
// open with an error store.Unreachable takes for one worth waiting for
// (the worker waits, /readyz says why), not for a refusal that stops it.
func TestOpenOnAReadOnlyServerIsWaitedFor(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var db string
	if err := admin.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, `ALTER DATABASE "`+db+`" SET default_transaction_read_only = on`); err != nil {
		t.Fatal(err)
	}
	defer admin.Exec(ctx, `ALTER DATABASE "`+db+`" RESET default_transaction_read_only`)
	st, err := Open(ctx, dsn)
	if err == nil {
		st.Close()
		t.Fatal("Open of a read-only server succeeded")
	}
	if !Unreachable(err) {
		t.Fatalf("Unreachable(%v) = false, want the worker to wait", err)
	}
}
