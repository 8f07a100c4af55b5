package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"

	_ "modernc.org/sqlite"
)

// canaryPAN is a Luhn-valid card number sent as a raw account
// (isToken="false") in every request of the canary test, and written by
// the sandboxes into their refusals.
const canaryPAN = "4111111111111111"

// sink is an HTTP receiver that keeps every request's headers and body
// (the OTLP trace collector, the status webhook).
type sink struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen [][]byte
}

func newSink(t *testing.T) *sink {
	s := &sink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var h bytes.Buffer
		r.Header.Del("Authorization")
		_ = r.Header.Write(&h)
		s.mu.Lock()
		s.seen = append(s.seen, append([]byte(r.Method+" "+r.URL.String()+"\n"+h.String()+"\n"), b...))
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(bytes.Join(s.seen, []byte("\n----\n")))
}

// canaries are the strings no output may hold: the raw card number (and
// its unmasked leading digits) and every credential the worker is given.
func canaries() map[string]string {
	basic := func(u, p string) string { return base64.StdEncoding.EncodeToString([]byte(u + ":" + p)) }
	return map[string]string{
		"card number":           canaryPAN,
		"card number (leading)": canaryPAN[:12],
		"RADIAL_API_KEY":        apiKey,
		"PAYSAFE_PASSWORD":      paysafePass,
		"PAYSAFE basic auth":    basic(paysafeUser, paysafePass),
		"FRISBII_API_KEY":       frisbiiKey,
		"FRISBII basic auth":    basic(frisbiiKey, ""),
		"MIVA_API_TOKEN":        mivaToken,
		"INTAKE key":            "intake-key-canary",
		"RetailOPS key":         "ro-key-canary",
	}
}

func scanCanaries(t *testing.T, where, text string) {
	t.Helper()
	for what, c := range canaries() {
		if i := strings.Index(text, c); i >= 0 {
			lo, hi := max(0, i-200), min(len(text), i+len(c)+80)
			t.Errorf("%s holds the %s: …%s…", where, what, text[lo:hi])
		}
	}
}

// rawAccount makes r's account a raw card number (isToken="false").
func rawAccount(t *testing.T, r req) req {
	r.Account = canaryPAN
	r.Body = bytes.Replace(r.xml(t), []byte(`isToken="true"`), []byte(`isToken="false"`), 1)
	return r
}

