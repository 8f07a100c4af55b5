package webhook

import (
	"bufio"
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestRefusalEchoingTheCredentialsNeverShowsThem: a webhook (or a proxy
// before it) refusing a POST may echo what it was sent, the credentials
// included — in basic mode as they travel, the base64 of user:password.
// Its status line, or the Code of a Fault it answers, was quoted into the
// POST error (logged at every retry) and into TargetErr, which /readyz
// shows to anyone who can reach the health address.
func TestRefusalEchoingTheCredentialsNeverShowsThem(t *testing.T) {
	const user, pass = "hook-user", "hook-secret-pw"
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	for _, tc := range []struct {
		name, mode, status, body string
	}{
		{"basic, status line", AuthBasic, "401 bad Basic " + basic, ""},
		{"basic, status line unpadded", AuthBasic, "401 bad " + strings.TrimRight(basic, "="), ""},
		{"basic, password in the status line", AuthBasic, "401 bad password " + pass, ""},
		{"basic, fault code", AuthBasic, "200 OK", "<Fault><Code>Basic " + basic + "</Code></Fault>"},
		{"headers, status line", AuthHeaders, "403 password " + pass + " refused", ""},
		{"headers, fault code", AuthHeaders, "200 OK", "<Fault><Code>" + pass + "</Code></Fault>"},
		{"headers, malformed status line", AuthHeaders, pass + " refused", ""}, // net/http's error quotes it
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				_, _ = c.Write([]byte("HTTP/1.1 " + tc.status + "\r\nConnection: close\r\nContent-Length: " + strconv.Itoa(len(tc.body)) + "\r\n\r\n" + tc.body))
			}()
			cfg := Config{AMQPURL: "amqp://guest:guest@127.0.0.1:5672/", URL: "http://" + ln.Addr().String() + "/hook", HTTPTimeout: 2 * time.Second,
				AuthMode: tc.mode, Username: user, Password: pass}
			if tc.mode == AuthHeaders {
				cfg.UsernameHeader, cfg.PasswordHeader = "X-User", "X-Password"
			}
			d, err := New(cfg, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			perr := d.post(context.Background(), []byte("<x/>"), "k")
			if perr == nil {
				t.Fatal("the refusal was taken for a delivery")
			}
			leaks := func(s string) bool { return strings.Contains(s, pass) || strings.Contains(s, basic[:16]) }
			if leaks(perr.Error()) {
				t.Errorf("the POST error (logged at each retry) holds the credentials: %v", perr)
			}
			if terr := d.TargetErr(); terr == nil || leaks(terr.Error()) {
				t.Errorf("TargetErr (/readyz) holds the credentials: %v", terr)
			}
		})
	}
}
