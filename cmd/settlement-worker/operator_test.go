package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/store"
)

const requestTmpl = `<PaymentSettlementRequest requestId="ID" xmlns="http://api.gsicommerce.com/schema/checkout/1.0">
  <PaymentContext><OrderId>O-ID</OrderId><PaymentAccountUniqueId isToken="false">4400000000000008</PaymentAccountUniqueId></PaymentContext>
  <Amount currencyCode="USD">100.00</Amount><SettlementType>Debit</SettlementType>
</PaymentSettlementRequest>`

func request(id string) []byte { return []byte(strings.ReplaceAll(requestTmpl, "ID", id)) }

// opsBroker is a fresh vhost with radial's topology and a confirming
// channel.
func opsBroker(t *testing.T) (string, *amqp.Channel) {
	t.Helper()
	u := testenv.AMQPURL(t)
	conn, err := amqp.Dial(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := (broker.Topology{Providers: []string{"radial"}, RetryDelays: []time.Duration{time.Second}}).Declare(conn); err != nil {
		t.Fatal(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	return u, ch
}

func publishConfirmed(t *testing.T, ch *amqp.Channel, exchange, key string, p amqp.Publishing) {
	t.Helper()
	dc, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), exchange, key, true, false, p)
	if err != nil || !dc.Wait() {
		t.Fatalf("publish: %v", err)
	}
}

func parkedIDs(t *testing.T, ch *amqp.Channel) []string {
	t.Helper()
	var ids []string
	for {
		d, ok, err := ch.Get(broker.ParkedQueue("radial"), true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return ids
		}
		ids = append(ids, d.MessageId)
	}
}

// The operator commands against a real broker and an SQLite file that a
// "worker" (this test process) holds open with its lock: they need only
// AMQP_URL and STORE_DSN.
func TestOperatorCommands(t *testing.T) {
	u, ch := opsBroker(t)
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "w.db")
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, id := range []string{"r1", "r2", "r3"} {
		if _, _, err := st.Register(ctx, store.Settlement{Key: store.Key{Provider: "radial", RequestID: id}, StoreID: "S1", OrderID: "O-" + id,
			Amount: "100.00", Currency: "USD", SettlementType: "Debit", Request: request(id), ContentType: "application/xml"}); err != nil {
			t.Fatal(err)
		}
		reason := "provider down: 503"
		if id == "r2" {
			reason = "outcome unknown"
		}
		if _, _, err := st.Transition(ctx, store.Key{Provider: "radial", RequestID: id}, nil, store.StateConfirming, store.Change{ParkedReason: &reason}, nil); err != nil {
			t.Fatal(err)
		}
		publishConfirmed(t, ch, "", broker.ParkedQueue("radial"), amqp.Publishing{MessageId: id, ContentType: "application/xml", Body: request(id),
			Headers: amqp.Table{"store_id": "S1", "parked_reason": reason, "parked_at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
				"parked_attempts": "6", "parked_from_queue": broker.RequestQueue("radial")}})
	}
	env := append(os.Environ(), "AMQP_URL="+u, "STORE_DSN="+dsn, "PROVIDERS=nosuch") // provider settings are not read

	run := func(t *testing.T, wantCode int, args ...string) (stdout, both string) {
		t.Helper()
		out, errOut, code := sw(t, env, args...)
		if code != wantCode {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, code, wantCode, out, errOut)
		}
		if strings.Contains(out+errOut, "4400000000000008") {
			t.Fatalf("%v printed the card number", args)
		}
		return out, out + errOut
	}
	for _, tc := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"parked", "ls"}, 0, []string{"radial", "r1", "O-r1", "provider down: 503", "1h00m", "3 of 3 parked message(s) match"}},
		{[]string{"parked", "ls", "--reason", "DOWN", "--older-than", "30m"}, 0, []string{"2 of 3 parked message(s) match"}},
		{[]string{"parked", "ls", "--older-than", "1d"}, 0, []string{"0 of 3"}},
		{[]string{"show", "r2"}, 0, []string{"settlement r2 (provider radial)", "confirming (PARKED)", "parked reason   outcome unknown", "************0008", "(new) -> received"}},
		{[]string{"show", "nope"}, 1, []string{`no settlement has request id "nope"`}},
		{[]string{"stuck", "--older-than", "0s"}, 0, []string{"no settlement has waited"}}, // all parked
		{[]string{"stats"}, 0, []string{"radial    parked       3      0", broker.ParkedQueue("radial"), "radial    confirming  3            3"}},
		{[]string{"parked", "replay", "--reason", "down", "--dry-run"}, 0, []string{"would replay 2 of 3"}},
		{[]string{"parked", "replay", "--reason", "down", "--limit", "1"}, 0, []string{"radial\tr1", "replayed 1 of 3 parked message(s)"}},
		{[]string{"parked", "purge", "--request-id", "r3", "--yes"}, 0, []string{"radial\tr3", "purged 1 of 2 parked message(s)"}},
		// Radial requires the tender type: without --tender nothing goes.
		{[]string{"publish", "--file", "../../messages/testdata/request_required_payment_context.xml", "--provider", "radial", "--store", "S1"}, 1,
			[]string{"provider radial requires the tender type", "nothing published"}},
	} {
		_, out := run(t, tc.code, tc.args...)
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, out)
			}
		}
	}
	var listed []struct {
		RequestID string `json:"request_id"`
		Attempts  int    `json:"attempts"`
	}
	js, _ := run(t, 0, "parked", "ls", "--json")
	if err := json.Unmarshal([]byte(js), &listed); err != nil || len(listed) != 1 || listed[0].RequestID != "r2" || listed[0].Attempts != 6 {
		t.Errorf("parked ls --json = %+v, %v", listed, err)
	}
	if got := parkedIDs(t, ch); strings.Join(got, " ") != "r2" {
		t.Errorf("parked at the end: %v, want r2", got)
	}
	if d, ok, err := ch.Get(broker.RequestQueue("radial"), true); err != nil || !ok || d.MessageId != "r1" || d.Headers["parked_reason"] != nil {
		t.Errorf("replayed: %v %v %q %v", ok, err, d.MessageId, d.Headers)
	}

	// The store in PostgreSQL.
	pg := testenv.PostgresDSN(t)
	pst, err := store.Open(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	defer pst.Close()
	if _, _, err := pst.Register(ctx, store.Settlement{Key: store.Key{Provider: "radial", RequestID: "p1"}, StoreID: "S1", OrderID: "O-p1"}); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := sw(t, append(env, "STORE_DSN="+pg), "show", "p1", "--provider", "radial")
	if code != 0 || !strings.Contains(out, "settlement p1 (provider radial)") {
		t.Errorf("show from PostgreSQL: exit %d\n%s%s", code, out, errOut)
	}
}

