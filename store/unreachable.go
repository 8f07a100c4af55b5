package store

import (
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
// database that does not exist: any other SQLSTATE), a malformed STORE_DSN
// and every SQLite error are not.
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
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}
