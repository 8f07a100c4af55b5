package intake

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		want   string // "" = valid; else a substring of the error
	}{
		{"test config", func(c *Config) {}, ""},
		{"intake off needs nothing", func(c *Config) { *c = Config{Addr: Off} }, ""},
		{"RetailOPS off needs no keys", func(c *Config) { c.RetailOPS = RetailOPSConfig{Path: Off} }, ""},
		{"no RetailOPS key", func(c *Config) { c.RetailOPS.AuthKeys = []string{""} }, "RetailOPS.AuthKeys"},
		{"no channels", func(c *Config) { c.RetailOPS.Channels = nil }, "RetailOPS.Channels"},
		{"bad currency", func(c *Config) { c.RetailOPS.Channels["21"] = Channel{"radial", "S", "PY", "usd"} }, "Channels[21]: currency"},
		{"radial channel needs a tender type", func(c *Config) { c.RetailOPS.Channels["21"] = Channel{"radial", "S", "", "USD"} }, "tender type"},
		{"every channel needs a tender type (statuses carry it)", func(c *Config) { c.RetailOPS.Channels["21"] = Channel{"paysafe", "S", "", "USD"} }, "tender type"},
		{"currency Radial's schema lacks", func(c *Config) { c.RetailOPS.Channels["21"] = Channel{"paysafe", "S", "VC", "ZMW"} }, "Channels[21]: currency"},
		{"request bound not positive", func(c *Config) { c.MaxRequestBytes = -1 }, "MaxRequestBytes"},
		{"provider not routable", func(c *Config) { c.RetailOPS.Channels["21"] = Channel{"radial.eu", "S", "PY", "USD"} }, "provider"},
		{"store id too long", func(c *Config) { c.RetailOPS.Channels["21"] = Channel{"radial", strings.Repeat("s", 101), "PY", "USD"} }, "store id"},
		// Counted in characters, as the worker and the schema count them; a
		// character no status can carry is refused (the worker would park
		// every request of the channel with no status ever).
		{"tender type of one two-byte character", func(c *Config) { c.RetailOPS.Channels["21"] = Channel{"radial", "S", "é", "USD"} }, "tender type"},
		{"tender type of three two-byte characters", func(c *Config) { c.RetailOPS.Channels["21"] = Channel{"radial", "S", "ÉÉÉ", "USD"} }, ""},
		{"tender type with a control character", func(c *Config) { c.RetailOPS.Channels["21"] = Channel{"radial", "S", "V\x01", "USD"} }, "tender type"},
		{"store id with a control character", func(c *Config) { c.RetailOPS.Channels["21"] = Channel{"radial", "S\x01", "PY", "USD"} }, "store id"},
		{"radial without credentials", func(c *Config) { c.Radial.APIKeys, c.Radial.BasicUser, c.Radial.BasicPassword = nil, "", "" }, "needs credentials"},
		{"basic user without password", func(c *Config) { c.Radial.BasicPassword = "" }, "set both"},
		{"same path twice", func(c *Config) { c.Radial.Path = c.RetailOPS.Path }, "already"},
		{"path over /healthz", func(c *Config) { c.Radial.Path = "/healthz" }, "health"},
		{"relative path", func(c *Config) { c.RetailOPS.Path = "orders" }, "absolute"},
		{"write timeout not above publish timeout", func(c *Config) { c.WriteTimeout = c.PublishTimeout }, "WriteTimeout"},
		{"negative timeout", func(c *Config) { c.ReadTimeout = -time.Second }, "ReadTimeout"},
		{"tiny body limit", func(c *Config) { c.MaxBodyBytes = 10 }, "MaxBodyBytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig()
			c.RetailOPS.Channels = map[string]Channel{"21": c.RetailOPS.Channels["21"]}
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
			if err != nil {
				for _, secret := range []string{testRetailOPSKey, testRadialKey, testBasicPass} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error reveals a secret: %v", err)
					}
				}
			}
		})
	}
}

