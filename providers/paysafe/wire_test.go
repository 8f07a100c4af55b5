package paysafe_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/paysafe"
)

// seedReply is seed 001's example settlement response; %s is the status.
const seedReply = `{
"links":[
{
"rel":"self",
"href":"https://api.test.paysafe.com/cardpayments/v1/accounts/89987201/settlements/0fd73475-9837-4613-8464-355a3a99b8bb"
}
],
"id":"0fd73475-9837-4613-8464-355a3a99b8bb",
"merchantRefNum":"settlementonlydemo-1",
"txnTime":"2017-05-05T13:09:47Z",
"status":"%s",
"amount":10098,
"availableToRefund":10098
}`

// seen is what the fake server saw of a request.
type seen struct {
	method, path, user, pass, body string
	auth                           bool
}

// fake answers every call with status, body and an optional error code
// header, except a lookup by merchantRefNum (the one a refusal of a
// settlement or refund is checked with), which finds nothing; the requests
// it saw arrive on the returned channel.
func fake(t *testing.T, status int, body, code string) (*httptest.Server, chan seen) {
	t.Helper()
	got := make(chan seen, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u, p, ok := r.BasicAuth()
		if r.Method == http.MethodGet && r.URL.Query().Has("merchantRefNum") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"settlements":[],"refunds":[]}`))
			return
		}
		got <- seen{method: r.Method, path: r.URL.Path, user: u, pass: p, auth: ok, body: string(b)}
		if code != "" {
			w.Header().Set("X-Application-Status-Code", code)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// TestSeedExampleReply maps seed 001's response, with each status, to the
// pipeline's outcome.
func TestSeedExampleReply(t *testing.T) {
	tests := []struct {
		status string
		kind   providers.Kind
		reason string
		err    string
	}{
		{"RECEIVED", providers.Pending, "", ""},
		{"PENDING", providers.Pending, "", ""},
		{"PROCESSING", providers.Pending, "", ""},
		{"COMPLETED", providers.Settled, "", ""},
		{"FAILED", providers.Refused, "Paysafe settlement 0fd73475-9837-4613-8464-355a3a99b8bb FAILED", ""},
		{"CANCELLED", providers.Refused, "CANCELLED before it was batched", ""},
		{"SOMETHING_NEW", "", "", `unknown status "SOMETHING_NEW"`},
	}
	for _, tc := range tests {
		t.Run(tc.status, func(t *testing.T) {
			srv, last := fake(t, http.StatusOK, strings.Replace(seedReply, "%s", tc.status, 1), "")
			c := newClient(t, srv.URL, user, pass)
			req := debit("settlementonlydemo-1", "6ce78961-5989-4c4b-ad68-5f5af506143e", "100.98", "USD")
			out, err := c.Settle(ctx(t), req)
			if tc.err != "" {
				checkErr(t, err, providers.Transient, "", tc.err)
				return
			}
			mustOutcome(t, out, err, tc.kind)
			if out.Ref != "0fd73475-9837-4613-8464-355a3a99b8bb" || !strings.Contains(out.Reason, tc.reason) {
				t.Fatalf("outcome = %+v", out)
			}
			if tc.kind == providers.Pending && out.RecheckAfter != recheck {
				t.Fatalf("RecheckAfter = %s", out.RecheckAfter)
			}
			r := <-last
			if r.method != http.MethodPost || r.path != "/cardpayments/v1/accounts/89987201/auths/6ce78961-5989-4c4b-ad68-5f5af506143e/settlements" {
				t.Fatalf("request %s %s", r.method, r.path)
			}
			if !r.auth || r.user != user || r.pass != pass {
				t.Fatal("no basic authentication")
			}
			if r.body != `{"merchantRefNum":"settlementonlydemo-1","amount":10098,"dupCheck":true}` {
				t.Fatalf("body %s", r.body)
			}
		})
	}

}

func TestHTTPClassification(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		header string
		class  providers.Class
		code   string
		reason string
	}{
		{"401 without body", 401, "", "", providers.Transient, "401", "check PAYSAFE_USERNAME"},
		{"403", 403, `{"error":{"code":"5270","message":"not permitted"}}`, "5270", providers.Transient, "5270", "check PAYSAFE_ACCOUNTS"},
		{"429", 429, "", "", providers.Transient, "429", "rate limiting"},
		{"500", 500, "oops", "", providers.Transient, "500", "failed to answer"},
		{"unknown 4xx code", 400, `{"error":{"code":"9999","message":"Something odd"}}`, "", providers.Permanent, "9999", "refused the request (HTTP 400, error 9999: Something odd)"},
		{"code only in the header", 400, "not json", "3204", providers.Permanent, "3204", "exceeds what remains"},
		{"secrets in a message are masked", 400, `{"error":{"code":"5068","message":"bad card ` + pan + ` for ` + user + `"}}`, "", providers.Permanent, "5068", "[redacted]"},
		{"unparseable 200", 200, "<html>maintenance</html>", "", providers.Transient, "", "unparseable reply"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := fake(t, tc.status, tc.body, tc.header)
			_, err := newClient(t, srv.URL, user, pass).Settle(ctx(t), debit("h-1", "a1", "1.00", "USD"))
			checkErr(t, err, tc.class, tc.code, tc.reason)
		})
	}

	t.Run("unreachable", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		url := dead.URL
		dead.Close()
		_, err := newClient(t, url, user, pass).Settle(ctx(t), debit("h-2", "a1", "1.00", "USD"))
		checkErr(t, err, providers.Transient, "", "connection refused (the call did not reach Paysafe)")
		if !providers.WasNotSent(err) {
			t.Fatalf("connection refused is not NotSent: %v", err)
		}
		_, err = newClient(t, url, user, pass).ConfirmFunds(ctx(t), debit("h-2", "a1", "1.00", "USD"))
		checkErr(t, err, providers.Transient, "", "connection refused")
	})

	t.Run("confirm funds failures", func(t *testing.T) {
		srv, _ := fake(t, 503, "", "")
		_, err := newClient(t, srv.URL, user, pass).ConfirmFunds(ctx(t), debit("h-3", "a1", "1.00", "USD"))
		checkErr(t, err, providers.Transient, "503", "HTTP 503")
		srv, _ = fake(t, 200, `{"id":"a1","status":"COMPLETED"}`, "")
		_, err = newClient(t, srv.URL, user, pass).ConfirmFunds(ctx(t), debit("h-3", "a1", "1.00", "USD"))
		checkErr(t, err, providers.Transient, "", "no status or availableToSettle")
	})
}

func TestErrorClasses(t *testing.T) {
	want := map[string]providers.Class{
		"3202": providers.Permanent, "3203": providers.Permanent, "3204": providers.Permanent, "3205": providers.Permanent,
		"3417": providers.Transient, "5279": providers.Transient, "5031": providers.Transient,
	}
	for code, class := range want {
		if r, ok := paysafe.ErrorClasses[code]; !ok || r.Class != class {
			t.Errorf("%s: %+v, want %v", code, r, class)
		}
	}
	for code, r := range paysafe.ErrorClasses {
		if r.Reason == "" || r.Source == "" {
			t.Errorf("%s has no reason or source", code)
		}
		if r.Reconcile != (code == paysafe.CodeDuplicate) {
			t.Errorf("%s: reconcile %v", code, r.Reconcile)
		}
	}
	for _, s := range paysafe.StatusClasses {
		if s.Reason == "" || s.Min > s.Max {
			t.Errorf("status rule %+v", s)
		}
	}
}

func TestConfig(t *testing.T) {
	good := clientConfig("http://x/paysafe/", user, pass)
	for name, mutate := range map[string]func(*paysafe.Config){
		"no base URL":        func(c *paysafe.Config) { c.BaseURL = "" },
		"ftp base URL":       func(c *paysafe.Config) { c.BaseURL = "ftp://x" },
		"credentials in URL": func(c *paysafe.Config) { c.BaseURL = "http://" + user + ":" + pass + "@x" },
		"query in URL":       func(c *paysafe.Config) { c.BaseURL = "http://x?y=1" },
		"no password":        func(c *paysafe.Config) { c.Password = "" },
		"colon in username":  func(c *paysafe.Config) { c.Username = "a:b" },
		"no accounts":        func(c *paysafe.Config) { c.Accounts = nil },
		"empty account":      func(c *paysafe.Config) { c.Accounts = map[string]string{"S": " "} },
		"bad currency":       func(c *paysafe.Config) { c.Currencies = map[string]string{acct: "usd"} },
		"negative timeout":   func(c *paysafe.Config) { c.Timeout = -time.Second },
		"negative recheck":   func(c *paysafe.Config) { c.RecheckAfter = -time.Second },
	} {
		c := good
		c.Accounts = map[string]string{store: acct}
		mutate(&c)
		_, err := paysafe.New(c, nil)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		noSecrets(t, err.Error())
	}
	d := paysafe.Config{BaseURL: " http://x/paysafe/ "}.WithDefaults()
	if d.BaseURL != "http://x/paysafe" || d.Timeout != paysafe.DefaultTimeout || d.RecheckAfter != paysafe.DefaultRecheckAfter {
		t.Fatalf("defaults = %+v", d)
	}
	c, err := paysafe.New(good, nil)
	if err != nil || c.Name() != "paysafe" {
		t.Fatalf("New = %v, %v", c, err)
	}
	var _ providers.Provider = c
	var _ providers.Reconciler = c
	var _ providers.Poller = c
}
