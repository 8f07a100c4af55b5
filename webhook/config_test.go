package webhook

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func validConfig() Config {
	c := Config{AMQPURL: "amqp://guest:guest@127.0.0.1:5672/", URL: "https://hooks.example.com/statuses",
		Username: "u", Password: "topsecret"}
	c.ApplyDefaults()
	return c
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		want   string // "" = valid
	}{
		{"valid", func(c *Config) {}, ""},
		{"no auth", func(c *Config) { c.AuthMode, c.Username, c.Password = AuthNone, "", "" }, ""},
		{"no URL", func(c *Config) { c.URL = "" }, "URL"},
		{"ftp URL", func(c *Config) { c.URL = "ftp://x/y" }, "URL"},
		{"bad broker", func(c *Config) { c.AMQPURL = "http://x" }, "AMQPURL"},
		{"basic without password", func(c *Config) { c.Password = "" }, "Username/Password"},
		{"unknown mode", func(c *Config) { c.AuthMode = "oauth" }, "AuthMode"},
		{"bad header name", func(c *Config) { c.AuthMode, c.UsernameHeader = AuthHeaders, "X User" }, "header name"},
		{"same headers", func(c *Config) { c.AuthMode, c.PasswordHeader = AuthHeaders, "USERNAME" }, "must differ"},
		{"batch too large", func(c *Config) { c.BatchSize = MaxBatchSize + 1 }, "BatchSize"},
		{"negative wait", func(c *Config) { c.BatchWait = -time.Second }, "BatchWait"},
		{"retry max below initial", func(c *Config) { c.RetryMax = time.Millisecond }, "RetryMax"},
		{"queue type", func(c *Config) { c.QueueType = "stream" }, "QueueType"},
		{"parked is the queue", func(c *Config) { c.ParkedQueue = c.Queue }, "ParkedQueue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestConfigDefaultsAndRedaction(t *testing.T) {
	c := Config{AMQPURL: "amqp://guest:brokerpass@h/", URL: "https://user:urlpass@hooks.example.com/x", Username: "u", Password: "topsecret"}
	c.ApplyDefaults()
	if c.Queue != DefaultQueue || c.ParkedQueue != DefaultQueue+".parked" || c.AuthMode != AuthBasic ||
		len(c.BindingKeys) != 1 || c.BindingKeys[0] != "settlement.status.#" || c.BatchSize != DefaultBatchSize {
		t.Fatalf("defaults: %+v", c)
	}
	s := c.String()
	for _, secret := range []string{"brokerpass", "urlpass", "topsecret"} {
		if strings.Contains(s, secret) {
			t.Errorf("String reveals %q: %s", secret, s)
		}
	}
	c.URL = "ftp://user:urlpass@x"
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "urlpass") {
		t.Errorf("validation error reveals the URL password: %v", err)
	}
}

func TestRecentIDs(t *testing.T) {
	r := newRecentIDs(3)
	for i := 1; i <= 5; i++ {
		r.add(sent{id: fmt.Sprint(i)})
	}
	r.add(sent{id: "5"}) // already there: no eviction
	for id, want := range map[string]bool{"1": false, "2": false, "3": true, "4": true, "5": true} {
		if r.has(id) != want {
			t.Errorf("has(%s) = %v, want %v", id, !want, want)
		}
	}
	off := newRecentIDs(-1)
	off.add(sent{id: "x"})
	if off.has("x") {
		t.Error("a disabled set remembers")
	}
}

// Close before Run: Run returns at once; Close is idempotent.
func TestCloseBeforeRun(t *testing.T) {
	d, err := New(validConfig(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	_ = d.Close()
	done := make(chan error, 1)
	go func() { done <- d.Run(t.Context()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after Close")
	}
}
