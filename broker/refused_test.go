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
// "not reachable yet": Dial, NewSubscriber and WaitForQueue stop at once
// with an error IsRefused recognizes, instead of retrying forever.
func TestRefusedConnectionsAreNotRetried(t *testing.T) {
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
