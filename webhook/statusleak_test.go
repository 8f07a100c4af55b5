package webhook

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestRefusalQuotingACardNumberIsMasked: the POSTed statuses carry the
// payment account (a raw card number unless tokenised), and a receiver
// refusing one may quote it in its status line ("422 account
// 4012888888881881 unknown"). That text was copied whole into the POST
// error, logged at every retry and shown by TargetErr on /readyz, and so
// was a malformed status line net/http's error quotes.
func TestRefusalQuotingACardNumberIsMasked(t *testing.T) {
	const pan = "4012888888881881"
	for _, line := range []string{"422 account " + pan + " unknown", "422 account 4012 8888 8888 1881 unknown",
		pan + " unknown account"} { // malformed: net/http's error quotes it
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
				return
			}
			_, _ = c.Write([]byte("HTTP/1.1 " + line + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
		}()
		d, err := New(Config{AMQPURL: "amqp://guest:guest@127.0.0.1:5672/", URL: "http://" + ln.Addr().String() + "/hook", HTTPTimeout: 2 * time.Second}, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		perr := d.post(context.Background(), []byte("<x/>"), "k")
		ln.Close()
		if perr == nil {
			t.Fatal("a 422 was taken for a delivery")
		}
		leaks := func(s string) bool { return strings.Contains(strings.ReplaceAll(s, " ", ""), pan[:10]) }
		if leaks(perr.Error()) {
			t.Errorf("the POST error (logged at each retry) holds the card number: %v", perr)
		}
		if terr := d.TargetErr(); terr == nil || leaks(terr.Error()) {
			t.Errorf("TargetErr (/readyz) holds the card number: %v", terr)
		}
	}
}
