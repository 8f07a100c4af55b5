package store

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Unreachable reports whether err, from Open, says that the PostgreSQL
// server could not be reached or is not accepting sessions or writes yet
// (a server starting, restarting or failing over, a standby, the network
// to it down): worth waiting for. A server that answered and refused (credentials, a
// database that does not exist: any other SQLSTATE; TLS it does not offer,
// a certificate not trusted), a malformed STORE_DSN and every SQLite error
// are not.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// cannot_connect_now (starting up, shutting down, in recovery),
		// admin_shutdown, crash_shutdown, class 08 (connection
		// exceptions), and read_only_sql_transaction: the migrations'
		// writes refused by a standby, STORE_DSN's name not moved to the
		// new primary yet.
		return pe.Code == "57P03" || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "25006" || strings.HasPrefix(pe.Code, "08")
	}
	if tlsRefused(err) {
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// tlsRefused reports whether err says that the TLS STORE_DSN asks for
// cannot be had: the server does not offer it (pgconn's startTLS gives no
// error type for that, only its text), or its certificate is not trusted
// or not for that host. A configuration to change (sslmode, sslrootcert,
// the host name), never a server on its way.
func tlsRefused(err error) bool {
	var verify *tls.CertificateVerificationError
	var authority x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &verify) || errors.As(err, &authority) || errors.As(err, &host) || errors.As(err, &invalid) ||
		strings.Contains(err.Error(), "server refused TLS connection")
}
