package intake

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer is a log sink the server's goroutines write to.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A card number a client put where the intake quotes what it refuses (an
// authorization amount, a RetailOPS number or action, a malformed body)
// was copied whole into the intake's log line and its answer. It is
// masked in both.
func TestIntakeNeverEchoesCardNumbers(t *testing.T) {
	const pan = "4012888888881881"
	for _, written := range []string{"4012 8888 8888 1881", "4012-8888-8888-1881", pan} {
		logs := &lockedBuffer{}
		e := newEnv(t, envOptions{topology: true, logs: logs})
		leaks := func(s string) bool {
			return strings.Contains(strings.NewReplacer(" ", "", "-", "").Replace(s), pan[:10])
		}
		cases := []struct {
			name string
			post func() []byte
		}{
			{"radial authorization amount", func() []byte {
				_, body := e.post(radialPath, "application/xml", encode(t, validRequest("cl-1")),
					with(radialAuth, HeaderOriginalAuthAmount, written))
				return body
			}},
			{"radial store id", func() []byte {
				_, body := e.post(radialPath, "application/xml", encode(t, validRequest("cl-3")),
					with(radialAuth, HeaderStoreID, "store "+written))
				return body
			}},
			{"radial body near a syntax error", func() []byte {
				b := bytes.Replace(encode(t, validRequest("cl-2")), []byte("<InvoiceId>"), []byte("<InvoiceId>&"+written+";"), 1)
				_, body := e.post(radialPath, "application/xml", b, radialAuth)
				return body
			}},
			{"retailops number", func() []byte {
				b := edit(t, seed(t), func(m map[string]any) {
					acc := obj(m, "data", "order", "payment_status")["by_account"].([]any)[0].(map[string]any)
					acc["available"] = written
				})
				_, body := e.post(ordersPath, "application/json", b, bearer)
				return body
			}},
			{"retailops channel id", func() []byte {
				b := edit(t, seed(t), func(m map[string]any) { obj(m, "data", "channel")["id"] = written })
				_, body := e.post(ordersPath, "application/json", b, bearer)
				return body
			}},
			{"retailops action", func() []byte {
				b := edit(t, seed(t), func(m map[string]any) { m["action"] = "settle " + written })
				_, body := e.post(ordersPath, "application/json", b, bearer)
				return body
			}},
		}
		for _, tc := range cases {
			t.Run(written+"/"+tc.name, func(t *testing.T) {
				before := len(logs.String())
				answer := tc.post()
				if leaks(string(answer)) {
					t.Errorf("the answer holds the card number: %s", answer)
				}
				if l := logs.String()[before:]; leaks(l) {
					t.Errorf("a log line holds the card number:\n%s", l)
				}
			})
		}
	}
}
