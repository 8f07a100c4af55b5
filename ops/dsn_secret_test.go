package ops_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/ops"
)

// TestStoreErrorsHideTheDSNPassword: STORE_DSN written as a libpq keyword
// string (host=… user=… password=…), a form PostgreSQL users write by
// habit, is not a URL, so the store takes it for an SQLite path and its
// error quoted it whole, password included, in every operator command's
// output, which the runbook has people paste into tickets. store.Open now
// refuses such a string without quoting it (and hides a URL's password),
// so no command prints the password.
func TestStoreErrorsHideTheDSNPassword(t *testing.T) {
	const secret = "s3cretpw"
	t.Chdir(t.TempDir()) // were a keyword string taken for an SQLite path, its file lands here
	for _, dsn := range []string{
		"host=127.0.0.1 port=1 user=postgres password=" + secret + " dbname=x",
		"host=127.0.0.1 port=1 user=postgres password='" + secret + "' dbname=x",
		"user=postgres PASSWORD=" + secret,
		"postgres://postgres:" + secret + "@127.0.0.1:1/x?sslmode=disable",
	} {
		t.Run(dsn, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var out, errw syncBuffer
			e := ops.Env{StoreDSN: dsn, AMQPURL: "amqp://guest:" + secret + "@127.0.0.1:1/", Providers: providers, Out: &out, Err: &errw}
			for name, run := range map[string]func() error{
				"show":      func() error { return ops.Show(ctx, e, "r1", nil, false) },
				"stuck":     func() error { return ops.Stuck(ctx, e, nil, nil, time.Hour, false) },
				"stats":     func() error { return ops.Stats(ctx, e, false) },
				"retention": func() error { return ops.Retention(ctx, e, time.Hour, 0) },
			} {
				s := out.String() + errw.String()
				if err := run(); err != nil {
					s += err.Error()
				}
				if strings.Contains(s, secret) {
					t.Errorf("%s printed the password:\n%s", name, s)
				}
			}
		})
	}
}
