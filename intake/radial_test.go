package intake

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/messages"
)

const radialPath = "/radial/settlements"

// validRequest is a valid PaymentSettlementRequest with a card account.
func validRequest(id string) messages.PaymentSettlementRequest {
	return messages.PaymentSettlementRequest{
		RequestID: id,
		PaymentContext: &messages.PaymentContext{OrderID: "ORD-" + id,
			PaymentAccountUniqueID: messages.AccountID{IsToken: "true", Value: "4400000000000008"}},
		InvoiceID:      "INV-" + id,
		Amount:         messages.Amount{CurrencyCode: "USD", Value: "100.00"},
		TaxAmount:      &messages.Amount{CurrencyCode: "USD", Value: "6.00"},
		SettlementType: messages.SettlementDebit,
		ClientContext:  "ctx-" + id,
	}
}

func encode(t *testing.T, v any) []byte {
	t.Helper()
	b, err := messages.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func list(t *testing.T, ids ...string) []byte {
	t.Helper()
	var l messages.PaymentSettlementRequestList
	for _, id := range ids {
		l.Requests = append(l.Requests, validRequest(id))
	}
	return encode(t, l)
}

var radialAuth = map[string]string{HeaderAPIKey: testRadialKey, HeaderStoreID: "ABCXYZ", HeaderTenderType: "VC"}

func with(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

// checkAck fails unless the answer is 200 with an AckReply.
func checkAck(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	ack, err := messages.DecodeAckReply(body)
	if err != nil || ack.Received == nil {
		t.Fatalf("not an AckReply (%v): %s", err, body)
	}
}

// checkFault fails unless the answer is status with a Fault of code.
func checkFault(t *testing.T, resp *http.Response, body []byte, status int, code string) *messages.Fault {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	f, err := messages.DecodeFault(body)
	if err != nil {
		t.Fatalf("not a Fault (%v): %s", err, body)
	}
	if code != "" && f.Code != code {
		t.Fatalf("fault code %q, want %q: %s", f.Code, code, f.Description)
	}
	return f
}

func TestRadialSingleRequest(t *testing.T) {
	e := newEnv(t, envOptions{topology: true})
	req := validRequest("single-1")
	resp, body := e.post(radialPath, "application/xml", encode(t, req),
		with(radialAuth, HeaderOriginalAuthAmount, "120.00"))
	checkAck(t, resp, body)
	ds := e.requests("radial", 5*time.Second)
	if len(ds) != 1 {
		t.Fatalf("published %d, want 1", len(ds))
	}
	d := ds[0]
	got, err := messages.DecodeSettlementRequest(d.Body)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ what, got, want string }{
		{"message_id", d.MessageId, "single-1"},
		{"routing key", d.RoutingKey, "settlement.request.radial"},
		{"content type", d.ContentType, "application/xml"},
		{"store_id", header(d, "store_id"), "ABCXYZ"},
		{"tender_type", header(d, "tender_type"), "VC"},
		{"original_authorization_amount", header(d, "original_authorization_amount"), "120.00"},
		{"fingerprint", got.Fingerprint(), req.Fingerprint()},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	// The AMQP timestamp lets the worker measure how long it waited.
	if d.Timestamp.IsZero() || time.Since(d.Timestamp) > time.Minute {
		t.Errorf("timestamp %v, want about now", d.Timestamp)
	}
}

func TestRadialListForm(t *testing.T) {
	e := newEnv(t, envOptions{topology: true})
	q := url.Values{QueryStoreID: {"STORE-Q"}, QueryTenderType: {"MC"}}
	resp, body := e.post(radialPath+"?"+q.Encode(), "text/xml; charset=utf-8", list(t, "l-1", "l-2", "l-3"),
		map[string]string{"Authorization": "Bearer " + testRadialKey})
	checkAck(t, resp, body)
	ds := e.requests("radial", 5*time.Second)
	if len(ds) != 3 {
		t.Fatalf("published %d, want 3", len(ds))
	}
	seen := map[string]bool{}
	for _, d := range ds {
		r, err := messages.DecodeSettlementRequest(d.Body)
		if err != nil {
			t.Fatal(err)
		}
		if r.RequestID != d.MessageId || header(d, "store_id") != "STORE-Q" || header(d, "tender_type") != "MC" {
			t.Errorf("request %s: message_id %s headers %v", r.RequestID, d.MessageId, d.Headers)
		}
		seen[r.RequestID] = true
	}
	if len(seen) != 3 {
		t.Fatalf("requests %v", seen)
	}
}

// gatedPublisher holds every publish until open is closed.
type gatedPublisher struct {
	next      Publisher
	open      chan struct{}
	published atomic.Int32
}

func (g *gatedPublisher) Publish(ctx context.Context, exchange, key string, msg *message.Message) error {
	select {
	case <-g.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := g.next.Publish(ctx, exchange, key, msg); err != nil {
		return err
	}
	g.published.Add(1)
	return nil
}

// The AckReply is sent only once every request of the list is confirmed.
func TestRadialAckOnlyAfterAllConfirmed(t *testing.T) {
	gate := &gatedPublisher{open: make(chan struct{})}
	e := newEnv(t, envOptions{topology: true, publisher: func(p Publisher) Publisher { gate.next = p; return gate }})
	type answer struct {
		resp *http.Response
		body []byte
	}
	done := make(chan answer, 1)
	go func() {
		resp, body := e.post(radialPath, "application/xml", list(t, "g-1", "g-2", "g-3"), radialAuth)
		done <- answer{resp, body}
	}()
	select {
	case a := <-done:
		t.Fatalf("answered before any confirm: %d %s", a.resp.StatusCode, a.body)
	case <-time.After(500 * time.Millisecond):
	}
	close(gate.open)
	a := <-done
	checkAck(t, a.resp, a.body)
	if n := gate.published.Load(); n != 3 {
		t.Fatalf("acked with %d of 3 confirmed", n)
	}
	if ds := e.requests("radial", 5*time.Second); len(ds) != 3 {
		t.Fatalf("queued %d, want 3", len(ds))
	}
}

// No exchange: the broker cannot confirm, the client gets a 503 Fault (and
// retries with the same requestIds), never an AckReply.
func TestRadialPublishFailureAnswers503(t *testing.T) {
	e := newEnv(t, envOptions{topology: false})
	resp, body := e.post(radialPath, "application/xml", list(t, "f-1", "f-2"), radialAuth)
	checkFault(t, resp, body, http.StatusServiceUnavailable, FaultServiceUnavailable)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

func TestRadialAuthentication(t *testing.T) {
	e := newEnv(t, envOptions{topology: true})
	params := map[string]string{HeaderStoreID: "ABCXYZ", HeaderTenderType: "VC"}
	basic := func(u, p string) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.SetBasicAuth(u, p)
		return r
	}
	tests := []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"apikey header", with(params, HeaderAPIKey, testRadialKey), http.StatusOK},
		{"bearer", with(params, "Authorization", "Bearer "+testRadialKey), http.StatusOK},
		{"basic", with(params, "Authorization", basic(testBasicUser, testBasicPass).Header.Get("Authorization")), http.StatusOK},
		{"nothing", params, http.StatusUnauthorized},
		{"wrong apikey", with(params, HeaderAPIKey, testRadialKey+"0"), http.StatusUnauthorized},
		{"basic, wrong password", with(params, "Authorization", basic(testBasicUser, "nope").Header.Get("Authorization")), http.StatusUnauthorized},
		{"basic, wrong user", with(params, "Authorization", basic("other", testBasicPass).Header.Get("Authorization")), http.StatusUnauthorized},
		{"password as bearer", with(params, "Authorization", "Bearer "+testBasicPass), http.StatusUnauthorized},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.post(radialPath, "application/xml", encode(t, validRequest(fmt.Sprintf("auth-%d", i))), tt.headers)
			if tt.want == http.StatusOK {
				checkAck(t, resp, body)
				if ds := e.requests("radial", 5*time.Second); len(ds) != 1 {
					t.Fatalf("published %d", len(ds))
				}
				return
			}
			checkFault(t, resp, body, http.StatusUnauthorized, FaultUnauthorized)
			if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
			}
			if ds := e.requests("radial", 200*time.Millisecond); len(ds) != 0 {
				t.Fatalf("unauthenticated request published %d", len(ds))
			}
		})
	}
}

