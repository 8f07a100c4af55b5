package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
)

// Dial connects to url, retrying with exponential backoff (capped at 10 s
// between attempts) until it succeeds or ctx ends: a worker started before its
// broker waits for it instead of exiting. A refused connection (IsRefused)
// is retried for RefusedGrace, then returned.
func Dial(ctx context.Context, amqpURL string, log zerolog.Logger) (*amqp.Connection, error) {
	c, _, err := dialSocket(ctx, amqpURL, log)
	return c, err
}

// dialSocket is Dial that also returns the connection's socket (under its
// TLS, if any). Closing the socket ends every wait of the connection for
// the broker at once, whatever amqp091 is doing: CloseDeadline does
// nothing once a close is under way, and the deadline it sets on reads
// is moved on by amqp091's heartbeater at every frame the broker sends.
func dialSocket(ctx context.Context, amqpURL string, log zerolog.Logger) (*amqp.Connection, net.Conn, error) {
	refused := refusals{}
	var sock net.Conn
	op := func() (*amqp.Connection, error) {
		cfg := dialWithin(ctx, dialConfig("settlement-worker"))
		dial := cfg.Dial
		cfg.Dial = func(network, addr string) (net.Conn, error) {
			s, err := dial(network, addr)
			sock = s // amqp.DialConfig calls it before it returns
			return s, err
		}
		c, err := dialGuarded(amqpURL, cfg)
		if err != nil {
			if err := refused.check(err); err != nil {
				return nil, err
			}
			log.Warn().Err(err).Str("broker", Redact(amqpURL)).Msg("broker not reachable yet; retrying")
			return nil, err
		}
		return c, nil
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 200 * time.Millisecond
	b.MaxInterval = 10 * time.Second
	c, err := backoff.Retry(ctx, op, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to broker %s: %w", Redact(amqpURL), err)
	}
	return c, sock, nil
}

// handshakeTimeout is amqp091's bound on a connection's TCP, TLS and AMQP
// handshakes.
const handshakeTimeout = 30 * time.Second

// dialWithin is cfg with amqp091's own dialer, but whose handshakes end at
// ctx's deadline when it comes first: a broker that accepts the TCP
// connection and never answers the AMQP handshake held a publish bounded
// by a few seconds (the intake's PUBLISH_TIMEOUT, a handler's budget) for
// all of amqp091's 30 s (or until the broker's own handshake timeout).
func dialWithin(ctx context.Context, cfg amqp.Config) amqp.Config {
	cfg.Dial = func(network, addr string) (net.Conn, error) {
		deadline := time.Now().Add(handshakeTimeout)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		conn, err := (&net.Dialer{Deadline: deadline}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		// Cleared by amqp091 once the connection is open.
		if err := conn.SetDeadline(deadline); err != nil {
			_ = conn.Close()
			return nil, err
		}
		return conn, nil
	}
	return cfg
}

// Redact removes the password from an AMQP URL so that it can be logged.
func Redact(amqpURL string) string {
	u, err := url.Parse(amqpURL)
	if err != nil {
		return "(unparseable url)"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	return u.String()
}

// Username returns the user of an AMQP URL ("guest" when none is given, as
// RabbitMQ assumes).
func Username(amqpURL string) string {
	u, err := url.Parse(amqpURL)
	if err != nil || u.User == nil || u.User.Username() == "" {
		return "guest"
	}
	return u.User.Username()
}

// CheckURL reports whether amqpURL is an amqp:// or amqps:// URL with a
// host; the error never holds the password.
func CheckURL(amqpURL string) error {
	u, err := url.Parse(amqpURL)
	if err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") || u.Host == "" {
		return fmt.Errorf("must be an amqp:// or amqps:// URL with a host (got %q)", Redact(amqpURL))
	}
	return nil
}

// IsRefused reports whether err is the broker refusing the connection for a
// reason that retrying cannot fix: refused credentials (403 ACCESS_REFUSED)
// or an unknown virtual host (530 NOT_ALLOWED "vhost … not found"). A
// worker stops on it with an error naming the setting, instead of retrying
// forever as if the broker were not reachable yet.
func IsRefused(err error) bool {
	if errors.Is(err, amqp.ErrCredentials) {
		return true
	}
	var ae *amqp.Error
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.Code {
	case amqp.AccessRefused:
		return true
	case amqp.NotAllowed:
		return strings.Contains(ae.Reason, "not found")
	}
	return false
}

// RefusedGrace is how long a connection the broker refuses (IsRefused) is
// retried before the refusal is taken as permanent: a user or vhost created
// by an init job just after the worker started is waited for; a wrong
// password stops the worker once it has lasted this long. The composition
// root sets it from AMQP_REFUSED_GRACE.
var RefusedGrace = time.Minute

// refusals tracks the refusals of one connection attempt loop.
type refusals struct{ since time.Time }

// check returns a backoff.Permanent error once refusals have lasted
// RefusedGrace, nil for an error that is not a refusal or is still within
// the grace (the caller retries it).
func (r *refusals) check(err error) error {
	if !IsRefused(err) {
		r.since = time.Time{}
		return nil
	}
	if r.since.IsZero() {
		r.since = time.Now()
	}
	if time.Since(r.since) < RefusedGrace {
		return nil
	}
	return backoff.Permanent(fmt.Errorf("the broker refused the connection for %s (check the user, password and vhost): %w",
		time.Since(r.since).Round(time.Second), err))
}

// SameVhost reports whether the AMQP URLs a and b reach the same virtual
// host of the same broker, whatever they call it (a host alias, an
// address written another way, which SameBroker cannot see through): a
// server-named exclusive queue declared through a is looked up through b;
// only in that vhost does it exist, where the broker refuses the look-up
// as locked (405 RESOURCE_LOCKED) instead of not found (404).
func SameVhost(a, b string) (bool, error) {
	ca, err := dialGuarded(a, dialConfig("settlement-worker-probe"))
	if err != nil {
		return false, err
	}
	defer ca.Close()
	cha, err := ca.Channel()
	if err != nil {
		return false, err
	}
	q, err := cha.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		return false, fmt.Errorf("declare a probe queue: %w", err)
	}
	cb, err := dialGuarded(b, dialConfig("settlement-worker-probe"))
	if err != nil {
		return false, err
	}
	defer cb.Close()
	chb, err := cb.Channel()
	if err != nil {
		return false, err
	}
	_, err = chb.QueueDeclarePassive(q.Name, false, true, true, false, nil)
	var aerr *amqp.Error
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &aerr) && aerr.Code == amqp.ResourceLocked:
		return true, nil
	case errors.As(err, &aerr) && aerr.Code == amqp.NotFound:
		return false, nil
	}
	return false, fmt.Errorf("look the probe queue up: %w", err)
}
