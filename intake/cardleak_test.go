package intake

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/settlement-worker/settlement-worker/messages"
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
// masked in both. So is one in an id the sender chooses (a Radial OrderId
// or requestId, a RetailOPS order id and the requestIds derived from it,
// a content type), logged when the request is queued or its publish
// fails. A RetailOPS answer's associations keep the order's identifiers as
// RetailOPS sent them (withoutAssociations): RetailOPS records the events
// on the order they name, and the intake never logs them.
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
		// A sender may put a card number in any id it chooses: they are
		// logged when the request is queued (a valid OrderId holds up to
		// 20 characters, a requestId up to 40), and when its publish fails.
		down := newEnv(t, envOptions{topology: false, logs: logs}) // nothing is confirmed: 503
		withOrderID := func(id string) messages.PaymentSettlementRequest {
			r := validRequest(id)
			r.PaymentContext.OrderID = written
			return r
		}
		withRequestID := func(id string) messages.PaymentSettlementRequest {
			r := validRequest(id)
			r.RequestID = id + "-" + written
			return r
		}
		withIDs := func(id string) messages.PaymentSettlementRequest {
			r := validRequest(id)
			r.InvoiceID, r.ClientContext = written, "ctx "+written
			return r
		}
		roOrder := func() []byte {
			return edit(t, seed(t), func(m map[string]any) { obj(m, "data", "order")["id"] = written })
		}
		cases = append(cases, []struct {
			name string
			post func() []byte
		}{
			{"radial order id", func() []byte {
				_, body := e.post(radialPath, "application/xml", encode(t, withOrderID("cl-4")), radialAuth)
				return body
			}},
			{"radial request id", func() []byte {
				_, body := e.post(radialPath, "application/xml", encode(t, withRequestID("cl-5")), radialAuth)
				return body
			}},
			{"radial invoice id and client context", func() []byte {
				_, body := e.post(radialPath, "application/xml", encode(t, withIDs("cl-6")), radialAuth)
				return body
			}},
			{"radial order and request id, publish failed", func() []byte {
				r := withRequestID("cl-7")
				r.PaymentContext.OrderID = written
				_, body := down.post(radialPath, "application/xml", encode(t, r), radialAuth)
				return body
			}},
			{"radial content type", func() []byte {
				_, body := e.post(radialPath, "application/x-"+written, encode(t, validRequest("cl-8")), radialAuth)
				return body
			}},
			{"retailops order id", func() []byte {
				_, body := e.post(ordersPath, "application/json", roOrder(), bearer)
				return body
			}},
			{"retailops order id, publish failed", func() []byte {
				_, body := down.post(ordersPath, "application/json", roOrder(), bearer)
				return body
			}},
			{"retailops order id, refused", func() []byte {
				b := edit(t, roOrder(), func(m map[string]any) { obj(m, "data", "channel")["id"] = "99" })
				_, body := e.post(ordersPath, "application/json", b, bearer)
				return body
			}},
			{"retailops content type", func() []byte {
				_, body := e.post(ordersPath, "text/x-"+written, seed(t), bearer)
				return body
			}},
		}...)
		if !strings.Contains(written, " ") { // a method is a token
			cases = append(cases, struct {
				name string
				post func() []byte
			}{"radial method", func() []byte {
				_, body := e.do(written, radialPath, "application/xml", nil, radialAuth)
				return body
			}}, struct {
				name string
				post func() []byte
			}{"retailops method", func() []byte {
				_, body := e.do(written, ordersPath, "application/json", nil, bearer)
				return body
			}})
		}
		if written == pan { // a JSON number where a string is read
			cases = append(cases, struct {
				name string
				post func() []byte
			}{"retailops number for a string", func() []byte {
				b := edit(t, seed(t), func(m map[string]any) { m["integration_auth_token"] = json.Number(pan) })
				_, body := e.post(ordersPath, "application/json", b, bearer)
				return body
			}})
		}
		for _, tc := range cases {
			t.Run(written+"/"+tc.name, func(t *testing.T) {
				before := len(logs.String())
				answer := withoutAssociations(t, tc.post())
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

// withoutAssociations is a RetailOPS answer without its events'
// associations, which name the order as RetailOPS sent it; any other
// answer as it is.
func withoutAssociations(t *testing.T, answer []byte) []byte {
	t.Helper()
	var r Response
	if json.Unmarshal(answer, &r) != nil || r.Events == nil {
		return answer
	}
	for i := range r.Events {
		r.Events[i].Associations = nil
	}
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
