package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
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
		{"certificate not trusted", fmt.Errorf("open: %w", &net.OpError{Op: "remote error", Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}}), false},
		{"other", errors.New("STORE_DSN is empty"), false},
		{"in use", ErrInUse, false},
	} {
		if got := Unreachable(tc.err); got != tc.want {
			t.Errorf("%s: Unreachable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// TestOpenWithTLSTheServerRefusesStops: a STORE_DSN asking for TLS
// (sslmode=require) of a server that does not offer it is a configuration
// the server answered and refused, not a server not reachable yet: the
// worker stops naming STORE_DSN instead of waiting for ever, /readyz
// saying "not reachable yet".
func TestOpenWithTLSTheServerRefusesStops(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("sslmode", "require")
	u.RawQuery = q.Encode()
	st, err := Open(context.Background(), u.String())
	if err == nil {
		st.Close()
		t.Skip("the test server offers TLS")
	}
	if !strings.Contains(err.Error(), "TLS") {
		t.Skipf("not the refusal this test is about: %v", err)
	}
	if Unreachable(err) {
		t.Errorf("Unreachable(%v) = true: the worker would wait for ever for a server that refuses TLS", err)
	}
}
