package radial

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/messages"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const testQueue = StatusQueuePrefix + "test"

// consume opens a consumer on Radial's status queue of amqpURL.
func consume(t *testing.T, amqpURL string) <-chan amqp.Delivery {
	t.Helper()
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	// The same declaration as the sandbox's (durable, no arguments).
	if _, err := ch.QueueDeclare(testQueue, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	d, err := ch.Consume(testQueue, "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func receive(t *testing.T, d <-chan amqp.Delivery, n int, timeout time.Duration) []amqp.Delivery {
	t.Helper()
	var out []amqp.Delivery
	deadline := time.After(timeout)
	for len(out) < n {
		select {
		case m := <-d:
			out = append(out, m)
		case <-deadline:
			t.Fatalf("received %d of %d status messages", len(out), n)
		}
	}
	return out
}

func TestStatusPublication(t *testing.T) {
	amqpURL := testenv.AMQPURL(t)
	sb, srv := newTestSandbox(t, Config{StatusAMQPURL: amqpURL, StatusQueue: testQueue})
	deliveries := consume(t, amqpURL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := sb.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Authorize(Authorization{StoreID: testStore, OrderID: "CB1", Amount: "100.00", Currency: "USD",
		LaterStatuses: []LaterStatus{{AfterMS: 100, Status: "R", DeclineReason: "Chargeback"}}}); err != nil {
		t.Fatal(err)
	}
	settle(t, srv, settlement("pub-1", "CB1", messages.SettlementDebit, "55.00"))
	base := settlement("pub-2", "PP1", messages.SettlementDebit, "20.00")
	base.PaymentContext, base.PaymentContextBase, base.ClientContext = nil, &messages.PaymentContextBase{OrderID: "PP1"}, ""
	if status, body := post(t, srv, "/radial/v1.0/stores/"+testStore+"/payments/settlement/create/PY.xml", encode(t, base), nil); status != 200 {
		t.Fatalf("HTTP %d: %s", status, body)
	}

	msgs := receive(t, deliveries, 3, 10*time.Second)
	byOrder := map[string][]*messages.PaymentSettlementStatus{}
	ids := map[string]bool{}
	for _, m := range msgs {
		if m.ContentType != "application/xml" || m.Type != "PaymentSettlementStatus" || m.DeliveryMode != amqp.Persistent ||
			m.MessageId == "" || m.Timestamp.IsZero() {
			t.Fatalf("properties: content_type %q type %q delivery_mode %d message_id %q timestamp %v",
				m.ContentType, m.Type, m.DeliveryMode, m.MessageId, m.Timestamp)
		}
		if ids[m.MessageId] {
			t.Fatalf("message_id %s repeated", m.MessageId)
		}
		ids[m.MessageId] = true
		if !bytes.Contains(m.Body, []byte(`xmlns="`+messages.Namespace+`"`)) {
			t.Fatalf("body without the Radial namespace: %s", m.Body)
		}
		st, err := messages.DecodeSettlementStatus(m.Body)
		if err != nil {
			t.Fatalf("decode: %v: %s", err, m.Body)
		}
		if err := st.Validate(); err != nil {
			t.Fatalf("status does not validate: %v", err)
		}
		byOrder[st.OrderID()] = append(byOrder[st.OrderID()], st)
	}
	cb := byOrder["CB1"]
	if len(cb) != 2 {
		t.Fatalf("CB1 statuses: %d, want 2 (S then the chargeback R)", len(cb))
	}
	first, second := cb[0], cb[1]
	if first.SettlementStatus != "S" || first.DeclineReason != "" || second.SettlementStatus != "R" || second.DeclineReason != "Chargeback" {
		t.Fatalf("CB1 statuses: %+v then %+v", first, second)
	}
	if first.PaymentContext == nil || first.PaymentContext.PaymentAccountUniqueID.Value != testPAN || first.PaymentContextBase != nil ||
		first.TenderType != "VC" || first.StoreID != testStore || first.ClientContext != "cc-pub-1" ||
		first.Amount != (messages.Amount{CurrencyCode: "USD", Value: "55.00"}) || first.SettlementType != messages.SettlementDebit {
		t.Fatalf("CB1 status: %+v", first)
	}
	pp := byOrder["PP1"]
	if len(pp) != 1 || pp[0].PaymentContextBase == nil || pp[0].PaymentContext != nil || pp[0].TenderType != "PY" ||
		pp[0].ClientContext != "" || pp[0].SettlementStatus != "S" {
		t.Fatalf("PP1 statuses: %+v", pp)
	}
	if _, err := sb.WaitPublished(3, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := sb.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestOutboxKeepsStatusesWhileBrokerIsDown(t *testing.T) {
	sb, srv := newTestSandbox(t, Config{
		StatusAMQPURL:   "amqp://guest:guest@127.0.0.1:1/",
		RetryMinBackoff: 10 * time.Millisecond,
		RetryMaxBackoff: 20 * time.Millisecond,
		PublishTimeout:  time.Second,
	})
	if err := sb.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	settle(t, srv, settlement("down-1", "O5", messages.SettlementDebit, "5.00"))
	if _, err := sb.WaitStatuses(1, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for sb.Statuses()[0].Attempts < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if r := sb.Statuses()[0]; r.Published || r.Attempts < 3 || sb.Pending() != 1 {
		t.Fatalf("record %+v, pending %d", r, sb.Pending())
	}
	sb.Reset()
	if sb.Pending() != 1 || len(sb.Statuses()) != 1 {
		t.Fatal("Reset dropped an unpublished status")
	}
	err := sb.Close()
	if err == nil || !strings.Contains(err.Error(), "1 settlement statuses were not published") {
		t.Fatalf("Close = %v", err)
	}
}

// TestOutboxPublishesOnceBrokerIsReachable starts the publisher against a
// vhost that does not exist yet, then creates it: the status waiting in
// the outbox is published after the reconnect.
func TestOutboxPublishesOnceBrokerIsReachable(t *testing.T) {
	fresh, err := url.Parse(testenv.AMQPURL(t))
	if err != nil {
		t.Fatal(err)
	}
	vhost := strings.TrimPrefix(fresh.Path, "/") + "-late"
	late := *fresh
	late.Path = "/" + vhost
	sb, srv := newTestSandbox(t, Config{
		StatusAMQPURL:   late.String(),
		StatusQueue:     testQueue,
		RetryMinBackoff: 20 * time.Millisecond,
		RetryMaxBackoff: 100 * time.Millisecond,
	})
	if err := sb.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	settle(t, srv, settlement("late-1", "O6", messages.SettlementDebit, "5.00"))
	if _, err := sb.WaitStatuses(1, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if sb.Pending() != 1 {
		t.Fatalf("pending %d before the vhost exists", sb.Pending())
	}

	mgmt := testenv.ManagementURL(t)
	user := fresh.User.Username()
	mgmtDo(t, mgmt, http.MethodPut, "/api/vhosts/"+url.PathEscape(vhost), map[string]any{})
	t.Cleanup(func() { mgmtDo(t, mgmt, http.MethodDelete, "/api/vhosts/"+url.PathEscape(vhost), nil) })
	mgmtDo(t, mgmt, http.MethodPut, "/api/permissions/"+url.PathEscape(vhost)+"/"+url.PathEscape(user),
		map[string]string{"configure": ".*", "write": ".*", "read": ".*"})

	if _, err := sb.WaitPublished(1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	msgs := receive(t, consume(t, late.String()), 1, 5*time.Second)
	if st, err := messages.DecodeSettlementStatus(msgs[0].Body); err != nil || st.OrderID() != "O6" {
		t.Fatalf("status %v %v", st, err)
	}
	if r := sb.Statuses()[0]; r.Attempts < 2 {
		t.Fatalf("attempts %d, want a retry", r.Attempts)
	}
}

// TestStatusPublisherBrokerRestart restarts the broker between two
// settlements; both statuses arrive. It runs in make test's exclusive pass.
func TestStatusPublisherBrokerRestart(t *testing.T) {
	testenv.RequireExclusiveBroker(t)
	amqpURL := testenv.AMQPURL(t)
	sb, srv := newTestSandbox(t, Config{StatusAMQPURL: amqpURL, StatusQueue: testQueue,
		RetryMinBackoff: 50 * time.Millisecond, RetryMaxBackoff: 500 * time.Millisecond})
	if err := sb.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	settle(t, srv, settlement("rs-1", "O7", messages.SettlementDebit, "1.00"))
	if _, err := sb.WaitPublished(1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	testenv.RestartBroker(t)
	settle(t, srv, settlement("rs-2", "O7", messages.SettlementDebit, "1.00"))
	if _, err := sb.WaitPublished(2, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	msgs := receive(t, consume(t, amqpURL), 2, 10*time.Second)
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
}

// TestStatusPublisherReconnects closes the publisher's connection from the
// broker side (management API) between two settlements: the publisher
// reconnects and both statuses arrive. Other clients are not disturbed.
func TestStatusPublisherReconnects(t *testing.T) {
	amqpURL := testenv.AMQPURL(t)
	u, _ := url.Parse(amqpURL)
	vhost := strings.TrimPrefix(u.Path, "/")
	sb, srv := newTestSandbox(t, Config{StatusAMQPURL: amqpURL, StatusQueue: testQueue,
		RetryMinBackoff: 20 * time.Millisecond, RetryMaxBackoff: 200 * time.Millisecond})
	if err := sb.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	settle(t, srv, settlement("rc-1", "O8", messages.SettlementDebit, "1.00"))
	if _, err := sb.WaitPublished(1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	mgmt := testenv.ManagementURL(t)
	var killed bool
	for deadline := time.Now().Add(20 * time.Second); !killed && time.Now().Before(deadline); {
		var conns []struct {
			Name string `json:"name"`
		}
		mgmtJSON(t, mgmt, "/api/vhosts/"+url.PathEscape(vhost)+"/connections", &conns)
		for _, c := range conns {
			mgmtDo(t, mgmt, http.MethodDelete, "/api/connections/"+url.PathEscape(c.Name), nil)
			killed = true
		}
		if !killed {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if !killed {
		t.Skip("the management API never listed the publisher's connection")
	}
	settle(t, srv, settlement("rc-2", "O8", messages.SettlementDebit, "1.00"))
	if _, err := sb.WaitPublished(2, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	msgs := receive(t, consume(t, amqpURL), 2, 10*time.Second)
	if msgs[0].MessageId == msgs[1].MessageId {
		t.Fatal("the same status twice")
	}
}

// mgmtJSON GETs a management API path into v.
func mgmtJSON(t *testing.T, base, path string, v any) {
	t.Helper()
	u, err := url.Parse(strings.TrimRight(base, "/") + path)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
	if u.User != nil {
		pw, _ := u.User.Password()
		req.SetBasicAuth(u.User.Username(), pw)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

func mgmtDo(t *testing.T, base, method, path string, body any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	u, err := url.Parse(strings.TrimRight(base, "/") + path)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(method, u.String(), rd)
	if u.User != nil {
		pw, _ := u.User.Password()
		req.SetBasicAuth(u.User.Username(), pw)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusNotFound {
		t.Fatal(fmt.Sprintf("%s %s: HTTP %d", method, path, resp.StatusCode))
	}
}
