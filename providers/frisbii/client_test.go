package frisbii_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/frisbii"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/frisbii"
)

func TestConfig(t *testing.T) {
	c := frisbii.Config{BaseURL: " https://api.frisbii.com/ ", APIKey: "priv_x"}.WithDefaults()
	if c.BaseURL != "https://api.frisbii.com" || c.Timeout != frisbii.DefaultTimeout || c.RefundRecheck != frisbii.DefaultRefundRecheck {
		t.Fatalf("defaults = %+v", c)
	}
	tests := []struct {
		cfg  frisbii.Config
		want string
	}{
		{frisbii.Config{APIKey: "priv_x"}, "BaseURL is required"},
		{frisbii.Config{BaseURL: "api.frisbii.com", APIKey: "priv_x"}, "not an absolute http(s) URL"},
		{frisbii.Config{BaseURL: "https://priv_x@api.frisbii.com", APIKey: "priv_x"}, "user info"},
		{frisbii.Config{BaseURL: "https://api.frisbii.com"}, "APIKey is required"},
		{frisbii.Config{BaseURL: "https://api.frisbii.com", APIKey: "priv:x"}, "must not contain"},
		{frisbii.Config{BaseURL: "https://api.frisbii.com", APIKey: "priv_x", Timeout: -time.Second}, "Timeout"},
		{frisbii.Config{BaseURL: "https://api.frisbii.com", APIKey: "priv_x", RefundRecheck: -time.Second}, "RefundRecheck"},
	}
	for _, tc := range tests {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("Validate(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
		if strings.Contains(err.Error(), "priv_x") && !strings.Contains(tc.cfg.BaseURL, "priv_x") {
			t.Fatalf("error quotes the key: %v", err)
		}
		if _, err := frisbii.New(tc.cfg, nil); err == nil {
			t.Fatal("New accepted an invalid config")
		}
	}
}

func TestErrorClassesTable(t *testing.T) {
	seen := map[int]bool{}
	for _, e := range frisbii.ErrorClasses {
		if seen[e.Code] || e.Error == "" || e.HTTPStatus < 400 {
			t.Fatalf("bad row %+v", e)
		}
		seen[e.Code] = true
	}
	for code, want := range map[int]providers.Class{79: providers.Permanent, 102: providers.Permanent, 2: providers.Transient,
		122: providers.Transient, 6: providers.Transient, 9999: providers.Transient} {
		if got := frisbii.ClassOfCode(code); got != want {
			t.Fatalf("ClassOfCode(%d) = %v, want %v", code, got, want)
		}
	}
	if len(frisbii.DeclineClasses) != 3 {
		t.Fatalf("decline classes = %+v", frisbii.DeclineClasses)
	}
}

func TestRequestMappingErrors(t *testing.T) {
	e := newEnv(t)
	e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000})
	tests := []struct {
		name   string
		req    func() *providers.Request
		reason string
	}{
		{"invalid charge_handle header", func() *providers.Request {
			r := debit("m1", "O1", "1.00")
			r.Headers[frisbii.HeaderChargeHandle] = "bad handle!"
			return r
		}, "header charge_handle"},
		{"no order id", func() *providers.Request {
			r := debit("m2", "", "1.00")
			r.Message.PaymentContext = nil
			return r
		}, "no Frisbii charge handle"},
		{"no request id", func() *providers.Request { r := debit("", "O1", "1.00"); return r }, "idempotency key"},
		{"unknown settlement type", func() *providers.Request {
			r := debit("m3", "O1", "1.00")
			r.Type = "Void"
			return r
		}, "neither Debit nor Credit"},
		{"negative amount", func() *providers.Request { return debit("m4", "O1", "-1.00") }, "must be positive"},
		{"acquirer reference with a control character", func() *providers.Request {
			r := debit("m5", "O1", "1.00")
			r.Headers["Acquirer_Reference"] = "ref\x01"
			return r
		}, `[\x20-\x7F]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.Settle(context.Background(), tc.req())
			checkErr(t, err, providers.Permanent, "", tc.reason)
		})
	}
	if c := e.sb.Calls(); c.Settle.Total != 0 || c.Charge.Total != 0 {
		t.Fatalf("a request refused locally reached Frisbii: %+v", c)
	}
}

func TestWrongKeyIsTransientAndNeverLeaks(t *testing.T) {
	e := newEnv(t)
	e.seed(t, sandbox.ChargeSeed{Handle: "O1", Amount: 10000})
	c := newClient(t, e.srv.URL+"/frisbii", "priv_wrong_secret")
	req := debit("k1", "O1", "1.00")
	req.Attempt = 2
	_, err := c.Settle(context.Background(), req)
	checkErr(t, err, providers.Transient, "6", "FRISBII_API_KEY")
	if e.settled(t, "O1") != 0 {
		t.Fatal("money moved with a wrong key")
	}
}

func TestName(t *testing.T) {
	if c := newClient(t, "http://127.0.0.1:1/frisbii", apiKey); c.Name() != "frisbii" {
		t.Fatal(c.Name())
	}
}
