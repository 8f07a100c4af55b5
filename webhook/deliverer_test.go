package webhook

import (
	"bytes"
	"encoding/base64"
	"errors"
	"maps"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/internal/xsdtest"
	"github.com/settlement-worker/settlement-worker/messages"
)

// Statuses arrive as PaymentSettlementStatusList batches with basic auth;
// a duplicate (same message_id) is sent once; everything is acked.
func TestDeliversBatchesWithBasicAuth(t *testing.T) {
	u := testenv.AMQPURL(t)
	r := newReceiver(t)
	cfg := testConfig(u, r)
	d := start(t, cfg)
	p := newPublisher(t, u)
	p.statuses("o1", "o2", "o3", "o4", "o5")
	p.publish("m-o3", status(t, "o3")) // the worker republished o3's event
	waitFor(t, 10*time.Second, "5 statuses", func() bool { return len(r.accepted()) == 5 })
	time.Sleep(cfg.BatchWait + 200*time.Millisecond) // let a stray batch arrive
	want := map[string]int{"o1": 1, "o2": 1, "o3": 1, "o4": 1, "o5": 1}
	if got := r.accepted(); !maps.Equal(got, want) {
		t.Fatalf("delivered %v, want each once: %v", got, want)
	}
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("webhook-user:webhook-pass"))
	for i, p := range r.snapshot() {
		if p.err != nil {
			t.Errorf("POST %d is not a PaymentSettlementStatusList: %v", i+1, p.err)
		}
		if got := p.header.Get("Authorization"); got != wantAuth {
			t.Errorf("POST %d Authorization = %q", i+1, got)
		}
		if !strings.HasPrefix(p.header.Get("Content-Type"), "application/xml") || p.header.Get(HeaderIdempotencyKey) == "" {
			t.Errorf("POST %d headers %v", i+1, p.header)
		}
		for _, s := range p.statuses {
			if s.StoreID != "ABCXYZ" || s.Amount.Value != "35.00" || s.SettlementStatus != "S" {
				t.Errorf("status changed on the way: %+v", s)
			}
		}
	}
	_ = d.Close()
	if n := depth(t, u, cfg.Queue); n != 0 {
		t.Fatalf("%d messages left in the queue after delivery (not acked)", n)
	}
}

// A batch never holds more than BatchSize statuses.
func TestBatchSize(t *testing.T) {
	u := testenv.AMQPURL(t)
	r := newReceiver(t)
	cfg := testConfig(u, r)
	cfg.BatchSize = 3
	start(t, cfg)
	p := newPublisher(t, u)
	p.statuses(orders(8, "b")...)
	waitFor(t, 10*time.Second, "8 statuses", func() bool { return len(r.accepted()) == 8 })
	for i, p := range r.snapshot() {
		if len(p.statuses) > 3 || len(p.statuses) == 0 {
			t.Errorf("POST %d holds %d statuses", i+1, len(p.statuses))
		}
	}
}

// The webhook fails, then accepts: the batch is delivered once, the failed
// attempts carried the same statuses, and nothing is acked before the 2xx.
func TestRetriesUntilAccepted(t *testing.T) {
	tests := []struct {
		name   string
		answer func(n int) int
		delay  func(n int) time.Duration
		posts  int
	}{
		{"500 twice then 200", func(n int) int {
			if n <= 2 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		}, nil, 3},
		{"timeout then 200", func(n int) int {
			if n == 1 {
				return http.StatusGatewayTimeout
			}
			return http.StatusOK
		}, func(n int) time.Duration {
			if n == 1 {
				return 1500 * time.Millisecond
			}
			return 0
		}, 2},
		{"4xx and redirect are failures too", func(n int) int {
			switch n {
			case 1:
				return http.StatusBadRequest
			case 2:
				return http.StatusFound
			}
			return http.StatusNoContent
		}, nil, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := testenv.AMQPURL(t)
			r := newReceiver(t)
			r.setAnswer(tt.answer)
			r.setDelay(tt.delay)
			cfg := testConfig(u, r)
			cfg.HTTPTimeout = time.Second
			d := start(t, cfg)
			p := newPublisher(t, u)
			p.statuses("r1", "r2")
			waitFor(t, 15*time.Second, "the batch to be accepted", func() bool { return len(r.accepted()) == 2 })
			time.Sleep(500 * time.Millisecond)
			posts := r.snapshot()
			if len(posts) != tt.posts {
				t.Fatalf("%d POSTs, want %d", len(posts), tt.posts)
			}
			for i, p := range posts {
				if len(p.statuses) != 2 || p.header.Get(HeaderIdempotencyKey) != posts[0].header.Get(HeaderIdempotencyKey) {
					t.Errorf("attempt %d carried %d statuses, key %q", i+1, len(p.statuses), p.header.Get(HeaderIdempotencyKey))
				}
			}
			if got := r.accepted(); !maps.Equal(got, map[string]int{"r1": 1, "r2": 1}) {
				t.Fatalf("accepted %v, want each once", got)
			}
			_ = d.Close()
			if n := depth(t, u, cfg.Queue); n != 0 {
				t.Fatalf("%d messages left unacked", n)
			}
		})
	}
}

