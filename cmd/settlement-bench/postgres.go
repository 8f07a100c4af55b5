package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// scratchDB is a database created for one run on the -postgres server and
// dropped (with any connection still open to it) by drop.
type scratchDB struct {
	admin string // the -postgres DSN
	name  string
	dsn   string // STORE_DSN of the worker
}

// createScratchDB creates bench_<random> on the server of admin (a
// postgres:// URL whose user may create databases).
func createScratchDB(ctx context.Context, admin string) (*scratchDB, error) {
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("-postgres: want a postgres://user:password@host:port/db URL (got %s)", redactURL(admin))
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "bench_" + hex.EncodeToString(b[:])
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, admin)
	if err != nil {
		return nil, fmt.Errorf("-postgres: connect to %s: %w", redactURL(admin), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(cctx, "CREATE DATABASE "+name); err != nil {
		return nil, fmt.Errorf("-postgres: create database %s: %w", name, err)
	}
	w := *u
	w.Path = "/" + name
	return &scratchDB{admin: admin, name: name, dsn: w.String()}, nil
}

// drop drops the scratch database.
func (d *scratchDB) drop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, d.admin)
	if err != nil {
		progress("drop database %s: %v", d.name, err)
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+d.name+" WITH (FORCE)"); err != nil {
		progress("drop database %s: %v", d.name, err)
	}
}

// storeLabel names a run's store in the report.
func storeLabel(dsn string) string {
	if strings.HasPrefix(dsn, "postgres") {
		return ", PostgreSQL"
	}
	return ""
}