func TestConfigDefaultsAndString(t *testing.T) {
	c := Config{}
	c.ApplyDefaults()
	if c.Addr != DefaultAddr || c.RetailOPS.Path != "/orders" || c.Radial.Path != "/radial/settlements" ||
		c.Radial.Provider != "radial" || c.MaxBodyBytes != DefaultMaxBodyBytes {
		t.Fatalf("defaults not applied: %+v", c)
	}
	s := testConfig().String()
	for _, secret := range []string{testRetailOPSKey, testRadialKey, testBasicPass} {
		if strings.Contains(s, secret) {
			t.Errorf("String reveals a secret: %s", s)
		}
	}
}

func TestParseChannels(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]Channel
		err  string
	}{
		{"21=radial:ABCXYZ:PY:USD", map[string]Channel{"21": {"radial", "ABCXYZ", "PY", "USD"}}, ""},
		{" 21=radial:A:PY:USD ; 22=other:B:VC:EUR,", map[string]Channel{
			"21": {"radial", "A", "PY", "USD"}, "22": {"other", "B", "VC", "EUR"}}, ""},
		{"22=other:B::EUR", nil, "tender type"},
		{"", map[string]Channel{}, ""},
		{"21=radial:A:PY", nil, "want <channel id>="},
		{"21=radial:A:PY:USD,21=radial:B:PY:USD", nil, "listed twice"},
		{"21=radial:A:PY:XXX", nil, "currency"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseChannels(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s: got %+v, want %+v", k, got[k], v)
				}
			}
		})
	}
}

func TestRequestIDs(t *testing.T) {
	tests := []struct {
		name                   string
		channel, order, series string
		account                string
		wantID, wantInvoice    string
	}{
		{"readable", "21", "4897", "2572", "6", "ro-21-4897-2572-6", "4897-6"},
		{"dash in an id is hashed", "21", "48-97", "2572", "6", "", ""},
		{"too long is hashed", "21", "12345678901234567890", "25725725725725", "66666", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := retailOPSRequestID(tt.channel, tt.order, tt.series, tt.account)
			inv := retailOPSInvoiceID(tt.order, tt.account)
			if len(id) > 40 || len(inv) > 20 {
				t.Fatalf("too long: %q %q", id, inv)
			}
			if id != retailOPSRequestID(tt.channel, tt.order, tt.series, tt.account) {
				t.Fatal("not deterministic")
			}
			if tt.wantID != "" && (id != tt.wantID || inv != tt.wantInvoice) {
				t.Fatalf("got %q %q, want %q %q", id, inv, tt.wantID, tt.wantInvoice)
			}
			if tt.wantID == "" && (!strings.HasPrefix(id, "roh-") || !strings.HasPrefix(inv, "RO")) {
				t.Fatalf("want hashed forms, got %q %q", id, inv)
			}
		})
	}
	// Parts that would read the same joined with dashes stay distinct.
	if retailOPSRequestID("1", "2-3", "4", "5") == retailOPSRequestID("1-2", "3", "4", "5") {
		t.Fatal("forged separator collides")
	}
	if retailOPSRequestID("21", "4897", "2572", "6") == retailOPSRequestID("21", "4897", "2572", "7") {
		t.Fatal("accounts collide")
	}
}

func TestFlexScalar(t *testing.T) {
	tests := []struct {
		json    string
		text    string
		set, ok bool
	}{
		{`35`, "35", true, true},
		{`35.10`, "35.10", true, true},
		{`"6"`, "6", true, true},
		{`null`, "", false, true},
		{`true`, "1", true, true},
		{`{}`, "", false, false},
		{`[1]`, "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.json, func(t *testing.T) {
			var f flexScalar
			err := f.UnmarshalJSON([]byte(tt.json))
			if (err == nil) != tt.ok || f.Text != tt.text || f.Set != tt.set {
				t.Fatalf("got %+v, %v", f, err)
			}
		})
	}
}

// Run serves on Addr and stops when its context ends.
func TestRunServesUntilCancelled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cfg := testConfig()
	cfg.Addr = addr
	srv, err := New(cfg, nopPublisher{}, nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var resp *http.Response
	for i := 0; i < 100; i++ {
		if resp, err = http.Get("http://" + addr + "/healthz"); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}

type nopPublisher struct{}

func (nopPublisher) Publish(context.Context, string, string, *message.Message) error { return nil }