// TestCanariesNeverLeave pushes a raw card number and canary credentials
// through every path of every provider (S, R for funds, R for a decline
// whose text echoes the card number and the credentials, transient
// errors then S, a call that times out and commits late, a request that
// cannot be parsed near its card number, retries exhausted), at LOG_LEVEL
// debug with tracing and the webhook on, and scans every output: the log,
// /metrics, the exported spans, parked messages' headers, our status
// events' headers and reasons, the webhook's requests, the operator
// commands' output and the store's columns other than the bodies.
func TestCanariesNeverLeave(t *testing.T) {
	otlp, hook := newSink(t), newSink(t)
	httpAddr := freeAddr(t)
	e := newEnv(t, envOpts{})
	// Each provider's refusal echoes its own credential and the card
	// (Radial's comes in its asynchronous status).
	own := map[string]string{"radial": apiKey, "paysafe": paysafePass, "frisbii": frisbiiKey, "miva": mivaToken}
	p := e.start(
		"HTTP_ADDR="+httpAddr,
		"OTEL_EXPORTER_OTLP_ENDPOINT="+otlp.srv.URL, "OTEL_BSP_SCHEDULE_DELAY=100",
		"WEBHOOK_URL="+hook.srv.URL, "WEBHOOK_USERNAME=hook", "WEBHOOK_PASSWORD=hook-pw-canary", "WEBHOOK_BATCH_WAIT=100ms",
		"INTAKE_ADDR="+freeAddr(t), "INTAKE_RADIAL_API_KEYS=intake-key-canary",
		"INTAKE_RETAILOPS_AUTH_KEYS=ro-key-canary", "INTAKE_RETAILOPS_CHANNELS=21=radial:"+storeID+":PY:USD",
		"MAX_ATTEMPTS=3",
	)
	var ids []string
	for i, d := range pvDrivers {
		order := func(n int) string { return fmt.Sprintf("3%02d%03d", i, n) }
		one := func(o, id, amount string) req {
			r := rawAccount(t, req{Provider: d.name, RequestID: id, OrderID: o, Amount: amount,
				Headers: d.headers(t, e, o, false, "")})
			ids = append(ids, id)
			return r
		}
		if d.complete != nil {
			stop := d.complete(e)
			defer stop()
		}
		// S.
		d.authorize(t, e, order(1), "100.00", "USD")
		r := one(order(1), uniq(d.name+"-s"), "10.00")
		// A sender that wrote the card number where it does not belong:
		// the ClientContext (echoed by the status) and a header.
		r.ClientContext, r.Body = "card "+canaryPAN, nil
		r = rawAccount(t, r)
		r.Headers = map[string]string{"x-note": "card " + canaryPAN}
		for k, v := range d.headers(t, e, r.OrderID, false, "") {
			r.Headers[k] = v
		}
		e.publish(r)
		oneEvent(t, e, r.RequestID, messages.StatusSettled)
		// R: funds.
		d.refuseFunds(t, e, order(2), "10.00")
		r = one(order(2), uniq(d.name+"-funds"), "10.00")
		e.publish(r)
		oneEvent(t, e, r.RequestID, messages.StatusRejected)
		// R: a decline whose text echoes secrets.
		d.decline(t, e, order(3), "100.00", "declined (credential "+own[d.name]+", card "+canaryPAN+")")
		r = one(order(3), uniq(d.name+"-decl"), "10.00")
		e.publish(r)
		oneEvent(t, e, r.RequestID, messages.StatusRejected)
		// Transient errors, then S.
		d.authorize(t, e, order(4), "100.00", "USD")
		d.failSettle(t, e, 1)
		r = one(order(4), uniq(d.name+"-5xx"), "10.00")
		e.publish(r)
		oneEvent(t, e, r.RequestID, messages.StatusSettled)
		// A call that times out and commits late: reconciled.
		d.authorize(t, e, order(5), "100.00", "USD")
		d.lateSettle(t, e, 2500)
		r = one(order(5), uniq(d.name+"-late"), "10.00")
		e.publish(r)
		e.waitEvents(r.RequestID, 1, 2*wait)
		// Cannot be parsed: the syntax error is next to the card number.
		bad := uniq(d.name + "-garbage")
		e.publish(req{Provider: d.name, RequestID: bad, Body: []byte(`<PaymentSettlementRequest><PaymentContext><PaymentAccountUniqueId isToken="false">` + canaryPAN + `</Payment<`)})
		if got := e.parked(broker.ParkedQueue(d.name), 1, wait); len(got) != 1 {
			t.Fatalf("%s: the unparseable request was not parked", d.name)
		} else {
			scanHeaders(t, d.name+" parked headers (unparseable)", got[0].Headers)
		}
		// Retries exhausted: parked.
		d.authorize(t, e, order(6), "100.00", "USD")
		d.failSettle(t, e, 10)
		r = one(order(6), uniq(d.name+"-down"), "10.00")
		e.publish(r)
		if got := e.parked(broker.ParkedQueue(d.name), 1, 2*wait); len(got) != 1 {
			t.Errorf("%s: the request whose retries ran out was not parked", d.name)
		} else {
			scanHeaders(t, d.name+" parked headers (retries exhausted)", got[0].Headers)
		}
		d.failSettle(t, e, 0)
	}
	// Status events: headers, and the body without its echoed account.
	for _, id := range ids {
		for _, ev := range e.statuses.of(id) {
			var h strings.Builder
			for k, v := range ev.Headers {
				fmt.Fprintf(&h, "%s: %s\n", k, v)
			}
			scanCanaries(t, "status event headers of "+id, h.String())
			if ev.Status != nil {
				scanCanaries(t, "status DeclineReason of "+id, ev.Status.DeclineReason)
			}
		}
	}
	// /metrics, /readyz, /healthz.
	for _, path := range []string{"/metrics", "/readyz", "/healthz"} {
		res, err := http.Get("http://" + httpAddr + path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		scanCanaries(t, path, string(b))
	}
	// The operator commands.
	opsEnv := []string{"AMQP_URL=" + e.amqpURL, "STORE_DSN=sqlite:" + e.dbPath, "PROVIDERS=radial,paysafe,frisbii,miva"}
	for _, args := range append([][]string{{"stuck"}, {"parked", "ls"}, {"stats"}}, showArgs(ids)...) {
		cmd := exec.Command(e.bin, args...)
		cmd.Env = append(cmd.Environ(), opsEnv...)
		out, _ := cmd.CombinedOutput()
		scanCanaries(t, "settlement-worker "+strings.Join(args, " "), string(out))
	}
	// Let the spans and the webhook's batches go out, then stop the worker
	// (it flushes its spans).
	time.Sleep(time.Second)
	p.stop()
	scanCanaries(t, "the worker log", p.logText())
	if !strings.Contains(otlp.text(), "/v1/traces") || !strings.Contains(hook.text(), "PaymentSettlementStatusList") {
		t.Errorf("no span or no webhook request was received: the scan below would prove nothing")
	}
	scanCanaries(t, "the exported spans", otlp.text())
	// The webhook's own credentials go to the webhook; the status echoes
	// the account and the ClientContext as sent.
	scanCanaries(t, "the webhook's requests (the account and ClientContext aside)", stripAccounts(hook.text()))
	scanStore(t, e.dbPath)
}

func showArgs(ids []string) [][]string {
	var out [][]string
	for _, id := range ids {
		out = append(out, []string{"show", id})
	}
	return out
}

// stripAccounts drops the PaymentAccountUniqueId elements, where the
// contract echoes the account.
func stripAccounts(s string) string {
	s = strings.ReplaceAll(s, "<ClientContext>card "+canaryPAN+"</ClientContext>", "")
	for {
		i := strings.Index(s, "<PaymentAccountUniqueId")
		if i < 0 {
			return s
		}
		j := strings.Index(s[i:], "</PaymentAccountUniqueId>")
		if j < 0 {
			return s[:i]
		}
		s = s[:i] + s[i+j+len("</PaymentAccountUniqueId>"):]
	}
}

func scanHeaders(t *testing.T, where string, h amqp.Table) {
	t.Helper()
	var b strings.Builder
	for k, v := range h {
		fmt.Fprintf(&b, "%s: %s\n", k, broker.Stringify(v))
	}
	scanCanaries(t, where, b.String())
}

// scanStore reads every text column of every table but the request and
// status bodies.
func scanStore(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type='table'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	for _, tb := range tables {
		rs, err := db.QueryContext(ctx, `SELECT * FROM "`+tb+`"`)
		if err != nil {
			t.Errorf("read %s: %v", tb, err)
			continue
		}
		cols, _ := rs.Columns()
		for rs.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			_ = rs.Scan(ptrs...)
			for i, v := range vals {
				if cols[i] == "request" || cols[i] == "body" {
					continue
				}
				var s string
				switch x := v.(type) {
				case string:
					s = x
				case []byte:
					s = string(x)
				default:
					continue
				}
				scanCanaries(t, "store column "+tb+"."+cols[i], s)
			}
		}
		rs.Close()
	}
}