// The deliverer is closed while the webhook fails: the undelivered statuses
// go back to the queue, and a new deliverer delivers them. Nothing is lost.
func TestCloseAndRestartLosesNothing(t *testing.T) {
	u := testenv.AMQPURL(t)
	r := newReceiver(t)
	// The first batch is accepted, then the webhook goes down.
	r.setAnswer(func(n int) int {
		if n == 1 {
			return http.StatusOK
		}
		return http.StatusServiceUnavailable
	})
	cfg := testConfig(u, r)
	cfg.BatchSize = 2
	first, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- first.Run(t.Context()) }()
	waitFor(t, 30*time.Second, "the first deliverer", first.Ready)
	p := newPublisher(t, u)
	p.statuses(orders(6, "c")...)
	waitFor(t, 10*time.Second, "a failing attempt", func() bool { return len(r.snapshot()) >= 3 })
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	delivered := r.accepted()
	if len(delivered) != 2 {
		t.Fatalf("first deliverer delivered %v, want one batch of 2", delivered)
	}
	if n := depth(t, u, cfg.Queue); n != 4 {
		t.Fatalf("after Close the queue holds %d messages, want the 4 undelivered", n)
	}

	r.setAnswer(nil) // the webhook is back
	start(t, cfg)
	waitFor(t, 15*time.Second, "all 6 statuses", func() bool { return len(r.accepted()) == 6 })
	for o, n := range r.accepted() {
		if n != 1 {
			t.Errorf("order %s delivered %d times", o, n)
		}
	}
}

func TestAuthModes(t *testing.T) {
	tests := []struct {
		name  string
		set   func(c *Config)
		check func(h http.Header) bool
	}{
		{"headers", func(c *Config) {
			c.AuthMode, c.UsernameHeader, c.PasswordHeader = AuthHeaders, "X-Api-User", "X-Api-Password"
		},
			func(h http.Header) bool {
				return h.Get("X-Api-User") == "webhook-user" && h.Get("X-Api-Password") == "webhook-pass" && h.Get("Authorization") == ""
			}},
		{"headers with default names", func(c *Config) { c.AuthMode = AuthHeaders },
			func(h http.Header) bool {
				return h.Get("username") == "webhook-user" && h.Get("password") == "webhook-pass"
			}},
		{"none", func(c *Config) { c.AuthMode, c.Username, c.Password = AuthNone, "", "" },
			func(h http.Header) bool { return h.Get("Authorization") == "" && h.Get("password") == "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := testenv.AMQPURL(t)
			r := newReceiver(t)
			cfg := testConfig(u, r)
			tt.set(&cfg)
			start(t, cfg)
			newPublisher(t, u).statuses("a1")
			waitFor(t, 10*time.Second, "a POST", func() bool { return len(r.accepted()) == 1 })
			if h := r.snapshot()[0].header; !tt.check(h) {
				t.Fatalf("credentials not sent as configured: %v", h)
			}
		})
	}
}

