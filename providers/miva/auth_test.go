package miva_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/miva"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/miva"
)

func TestHMACSigning(t *testing.T) {
	e := newEnv(t, sandbox.Config{SigningKey: signingKey, RequireTimestamp: true}, seedExample)
	tests := []struct {
		name, token, key string
		code, reason     string
	}{
		{name: "signed with the token's key", token: token, key: signingKey},
		{name: "unsigned", token: token, code: "invalid_signature", reason: "MIVA_SIGNING_KEY"},
		{name: "another key", token: token, key: "b3RoZXIta2V5", code: "invalid_signature", reason: "MIVA_SIGNING_KEY"},
		{name: "wrong token", token: "wrong-token-xyz", key: signingKey, code: "access_denied", reason: "MIVA_API_TOKEN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, e.url, tc.token, tc.key)
			res, err := c.ConfirmFunds(context.Background(), debit("200102", "1.00"))
			if tc.code == "" {
				if err != nil || !res.Available {
					t.Fatalf("%+v, %v", res, err)
				}
				return
			}
			checkErr(t, err, providers.Transient, tc.code, tc.reason)
		})
	}
	// The whole debit works signed, with timestamps required.
	req := confirmed(t, e, debit("200102", "1.00"))
	if out, err := e.client.Settle(context.Background(), req); err != nil || out.Kind != providers.Settled {
		t.Fatalf("%+v, %v", out, err)
	}
	if body := e.lastBody(miva.FunctionCapture); !strings.Contains(body, `"Miva_Request_Timestamp":`) {
		t.Fatalf("capture body has no timestamp: %s", body)
	}
}

func TestHTTPFailuresAreTransient(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, seedExample)
	tests := []struct {
		name   string
		url    string
		code   string
		reason string
	}{
		{"404: wrong endpoint path", e.srv.URL + "/miva/mm5/nothing.mvc", "404", "unexpected HTTP 404"},
		{"connection refused", "http://127.0.0.1:1/mm5/json.mvc", "", "connection refused (the call did not reach Miva)"},
		{"204 without a body", e.srv.URL + "/miva/_sandbox/reset", "", "unparseable reply"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, tc.url, token, "")
			_, err := c.ConfirmFunds(context.Background(), debit("200102", "1.00"))
			checkErr(t, err, providers.Transient, tc.code, tc.reason)
		})
	}
}

func TestConfig(t *testing.T) {
	good := miva.Config{BaseURL: "https://shop.example/mm5/json.mvc", StoreCode: "beta", APIToken: token, SigningKey: signingKey}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	if d := good.WithDefaults().Timeout; d != miva.DefaultTimeout {
		t.Fatalf("default timeout %s", d)
	}
	for _, s := range []string{good.String(), fmt.Sprintf("%v", good), fmt.Sprintf("%+v", good), fmt.Sprintf("%#v", good)} {
		noSecrets(t, s)
		if !strings.Contains(s, "shop.example") {
			t.Fatalf("config string %s", s)
		}
	}
	bad := []func(*miva.Config){
		func(c *miva.Config) { c.BaseURL = "" },
		func(c *miva.Config) { c.BaseURL = "shop.example/mm5/json.mvc" },
		func(c *miva.Config) { c.BaseURL += "?x=1" },
		func(c *miva.Config) { c.StoreCode = " " },
		func(c *miva.Config) { c.APIToken = "" },
		func(c *miva.Config) { c.APIToken = "a:b" },
		func(c *miva.Config) { c.SigningKey = "%%%" },
		func(c *miva.Config) { c.Timeout = -time.Second },
	}
	for i, mutate := range bad {
		c := good
		mutate(&c)
		err := c.Validate()
		if err == nil {
			t.Fatalf("case %d accepted", i)
		}
		noSecrets(t, err.Error())
		if _, err := miva.New(c, nil); err == nil {
			t.Fatalf("case %d: New accepted", i)
		}
	}
	if c, err := miva.New(good, nil); err != nil || c.Name() != "miva" {
		t.Fatalf("New: %v", err)
	}
}
