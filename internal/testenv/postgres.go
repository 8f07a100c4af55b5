package testenv

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

const (
	noPostgresMsg = "no postgres: set STORE_TEST_POSTGRES_DSN or run make test"

	// PostgresImage is the image used when PostgreSQL comes from Docker.
	PostgresImage = "postgres:16"
)

var (
	pgOnce sync.Once
	pgDSN  string // admin DSN; "" when there is no server
	pgErr  error
)

func adminDSN(t testing.TB) string {
	t.Helper()
	pgOnce.Do(func() { pgDSN, pgErr = resolvePostgres() })
	if pgErr != nil {
		t.Fatalf("testenv: postgres: %v", pgErr)
	}
	if pgDSN == "" {
		unavailable(t, noPostgresMsg)
	}
	return pgDSN
}

func resolvePostgres() (string, error) {
	if dsn := os.Getenv("STORE_TEST_POSTGRES_DSN"); dsn != "" {
		return dsn, nil
	}
	if dockerAvailable() {
		return postgresFromDocker()
	}
	return "", nil
}

func postgresFromDocker() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:        PostgresImage,
			ExposedPorts: []string{"5432/tcp"},
			Env:          map[string]string{"POSTGRES_PASSWORD": "postgres"},
			Cmd:          []string{"postgres", "-c", "fsync=off", "-c", "max_connections=200"},
			WaitingFor: wait.ForAll(
				// The image's init runs a temporary server first.
				wait.ForLog("database system is ready to accept connections").WithOccurrence(2),
				wait.ForListeningPort("5432/tcp"),
			).WithDeadline(3 * time.Minute),
		},
		Started: true,
	})
	if c != nil {
		terminateOnShutdown(c)
	}
	if err != nil {
		return "", fmt.Errorf("start %s container: %w", PostgresImage, err)
	}
	host, err := c.Host(ctx)
	if err != nil {
		return "", err
	}
	p, err := c.MappedPort(ctx, "5432/tcp")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("postgres://postgres:postgres@%s/postgres?sslmode=disable",
		net.JoinHostPort(host, fmt.Sprint(p.Num()))), nil
}

// withDatabase returns dsn pointed at database db. It accepts URL DSNs
// (postgres://...) and keyword/value DSNs (host=... user=...).
func withDatabase(dsn, db string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("STORE_TEST_POSTGRES_DSN: %w", err)
		}
		u.Path, u.RawPath = "/"+db, ""
		return u.String(), nil
	}
	// Keyword/value: a later dbname overrides an earlier one.
	return strings.TrimSpace(dsn) + " dbname=" + db, nil
}

// PostgresDSN returns the DSN (postgres://... URL, or keyword/value when
// STORE_TEST_POSTGRES_DSN is written that way) of a fresh, empty database
// t_<random> on the test PostgreSQL server. The database is dropped in
// t.Cleanup, closing any connection still open to it.
//
// Without a server (see the package doc) the test fails when CI is set and
// is skipped otherwise.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	admin := adminDSN(t)
	db := "t_" + randomHex(8)
	dsn, err := withDatabase(admin, db)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("testenv: connect to postgres (STORE_TEST_POSTGRES_DSN): %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatalf("testenv: create database %s: %v", db, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("testenv: drop database %s: %v", db, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database %s: %v", db, err)
		}
	})
	return dsn
}
