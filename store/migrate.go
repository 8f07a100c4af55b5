package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migrations are embedded SQL files named NNNN_description.sql, one folder per
// dialect with the same versions in both. A migration is applied once, in its
// own transaction together with its schema_migrations row; never edit one
// that has shipped: add the next version instead.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations(dialect string) ([]migration, error) {
	dir := "migrations/" + dialect
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s/%s: name must start with a positive version and '_'", dir, e.Name())
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", other, e.Name(), v)
		}
		seen[v] = e.Name()
		body, err := migrationFiles.ReadFile(path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(e.Name(), ".sql"), sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// migrationLockKey is the PostgreSQL advisory lock taken around migrations.
var migrationLockKey = lockKey("settlement-worker/store", "schema", "migrations")

// prepare migrates a store opened for writing; a read-only one only checks
// that the schema is there.
func (s *sqlStore) prepare(ctx context.Context) error {
	if !s.readOnly {
		return s.migrate(ctx)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n == 0 {
		if err == nil {
			err = errors.New("no migration applied")
		}
		return fmt.Errorf("no settlement schema (has a worker run with this STORE_DSN?): %w", err)
	}
	// An operator command of this version may read a database its workers
	// have not migrated yet (stopped for the upgrade, or replicas of the
	// version before): History then reads the lines where they are.
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version >= $1`,
		historyInRowVersion).Scan(&n); err != nil {
		return fmt.Errorf("reading the schema's version: %w", err)
	}
	s.historyInTable = n == 0
	return nil
}

// migrate applies the migrations the database does not have yet.
func (s *sqlStore) migrate(ctx context.Context) error {
	ms, err := loadMigrations(s.d.name)
	if err != nil {
		return fmt.Errorf("loading migrations: %w", err)
	}
	if s.d.name == "postgres" {
		// Two replicas starting together: the advisory lock makes the second
		// wait and then find everything applied.
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("migrations: %w", err)
		}
		if err := pgAdvisoryLock(ctx, conn, migrationLockKey); err != nil {
			discardConn(conn)
			return fmt.Errorf("migrations: waiting for the migration lock: %w", err)
		}
		defer pgAdvisoryUnlock(conn, migrationLockKey)
		return s.applyMigrations(ctx, ms, conn)
	}
	// SQLite: every transaction is BEGIN IMMEDIATE, so a second process
	// opening the same file waits (busy_timeout) for the first to finish.
	return s.applyMigrations(ctx, ms, nil)
}

func (s *sqlStore) applyMigrations(ctx context.Context, ms []migration, conn *sql.Conn) error {
	begin := func() (*sql.Tx, error) {
		if conn != nil {
			return conn.BeginTx(ctx, nil)
		}
		return s.db.BeginTx(ctx, nil)
	}
	for _, m := range ms {
		tx, err := begin()
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		err = func() error {
			defer tx.Rollback()
			if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
				version    INTEGER PRIMARY KEY,
				name       TEXT NOT NULL,
				applied_at TEXT NOT NULL
			)`); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil // applied by an earlier Open
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, formatTime(s.now())); err != nil {
				return err
			}
			return tx.Commit()
		}()
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}
