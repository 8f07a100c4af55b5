package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A PostgreSQL STORE_DSN may carry its password as a query parameter
// (postgres://app@db/settlements?password=..., as pgx reads it) instead of
// in the user info; the error of a failed open, which the worker and the
// operator commands print, showed it: redact hid only the user info's.
func TestPostgresOpenErrorHidesAPasswordInTheQuery(t *testing.T) {
	const secret = "s3cr3t-Pw-in-query"
	for _, dsn := range []string{
		"postgres://app@127.0.0.1:1/settlements?sslmode=disable&password=" + secret,
		"postgresql://app@127.0.0.1:1/settlements?PASSWORD=" + secret + "&sslmode=disable",
		"postgres://app@127.0.0.1:1/settlements?sslmode=disable&sslpassword=" + secret,
		"postgres://app:" + secret + "@127.0.0.1:1/settlements?sslmode=disable",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		st, err := Open(ctx, dsn)
		cancel()
		if err == nil {
			_ = st.Close()
			t.Fatalf("%s: opened a store on a closed port", dsn)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}
