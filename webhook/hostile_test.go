package webhook

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestHostileAnswerNeverHoldsAPost: each POST ends within
// WEBHOOK_HTTP_TIMEOUT whatever the webhook answers and then does. A 101
// Switching Protocols on a connection held open hung the POST forever:
// net/http hands a 101's connection over as its body, which the deadline
// no longer closes, and the deliverer drained it. The batch was then
// neither delivered nor retried, no failed POST was counted (WebhookFailing
// could not fire), TargetErr stayed nil (/readyz said ready), and Close —
// the worker's shutdown — waited forever.
func TestHostileAnswerNeverHoldsAPost(t *testing.T) {
	for _, tc := range []struct {
		name, answer string
		delivered    bool
	}{
		{"101 then silence", "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n", false},
		{"100 then silence", "HTTP/1.1 100 Continue\r\n\r\n", false},
		{"200 with a body that never ends", "HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\nabc", true},
		{"200 chunked, never ending", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n", true},
		{"302 with a body that never ends", "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 100000000\r\n\r\nabc", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			release := make(chan struct{})
			defer close(release)
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
							return
						}
						_, _ = c.Write([]byte(tc.answer))
						<-release // holds the connection open
					}()
				}
			}()
			c := Config{AMQPURL: "amqp://guest:guest@127.0.0.1:5672/", URL: "http://" + ln.Addr().String() + "/hook", HTTPTimeout: time.Second}
			d, err := New(c, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- d.post(context.Background(), []byte("<x/>"), "k") }()
			select {
			case err := <-done:
				if (err == nil) != tc.delivered {
					t.Errorf("POST = %v, want delivered %v", err, tc.delivered)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("POST still running 5s past a 1s WEBHOOK_HTTP_TIMEOUT")
			}
		})
	}
}
