package store

import (
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestUnreachable(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection refused", fmt.Errorf("STORE_DSN x: cannot open PostgreSQL: %w", &net.OpError{Op: "dial", Err: errors.New("connection refused")}), true},
		{"cut mid-handshake", fmt.Errorf("open: %w", io.ErrUnexpectedEOF), true},
		{"starting up", fmt.Errorf("open: %w", &pgconn.PgError{Code: "57P03"}), true},
		{"a standby refuses the migrations", fmt.Errorf("open: %w", &pgconn.PgError{Code: "25006"}), true},
		{"connection exception", fmt.Errorf("open: %w", &pgconn.PgError{Code: "08006"}), true},
		{"wrong password", fmt.Errorf("open: %w", &pgconn.PgError{Code: "28P01"}), false},
		{"no such database", fmt.Errorf("open: %w", &pgconn.PgError{Code: "3D000"}), false},
		{"other", errors.New("STORE_DSN is empty"), false},
		{"in use", ErrInUse, false},
	} {
		if got := Unreachable(tc.err); got != tc.want {
			t.Errorf("%s: Unreachable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