// A message that is not a PaymentSettlementStatus is parked with a reason;
// the others are delivered.
func TestParksUndecodableMessages(t *testing.T) {
	u := testenv.AMQPURL(t)
	r := newReceiver(t)
	cfg := testConfig(u, r)
	d := start(t, cfg)
	p := newPublisher(t, u)
	p.publish("junk-1", []byte("not xml"))
	p.statuses("k1")
	waitFor(t, 10*time.Second, "the good status", func() bool { return len(r.accepted()) == 1 })
	_ = d.Close()
	conn, err := amqp.Dial(u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, _ := conn.Channel()
	m, ok, err := ch.Get(cfg.Queue+".parked", true)
	if err != nil || !ok {
		t.Fatalf("nothing parked (%v)", err)
	}
	if m.MessageId != "junk-1" || string(m.Body) != "not xml" || m.Headers["parked_reason"] == nil || m.Headers["parked_from_queue"] != cfg.Queue {
		t.Fatalf("parked copy %q %q %v", m.MessageId, m.Body, m.Headers)
	}
	if n := depth(t, u, cfg.Queue); n != 0 {
		t.Fatalf("%d left in the queue", n)
	}
}

// Issue 7: a status that is not a valid PaymentSettlementStatus (an
// invalid value, a misordered document — as an older worker published
// them) is parked with the validator's reason; the POSTed lists hold only
// valid statuses and are valid documents themselves.
func TestParksInvalidStatuses(t *testing.T) {
	u := testenv.AMQPURL(t)
	r := newReceiver(t)
	cfg := testConfig(u, r)
	d := start(t, cfg)
	p := newPublisher(t, u)
	badCurrency := bytes.Replace(status(t, "bad1"), []byte(`currencyCode="USD"`), []byte(`currencyCode="XYZ"`), 1)
	misordered := []byte(`<PaymentSettlementStatus xmlns="` + messages.Namespace + `"><TenderType>PY</TenderType>` +
		`<PaymentContextBase><OrderId>bad2</OrderId></PaymentContextBase><Amount currencyCode="USD">35.00</Amount>` +
		`<SettlementType>Debit</SettlementType><SettlementStatus>R</SettlementStatus><StoreId>ABCXYZ</StoreId></PaymentSettlementStatus>`)
	p.publish("bad-1", badCurrency)
	p.publish("bad-2", misordered)
	p.statuses("g1", "g2")
	waitFor(t, 10*time.Second, "the good statuses", func() bool { return len(r.accepted()) == 2 })
	time.Sleep(cfg.BatchWait + 200*time.Millisecond)
	_ = d.Close()
	if got := r.accepted(); !maps.Equal(got, map[string]int{"g1": 1, "g2": 1}) {
		t.Errorf("delivered %v, want only g1 and g2", got)
	}
	for i, post := range r.snapshot() {
		if err := messages.ValidateStatusDocument(post.body); err != nil {
			t.Errorf("POST %d is not a valid PaymentSettlementStatusList: %v\n%s", i+1, err, post.body)
		}
		switch ok, diag, err := xsdtest.Validate(post.body); {
		case errors.Is(err, xsdtest.ErrNoXMLLint):
			t.Log(err)
		case err != nil:
			t.Error(err)
		case !ok:
			t.Errorf("xmllint refuses POST %d:\n%s\n%s", i+1, diag, post.body)
		}
	}
	conn, err := amqp.Dial(u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, _ := conn.Channel()
	parked := map[string]string{}
	for {
		m, ok, err := ch.Get(cfg.Queue+".parked", true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		reason, _ := m.Headers["parked_reason"].(string)
		parked[m.MessageId] = reason
	}
	for id, want := range map[string]string{"bad-1": `Amount/@currencyCode: must be an active 3-letter ISO 4217 currency code (got "XYZ")`,
		"bad-2": "PaymentContextBase: is out of the schema's order"} {
		if !strings.Contains(parked[id], want) || !strings.Contains(parked[id], "not a valid PaymentSettlementStatus") {
			t.Errorf("parked %s with reason %q, want it to contain %q", id, parked[id], want)
		}
	}
	if n := depth(t, u, cfg.Queue); n != 0 {
		t.Fatalf("%d left in the queue", n)
	}
}

// A status published while no deliverer runs waits in the durable queue.
func TestQueueDeclaredAndBoundBeforeDelivery(t *testing.T) {
	u := testenv.AMQPURL(t)
	r := newReceiver(t)
	r.setAnswer(func(int) int { return http.StatusServiceUnavailable })
	cfg := testConfig(u, r)
	cfg.BindingKeys = []string{broker.StatusRoutingKey("ABCXYZ")}
	d := start(t, cfg)
	_ = d.Close()
	newPublisher(t, u).statuses("q1", "q2")
	if n := depth(t, u, cfg.Queue); n != 2 {
		t.Fatalf("queue holds %d, want 2", n)
	}
	r.setAnswer(nil)
	start(t, cfg)
	waitFor(t, 10*time.Second, "both statuses", func() bool { return len(r.accepted()) == 2 })
}

// The webhook target is reported down (for /readyz) while its last POST
// failed, and up again once one is accepted.
func TestTargetErrFollowsTheLastPost(t *testing.T) {
	u := testenv.AMQPURL(t)
	r := newReceiver(t)
	var fail atomic.Bool
	fail.Store(true)
	r.setAnswer(func(int) int {
		if fail.Load() {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	cfg := testConfig(u, r)
	d := start(t, cfg)
	if err := d.TargetErr(); err != nil {
		t.Fatalf("TargetErr before any POST = %v", err)
	}
	newPublisher(t, u).statuses("t1")
	waitFor(t, 15*time.Second, "a failed POST to be reported", func() bool { return d.TargetErr() != nil })
	if err := d.TargetErr(); !strings.Contains(err.Error(), "503") || strings.Contains(err.Error(), cfg.Password) && cfg.Password != "" {
		t.Errorf("TargetErr = %v", err)
	}
	fail.Store(false)
	waitFor(t, 30*time.Second, "the target to be up after an accepted POST", func() bool { return d.TargetErr() == nil })
}
