package worker_test

import (
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// A provider's status source on our own broker and vhost, reached under
// another name (a host alias, an address: the same broker to RabbitMQ,
// another to the configuration's textual check, broker.SameBroker), whose
// queue is our own status queue (RADIAL_STATUS_QUEUE's default when
// RADIAL_AMQP_URL looks like another broker): the worker would consume its
// own status events as the provider's, taking them away from the order
// system that reads that queue. It must stop, naming the setting.
func TestStatusSourceIsNeverOurOwnQueueUnderAnotherAddress(t *testing.T) {
	amqpURL := testenv.AMQPURL(t)
	u, err := url.Parse(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || ip.To4() == nil {
		t.Skipf("the test broker's host %q is not an IPv4 address; no alias to write", u.Hostname())
	}
	alias := *u
	alias.Host = net.JoinHostPort("::ffff:"+ip.String(), u.Port()) // the same address, written as IPv4-mapped IPv6
	if broker.SameBroker(amqpURL, alias.String()) {
		t.Fatal("the alias must look like another broker to the configuration")
	}
	own := broker.StatusQueueName(broker.Username(amqpURL))
	cfg, clients := load(t, amqpURL, "ACME_AMQP_URL", alias.String(), "ACME_STATUS_QUEUE", own)
	_, done := start(t, cfg, clients)
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "ACME_AMQP_URL") {
			t.Fatalf("Run = %v, want an error naming ACME_AMQP_URL", err)
		}
	case <-time.After(30 * time.Second):
		_, body := get(cfg.HTTPAddr, "/readyz")
		t.Fatalf("the worker consumes its own status queue %s as acme's statuses; /readyz:\n%s", own, body)
	}
}

// The same queue name on another vhost (Radial's own, the compose file's
// layout) is the provider's: it is consumed.
func TestStatusSourceOfTheSameNameOnAnotherVhost(t *testing.T) {
	amqpURL := testenv.AMQPURL(t)
	other := testenv.AMQPURL(t)
	own := broker.StatusQueueName(broker.Username(amqpURL))
	conn, err := amqp.Dial(other)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(own, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	cfg, clients := load(t, amqpURL, "ACME_AMQP_URL", other, "ACME_STATUS_QUEUE", own)
	start(t, cfg, clients)
	waitFor(t, "ready, consuming the provider's queue", 30*time.Second, func() (bool, string) {
		code, body := get(cfg.HTTPAddr, "/readyz")
		return code == 200 && strings.Contains(body, "acme status queue: ok"), body
	})
}
