package ops_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/ops"
	"github.com/settlement-worker/settlement-worker/store"
)

// backends: SQLite (held open by the fixture's "worker", so the commands
// must read it without its lock) and PostgreSQL.
var backends = []struct {
	name string
	dsn  func(t *testing.T) string
}{
	{"sqlite", func(*testing.T) string { return "" }},
	{"postgres", func(t *testing.T) string { return testenv.PostgresDSN(t) }},
}

func (f *fixture) register(provider, id string) store.Settlement {
	f.t.Helper()
	s, _, err := f.st.Register(f.ctx, store.Settlement{
		Key: store.Key{Provider: provider, RequestID: id}, Fingerprint: "fp-" + id, StoreID: "S1", OrderID: "O-" + id,
		TenderType: "VC", SettlementType: "Debit", Amount: "100.00", Currency: "USD",
		Request: requestXML(id, "O-"+id), ContentType: "application/xml", Headers: map[string]string{"store_id": "S1"},
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *fixture) move(provider, id string, to store.State, ch store.Change, ev *store.StatusEvent) *store.StatusEvent {
	f.t.Helper()
	_, got, err := f.st.Transition(f.ctx, store.Key{Provider: provider, RequestID: id}, nil, to, ch, ev)
	if err != nil {
		f.t.Fatal(err)
	}
	return got
}

func statusBody(t *testing.T, status, reason string) []byte {
	t.Helper()
	b, err := messages.Encode(&messages.PaymentSettlementStatus{
		PaymentContext: &messages.PaymentContext{OrderID: "O-1", PaymentAccountUniqueID: messages.AccountID{Value: pan}},
		TenderType:     "VC", Amount: messages.Amount{CurrencyCode: "USD", Value: "100.00"}, SettlementType: "Debit",
		SettlementStatus: status, DeclineReason: reason, StoreID: "S1",
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestShow(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			f := newFixture(t, b.dsn(t))
			f.register("radial", "r1")
			f.move("radial", "r1", store.StateConfirming, store.Change{IncAttempts: true, Note: "confirm funds"}, nil)
			f.move("radial", "r1", store.StateConfirming, store.Change{ParkedReason: ptr("outcome unknown"), Note: "parked"}, nil)
			ev := f.move("radial", "r1", store.StateRefused, store.Change{ParkedReason: ptr(""), DeclineReason: ptr("Issuer declined"),
				Refs: map[string]string{"settlement_id": "RAD-77"}}, &store.StatusEvent{SettlementStatus: "R", Body: statusBody(t, "R", "Issuer declined")})
			if err := f.st.MarkPublished(f.ctx, ev.MessageID, now); err != nil {
				t.Fatal(err)
			}
			f.register("paysafe", "r1") // the same request id at another provider

			if err := ops.Show(f.ctx, f.env(), "r1", []string{"radial"}, false); err != nil {
				t.Fatal(err)
			}
			out := f.out.String()
			for _, want := range []string{"settlement r1 (provider radial)", "refused, attempts 1", "S1 / O-r1", "Debit 100.00 USD", "************0008",
				"ref settlement_id RAD-77", "decline reason  Issuer declined", "(new) -> received", "received -> confirming", "confirm funds",
				"confirming -> confirming", "parked", "#1", "message_id " + ev.MessageID, "published 2026-03-04T05:00:00.000Z", `reason "Issuer declined"`} {
				if !strings.Contains(out, want) {
					t.Errorf("show lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, pan) || strings.Contains(out, "PaymentAccountUniqueId") {
				t.Errorf("show prints card data:\n%s", out)
			}

			// Every provider by default, as JSON.
			f.reset()
			if err := ops.Show(f.ctx, f.env(), "r1", nil, true); err != nil {
				t.Fatal(err)
			}
			var got []ops.Settlement
			if err := json.Unmarshal([]byte(f.out.String()), &got); err != nil {
				t.Fatalf("%v\n%s", err, f.out)
			}
			if len(got) != 2 || got[0].Provider != "radial" || got[1].Provider != "paysafe" || len(got[0].History) != 4 ||
				len(got[0].Events) != 1 || got[0].Events[0].PublishedAt == nil || got[1].State != "received" || got[0].Account != "************0008" {
				t.Errorf("JSON = %+v", got)
			}
			if strings.Contains(f.out.String(), pan) {
				t.Error("JSON prints the card number")
			}

			if err := ops.Show(f.ctx, f.env(), "nope", nil, false); err == nil || !strings.Contains(err.Error(), `no settlement has request id "nope"`) {
				t.Errorf("unknown request id: %v", err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestStuck(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			f := newFixture(t, b.dsn(t))
			f.setClock(now.Add(-3 * time.Hour))
			f.register("radial", "old")
			f.move("radial", "old", store.StateConfirming, store.Change{}, nil)
			f.register("paysafe", "old-parked")
			f.move("paysafe", "old-parked", store.StateSubmitting, store.Change{ParkedReason: ptr("down")}, nil)
			f.register("paysafe", "old-pending")
			f.move("paysafe", "old-pending", store.StatePending, store.Change{}, nil)
			f.register("radial", "done")
			f.move("radial", "done", store.StateSettled, store.Change{}, nil)
			f.setClock(now.Add(-10 * time.Minute))
			f.register("radial", "fresh")

			for _, tc := range []struct {
				name      string
				states    []store.State
				providers []string
				olderThan time.Duration
				want      []string
			}{
				{"default", nil, nil, time.Hour, []string{"paysafe/old-pending", "radial/old"}},
				{"short", nil, nil, 5 * time.Minute, []string{"paysafe/old-pending", "radial/old", "radial/fresh"}},
				{"state", []store.State{store.StatePending}, nil, time.Hour, []string{"paysafe/old-pending"}},
				{"provider", nil, []string{"radial"}, time.Hour, []string{"radial/old"}},
				{"none", nil, nil, 5 * time.Hour, nil},
			} {
				t.Run(tc.name, func(t *testing.T) {
					f.reset()
					if err := ops.Stuck(f.ctx, f.env(), tc.states, tc.providers, tc.olderThan, true); err != nil {
						t.Fatal(err)
					}
					var got []ops.StuckSettlement
					if err := json.Unmarshal([]byte(f.out.String()), &got); err != nil {
						t.Fatalf("%v\n%s", err, f.out)
					}
					var keys []string
					for _, s := range got {
						keys = append(keys, s.Provider+"/"+s.RequestID)
					}
					if strings.Join(keys, " ") != strings.Join(tc.want, " ") {
						t.Errorf("stuck = %v, want %v", keys, tc.want)
					}
				})
			}
			f.reset()
			if err := ops.Stuck(f.ctx, f.env(), nil, nil, time.Hour, false); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"radial    confirming", "old", "2h59m", "2 settlement(s) waited more than 1h0m0s", "radial/confirming 1 (oldest 2h59m)", "parked ls"} {
				if !strings.Contains(f.out.String(), want) {
					t.Errorf("stuck table lacks %q:\n%s", want, f.out)
				}
			}
		})
	}
}

func TestStats(t *testing.T) {
	f := newFixture(t, "")
	parkFour(f)
	f.publish(broker.IntakeExchange, broker.RequestRoutingKey("radial"), amqp.Publishing{Body: []byte("x")})
	if _, err := f.ch.Consume(broker.RetryQueue("paysafe", 5*time.Second), "", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	f.setClock(now.Add(-2 * time.Hour))
	f.register("radial", "a")
	f.register("radial", "b")
	f.move("radial", "b", store.StateConfirming, store.Change{ParkedReason: ptr("down")}, nil)
	f.register("paysafe", "c")
	f.depth(broker.RequestQueue("radial"), 1)

	e := f.env()
	e.Providers = []string{"radial", "paysafe", "frisbii"}
	if err := ops.Stats(f.ctx, e, true); err != nil {
		t.Fatal(err)
	}
	var got ops.Statistics
	if err := json.Unmarshal([]byte(f.out.String()), &got); err != nil {
		t.Fatalf("%v\n%s", err, f.out)
	}
	queues := map[string]ops.QueueStat{}
	for _, q := range got.Queues {
		queues[q.Provider+" "+q.Role] = q
	}
	for key, want := range map[string][3]int{ // exists, ready, consumers
		"radial requests": {1, 1, 0}, "radial parked": {1, 3, 0}, "radial retry 1s": {1, 0, 0},
		"paysafe parked": {1, 1, 0}, "paysafe retry 5s": {1, 0, 1}, "frisbii requests": {0, 0, 0},
	} {
		q, ok := queues[key]
		exists := 0
		if q.Exists {
			exists = 1
		}
		if !ok || [3]int{exists, q.Ready, q.Consumers} != want {
			t.Errorf("%s: %+v, want exists/ready/consumers %v", key, q, want)
		}
	}
	if len(got.Queues) != 2*(2+len(delays))+1 {
		t.Errorf("%d queue lines, want 9 (frisbii in one)", len(got.Queues))
	}
	if len(got.Settlements) != 3 || got.Settlements[1] != (ops.StateStat{Provider: "radial", State: "confirming", Count: 1, Parked: 1, OldestUpdate: got.Settlements[1].OldestUpdate}) {
		t.Errorf("settlements %+v", got.Settlements)
	}

	// The store half still prints when the broker is down.
	f.reset()
	e.AMQPURL = "amqp://guest:s3cret@127.0.0.1:1/"
	err := ops.Stats(f.ctx, e, false)
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(f.out.String(), "radial    received") {
		t.Errorf("broker down: %v\n%s", err, f.out)
	}
}

// TestStuckNamesUnreadableSettlements: a stuck settlement sealed with a key
// the command does not have is named on the error output, and the command
// fails, while the readable ones are still listed. Before, the whole
// listing failed on the one unreadable row.
func TestStuckNamesUnreadableSettlements(t *testing.T) {
	keyA, err := store.ParseKeyring("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", nil)
	if err != nil {
		t.Fatal(err)
	}
	keyB, err := store.ParseKeyring("BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA=", nil)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, "")
	f.setClock(now.Add(-3 * time.Hour))
	plain := f.st
	f.st = store.Encrypted(plain, keyB)
	f.register("radial", "readable")
	f.st = store.Encrypted(plain, keyA)
	f.register("radial", "sealed-with-a")

	env := f.env()
	env.Keys = keyB
	err = ops.Stuck(f.ctx, env, nil, nil, time.Hour, false)
	if !errors.Is(err, store.ErrUnreadable) {
		t.Fatalf("Stuck = %v, want the unreadable row reported", err)
	}
	if out := f.out.String(); !strings.Contains(out, "readable") || strings.Contains(out, "sealed-with-a") {
		t.Errorf("output does not list the readable settlement alone:\n%s", out)
	}
	if e := f.errOut.String(); !strings.Contains(e, "cannot read radial/sealed-with-a (received)") {
		t.Errorf("error output does not name the unreadable settlement:\n%s", e)
	}
}