func TestRadialRefusals(t *testing.T) {
	e := newEnv(t, envOptions{topology: true})
	invalid := validRequest("bad-1")
	invalid.Amount.Value = "-5.00"
	invalid.InvoiceID = ""
	withInvalid := messages.PaymentSettlementRequestList{Requests: []messages.PaymentSettlementRequest{validRequest("ok-1"), invalid}}
	zmw := validRequest("zmw-1")
	zmw.Amount.CurrencyCode = "ZMW"
	zmw.TaxAmount.CurrencyCode = "ZMW"
	many := make([]string, 11)
	for i := range many {
		many[i] = fmt.Sprintf("m-%d", i)
	}
	tests := []struct {
		name    string
		method  string
		ct      string
		body    []byte
		headers map[string]string
		status  int
		code    string
		mention string // the Fault's description must contain it
	}{
		{"not XML", "", "", []byte("requestId=1&amount=5"), radialAuth, 400, FaultMalformedRequest, "well-formed"},
		{"DOCTYPE", "", "", []byte(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><PaymentSettlementRequest xmlns="http://api.gsicommerce.com/schema/checkout/1.0">&e;</PaymentSettlementRequest>`),
			radialAuth, 400, FaultMalformedRequest, "DOCTYPE"},
		{"other root", "", "", encode(t, messages.AckReply{}), radialAuth, 400, FaultMalformedRequest, "AckReply"},
		{"invalid request", "", "", encode(t, invalid), radialAuth, 400, FaultInvalidRequest, "PaymentSettlementRequest/Amount"},
		{"list with one invalid request", "", "", encode(t, withInvalid), radialAuth, 400, FaultInvalidRequest,
			"PaymentSettlementRequestList/PaymentSettlementRequest[2]/InvoiceId"},
		{"duplicate requestIds", "", "", list(t, "d-1", "d-1"), radialAuth, 400, FaultInvalidRequest, "appears twice"},
		{"empty list", "", "", list(t), radialAuth, 400, FaultInvalidRequest, "holds no"},
		{"list too long", "", "", list(t, many...), radialAuth, 400, FaultInvalidRequest, "at most 10"},
		{"no store id", "", "", encode(t, validRequest("s-1")), with(radialAuth, HeaderStoreID, ""), 400, FaultInvalidRequest, "store id"},
		{"tender type too long", "", "", encode(t, validRequest("s-2")), with(radialAuth, HeaderTenderType, "VISA1"), 400, FaultInvalidRequest, "tender type"},
		{"currency Radial's schema lacks", "", "", encode(t, zmw), radialAuth, 400, FaultInvalidRequest, "Radial's schema enumerates"},
		{"authorization amount on a list", "", "", list(t, "a-1"), with(radialAuth, HeaderOriginalAuthAmount, "5.00"), 400, FaultInvalidRequest, "singly"},
		{"bad authorization amount", "", "", encode(t, validRequest("a-2")), with(radialAuth, HeaderOriginalAuthAmount, "5.001"), 400, FaultInvalidRequest, "authorization amount"},
		{"JSON content type", "", "application/json", encode(t, validRequest("c-1")), radialAuth, 415, "UnsupportedMediaType", "application/xml"},
		{"GET", http.MethodGet, "", nil, radialAuth, 405, "MethodNotAllowed", "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, ct := tt.method, tt.ct
			if method == "" {
				method = http.MethodPost
			}
			if ct == "" && method == http.MethodPost {
				ct = "application/xml"
			}
			resp, body := e.do(method, radialPath, ct, tt.body, tt.headers)
			f := checkFault(t, resp, body, tt.status, tt.code)
			if !strings.Contains(f.Description, tt.mention) {
				t.Errorf("fault %q does not mention %q", f.Description, tt.mention)
			}
			if strings.Contains(f.Description, "4400000000000008") {
				t.Error("fault echoes the account number")
			}
			if ds := e.requests("radial", 200*time.Millisecond); len(ds) != 0 {
				t.Fatalf("refused request published %d", len(ds))
			}
		})
	}
}

// Issue 7: a request the worker would park — larger than MAX_REQUEST_BYTES
// once encoded, or without the tender type every status carries, whatever
// the provider — is refused at the door.
func TestRadialRefusesWhatTheWorkerWouldPark(t *testing.T) {
	small := encode(t, validRequest("size-ok"))
	cfg := testConfig()
	cfg.MaxRequestBytes = int64(len(small)) + 40
	e := newEnv(t, envOptions{topology: true, cfg: &cfg})
	big := validRequest("size-big")
	big.RefundReason = strings.Repeat("r", 200)
	resp, body := e.post(radialPath, "application/xml", encode(t, big), radialAuth)
	f := checkFault(t, resp, body, http.StatusBadRequest, FaultInvalidRequest)
	if !strings.Contains(f.Description, "MAX_REQUEST_BYTES") {
		t.Errorf("fault %q does not name MAX_REQUEST_BYTES", f.Description)
	}
	listBody := encode(t, messages.PaymentSettlementRequestList{Requests: []messages.PaymentSettlementRequest{validRequest("size-l1"), big}})
	resp, body = e.post(radialPath, "application/xml", listBody, radialAuth)
	f = checkFault(t, resp, body, http.StatusBadRequest, FaultInvalidRequest)
	if !strings.Contains(f.Description, "PaymentSettlementRequestList/PaymentSettlementRequest[2]") {
		t.Errorf("fault %q does not name the list's second request", f.Description)
	}
	if ds := e.requests("radial", 200*time.Millisecond); len(ds) != 0 {
		t.Fatalf("refused request published %d", len(ds))
	}
	resp, body = e.post(radialPath, "application/xml", small, radialAuth)
	checkAck(t, resp, body)
	if ds := e.requests("radial", 5*time.Second); len(ds) != 1 {
		t.Fatalf("published %d, want the request within the bound", len(ds))
	}

	other := testConfig()
	other.Radial.Provider = "paysafe"
	e = newEnv(t, envOptions{topology: true, cfg: &other})
	resp, body = e.post(radialPath, "application/xml", encode(t, validRequest("no-tender")), with(radialAuth, HeaderTenderType, ""))
	f = checkFault(t, resp, body, http.StatusBadRequest, FaultInvalidRequest)
	if !strings.Contains(f.Description, "tender type is required") {
		t.Errorf("fault %q does not require the tender type", f.Description)
	}
}

// Header and query parameter must agree when both are sent.
func TestRadialParametersHeaderAndQuery(t *testing.T) {
	e := newEnv(t, envOptions{topology: true})
	tests := []struct {
		name  string
		query string
		want  int
	}{
		{"agree", "?store_id=ABCXYZ", http.StatusOK},
		{"disagree", "?store_id=OTHER", http.StatusBadRequest},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.post(radialPath+tt.query, "application/xml", encode(t, validRequest(fmt.Sprintf("hq-%d", i))), radialAuth)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, body)
			}
			e.requests("radial", 200*time.Millisecond)
		})
	}
}