// publish --wait prints the status the worker (here a stand-in) publishes;
// tail prints status events until SIGINT.
func TestPublishAndTail(t *testing.T) {
	u, ch := opsBroker(t)
	env := append(os.Environ(), "AMQP_URL="+u)

	// tail, running until SIGINT.
	bin := testenv.Binary(t, "./cmd/settlement-worker")
	tail := exec.Command(bin, "tail", "--provider", "radial")
	tail.Env = env
	stdout, err := tail.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := tail.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	defer tail.Process.Kill()
	if line, err := bufio.NewReader(stderr).ReadString('\n'); err != nil || !strings.Contains(line, "tailing status events") {
		t.Fatalf("tail did not start: %q %v", line, err)
	}
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()

	// A stand-in worker: every request gets an R.
	wch, err := func() (*amqp.Channel, error) {
		conn, err := amqp.Dial(u)
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { conn.Close() })
		return conn.Channel()
	}()
	if err != nil {
		t.Fatal(err)
	}
	ds, err := wch.Consume(broker.RequestQueue("radial"), "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for d := range ds {
			storeID := broker.Stringify(d.Headers["store_id"])
			_ = wch.PublishWithContext(context.Background(), broker.StatusExchange, broker.StatusRoutingKey(storeID), false, false, amqp.Publishing{
				Timestamp: time.Now(), Headers: amqp.Table{"request_id": d.MessageId, "store_id": storeID, "provider": "radial",
					"settlement_status": "R", "order_id": "O-" + d.MessageId}})
		}
	}()

	file := filepath.Join(t.TempDir(), "r9.xml")
	if err := os.WriteFile(file, request("r9"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := sw(t, env, "publish", "--file", file, "--provider", "radial", "--store", "S1", "--tender", "VC", "--wait", "10s", "--force") // the request lacks TaxAmount
	if code != 0 || !strings.Contains(out, "published request r9 (order O-r9") || !strings.Contains(out, "r9") || !strings.Contains(out, "R rejected") {
		t.Fatalf("publish --wait: exit %d\n%s%s", code, out, errOut)
	}
	select {
	case line := <-lines:
		if !strings.Contains(line, "radial") || !strings.Contains(line, "r9") || !strings.Contains(line, "order=O-r9") || !strings.Contains(line, "R rejected") {
			t.Errorf("tail line %q", line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tail printed nothing")
	}
	if err := tail.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := tail.Wait(); err != nil {
		t.Errorf("tail after SIGINT: %v, want exit 0", err)
	}
	_ = ch
}
