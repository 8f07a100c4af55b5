package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/settlement-worker/settlement-worker/store"
)

// freshPostgres creates a new database on the server of
// STORE_TEST_POSTGRES_DSN and returns its DSN and a func that drops it.
func freshPostgres(ctx context.Context) (string, func(), error) {
	admin := os.Getenv("STORE_TEST_POSTGRES_DSN")
	if admin == "" {
		return "", nil, errors.New("the postgres scenario needs STORE_TEST_POSTGRES_DSN (an admin DSN; make postgres-up)")
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(ctx)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	db := "chaos_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		return "", nil, err
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + db
	drop := func() {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(c, admin); err == nil {
			_, _ = conn.Exec(c, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
			conn.Close(c)
		}
	}
	return u.String(), drop, nil
}

// repoRoot is the directory of go.mod (scripts/rabbitmq.sh lives there).
func repoRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run from the repository")
	}
	return filepath.Dir(gomod), nil
}

// endLockSessions terminates, on the database of dsn, every session that
// holds order locks (the replicas' lock sessions: their statements name
// store.LockSessionSetting) and returns how many it ended. Each replica then sees every lock on them lost and must
// stop before its next provider call.
func endLockSessions(ctx context.Context, dsn string) (int, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()
		AND strpos(query, $1) > 0`, store.LockSessionSetting).Scan(&n)
	return n, err
}
