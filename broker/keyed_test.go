package broker_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// Messages of one key are handled one at a time in queue order — even when
// one is nacked (it is handled again before its key's later ones) — while
// messages of different keys run concurrently.
func TestKeyedSubscriberKeepsOrderPerKey(t *testing.T) {
	for _, queueType := range []string{"classic", "quorum"} {
		t.Run(queueType, func(t *testing.T) {
			url := testenv.AMQPURL(t)
			conn, err := amqp.Dial(url)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ch, err := conn.Channel()
			if err != nil {
				t.Fatal(err)
			}
			const q, keys, perKey = "q.keyed", 8, 25
			if _, err := ch.QueueDeclare(q, true, false, false, false, amqp.Table{"x-queue-type": queueType}); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < perKey; i++ {
				for k := 0; k < keys; k++ {
					if err := ch.Publish("", q, false, false, amqp.Publishing{Headers: amqp.Table{"key": fmt.Sprint("k", k), "seq": strconv.Itoa(i)}}); err != nil {
						t.Fatal(err)
					}
				}
			}

			sub := &broker.KeyedSubscriber{URL: url, N: 8, Passive: true, DrainTimeout: 5 * time.Second, Log: zerolog.Nop(),
				Key: func(m *message.Message) string { return m.Metadata.Get("key") }}
			msgs, err := sub.Subscribe(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			var (
				mu            sync.Mutex
				seen          = map[string][]int{}
				running, peak atomic.Int32
				nacked        = map[string]bool{}
				wg            sync.WaitGroup
				acked         atomic.Int32
			)
			busy := map[string]bool{}
			deadline := time.Now().Add(60 * time.Second)
			for acked.Load() < keys*perKey {
				if time.Now().After(deadline) {
					t.Fatalf("stalled after %d acks", acked.Load())
				}
				var m *message.Message
				select {
				case m = <-msgs:
				case <-time.After(100 * time.Millisecond):
					continue
				}
				wg.Add(1)
				go func(m *message.Message) { // as Watermill's router: a goroutine per message
					defer wg.Done()
					key, seq := m.Metadata.Get("key"), m.Metadata.Get("seq")
					mu.Lock()
					if busy[key] {
						t.Errorf("two messages of %s in flight at once", key)
					}
					busy[key] = true
					mu.Unlock()
					peak.Store(max(peak.Load(), running.Add(1)))
					time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
					running.Add(-1)
					mu.Lock()
					busy[key] = false
					first := seq == "3" && !nacked[key]
					if first {
						nacked[key] = true // fail it once: it must come back before seq 4
					} else {
						n, _ := strconv.Atoi(seq)
						seen[key] = append(seen[key], n)
					}
					mu.Unlock()
					if first {
						m.Nack()
						return
					}
					m.Ack()
					acked.Add(1)
				}(m)
			}
			wg.Wait()
			if err := sub.Close(); err != nil {
				t.Fatal(err)
			}
			for k, got := range seen {
				for i, n := range got {
					if n != i {
						t.Fatalf("%s handled out of order: %v", k, got)
					}
				}
			}
			if peak.Load() < 2 {
				t.Errorf("at most %d message(s) in flight: keys were not handled concurrently", peak.Load())
			}
			if d, err := ch.QueueDeclarePassive(q, true, false, false, false, nil); err != nil || d.Messages != 0 {
				t.Errorf("queue after all acks: %+v %v", d, err)
			}
		})
	}
}
