package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// TestPurgeOlderThanAHugeAgeDeletesNothing: --older-than D in days was
// multiplied out without an overflow check, and a value in days was
// returned unchecked: "200000d" (someone meaning "never") wrapped to
// about -8 days, and "-1d" was taken as -24h. A negative age is no
// filter, so parked purge --provider radial --older-than 200000d --yes
// deleted every parked message of radial, including one parked an hour
// ago. Such an age is now a usage error (exit 2) that deletes nothing.
func TestPurgeOlderThanAHugeAgeDeletesNothing(t *testing.T) {
	u := testenv.AMQPURL(t)
	conn, err := amqp.Dial(u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
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
	t.Setenv("AMQP_URL", u)
	t.Setenv("STORE_DSN", "sqlite:"+t.TempDir()+"/w.db")
	for _, age := range []string{"200000d", "-1d", "9999999999d", "106752d"} {
		t.Run(age, func(t *testing.T) {
			dc, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), "", broker.ParkedQueue("radial"), true, false, amqp.Publishing{
				MessageId: "r1", ContentType: "application/xml", Body: []byte(`<PaymentSettlementRequest requestId="r1"/>`),
				Headers: amqp.Table{"parked_reason": "provider down", "parked_at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
					"parked_from_queue": broker.RequestQueue("radial")}})
			if err != nil || !dc.Wait() {
				t.Fatalf("park: %v", err)
			}
			var out, errw bytes.Buffer
			code := execute([]string{"parked", "purge", "--provider", "radial", "--older-than", age, "--yes"}, &out, &errw)
			q, err := ch.QueueDeclarePassive(broker.ParkedQueue("radial"), true, false, false, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			if q.Messages != 1 {
				t.Errorf("--older-than %s (exit %d) deleted a message parked an hour ago: %d left\n%s%s", age, code, q.Messages, out.String(), errw.String())
			}
			if code != 2 {
				t.Errorf("--older-than %s: exit %d, want 2 (usage)\n%s%s", age, code, out.String(), errw.String())
			}
			if _, err := ch.QueuePurge(broker.ParkedQueue("radial"), false); err != nil {
				t.Fatal(err)
			}
		})
	}
}
