package broker_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// A broker that refuses the credentials or does not know the vhost is not
// "not reachable yet": once RefusedGrace has passed (here 0), Dial and
// WaitForQueue stop with an error IsRefused recognizes, instead of
// retrying forever.
func TestRefusedConnectionsAreNotRetried(t *testing.T) {
	prev := broker.RefusedGrace
	broker.RefusedGrace = 0
	t.Cleanup(func() { broker.RefusedGrace = prev })
	base := testenv.AMQPURL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	badPassword := *u
	badPassword.User = url.UserPassword(u.User.Username(), "certainly-not-the-password")
	noVhost := *u
	noVhost.Path = "/no-such-vhost-" + strings.ReplaceAll(t.Name(), "/", "-")
	cases := map[string]string{"wrong password": badPassword.String(), "unknown vhost": noVhost.String()}
	for name, amqpURL := range cases {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			_, err := broker.Dial(ctx, amqpURL, zerolog.Nop())
			if err == nil || !broker.IsRefused(err) || ctx.Err() != nil {
				t.Fatalf("Dial = %v (after %s), want a refusal at once", err, time.Since(start))
			}
			if strings.Contains(err.Error(), "certainly-not-the-password") {
				t.Errorf("error shows the password: %v", err)
			}
			err = broker.WaitForQueue(ctx, amqpURL, "q.any", func(error) {})
			if err == nil || !broker.IsRefused(err) || ctx.Err() != nil {
				t.Fatalf("WaitForQueue = %v, want a refusal at once", err)
			}
		})
	}
	t.Run("broker down is retried", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := broker.Dial(ctx, "amqp://guest:guest@127.0.0.1:1/", zerolog.Nop())
		if err == nil || broker.IsRefused(err) {
			t.Fatalf("Dial to a closed port = %v, want retries until the context ends", err)
		}
	})
}

// Within RefusedGrace a refusal is retried: a vhost created just after the
// worker started (an init job) is waited for.
func TestRefusalWithinTheGraceIsRetried(t *testing.T) {
	prev := broker.RefusedGrace
	broker.RefusedGrace = time.Hour
	t.Cleanup(func() { broker.RefusedGrace = prev })
	u, err := url.Parse(testenv.AMQPURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/no-such-vhost-yet"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := broker.Dial(ctx, u.String(), zerolog.Nop()); ctx.Err() == nil {
		t.Fatalf("Dial = %v before the context ended, want retries within the grace", err)
	}
}
