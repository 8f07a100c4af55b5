package intake

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Secrets of the test configuration.
const (
	testRetailOPSKey = "ro-key-0123456789abcdef"
	testRadialKey    = "radial-key-0123456789"
	testBasicUser    = "client"
	testBasicPass    = "s3cret-pass"
)

// testConfig is a valid configuration: channel 21 settles with radial for
// store ABCXYZ, tender PY, USD; channel 30 with radial in JPY.
func testConfig() Config {
	c := DefaultConfig()
	c.Addr = "127.0.0.1:0"
	c.PublishTimeout = 5 * time.Second
	c.RetailOPS.AuthKeys = []string{"old-key-to-rotate-out", testRetailOPSKey}
	c.RetailOPS.Channels = map[string]Channel{
		"21": {Provider: "radial", StoreID: "ABCXYZ", TenderType: "PY", Currency: "USD"},
		"30": {Provider: "radial", StoreID: "JP-STORE", TenderType: "VC", Currency: "JPY"},
	}
	c.Radial.APIKeys = []string{testRadialKey}
	c.Radial.BasicUser = testBasicUser
	c.Radial.BasicPassword = testBasicPass
	c.Radial.MaxBatch = 10
	return c
}

// env is an intake served on loopback, publishing to a fresh vhost.
type env struct {
	t       *testing.T
	url     string // http://127.0.0.1:port
	amqpURL string
	ch      *amqp.Channel
}

// options of newEnv.
type envOptions struct {
	cfg       *Config
	topology  bool // declare the worker's topology (else the exchange is missing)
	publisher func(Publisher) Publisher
	ready     ReadyFunc
	logs      io.Writer // when set, the intake logs here
	// dialVia, when set, returns the URL the intake's publisher dials
	// instead of the vhost's (a proxy in front of the broker).
	dialVia func(amqpURL string) string
}

func testLogger(t *testing.T) zerolog.Logger {
	if testing.Verbose() {
		return zerolog.New(zerolog.NewTestWriter(t))
	}
	return zerolog.Nop()
}

// newEnv starts an intake on 127.0.0.1 with a real broker publisher.
func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	u := testenv.AMQPURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pubURL := u
	if o.dialVia != nil {
		pubURL = o.dialVia(u)
	}
	bp, err := broker.NewPublisher(ctx, pubURL, 4, testLogger(t))
	if err != nil {
		t.Fatalf("publisher: %v", err)
	}
	t.Cleanup(func() { _ = bp.Close() })
	conn, err := amqp.Dial(u)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if o.topology {
		topo := broker.Topology{Providers: []string{"radial"}, QueueType: broker.QueueClassic}
		if err := topo.Declare(conn); err != nil {
			t.Fatalf("declare topology: %v", err)
		}
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	if o.cfg != nil {
		cfg = *o.cfg
	}
	var pub Publisher = bp
	if o.publisher != nil {
		pub = o.publisher(bp)
	}
	log := testLogger(t)
	if o.logs != nil {
		log = zerolog.New(o.logs)
	}
	srv, err := New(cfg, pub, o.ready, log)
	if err != nil {
		t.Fatalf("new intake: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &env{t: t, url: "http://" + ln.Addr().String(), amqpURL: u, ch: ch}
}

// post sends body with the given content type and headers.
func (e *env) post(path, contentType string, body []byte, headers map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	return e.do(http.MethodPost, path, contentType, body, headers)
}

func (e *env) do(method, path, contentType string, body []byte, headers map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, out
}

// requests drains the provider's request queue (waiting up to wait for the
// first message, then taking whatever follows).
func (e *env) requests(provider string, wait time.Duration) []amqp.Delivery {
	e.t.Helper()
	var out []amqp.Delivery
	deadline := time.Now().Add(wait)
	for {
		d, ok, err := e.ch.Get(broker.RequestQueue(provider), true)
		if err != nil {
			e.t.Fatalf("get: %v", err)
		}
		if ok {
			out = append(out, d)
			deadline = time.Now().Add(200 * time.Millisecond)
			continue
		}
		if time.Now().After(deadline) {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// seed returns the RetailOPS seed example, verbatim.
func seed(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/retailops_order_settle_payment_v1.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edit decodes the seed, lets f change it, and re-encodes it.
func edit(t *testing.T, body []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// obj walks nested JSON objects: obj(m, "data", "order").
func obj(m map[string]any, path ...string) map[string]any {
	for _, p := range path {
		m = m[p].(map[string]any)
	}
	return m
}

// decodeEvents parses a RetailOPS answer.
func decodeEvents(t *testing.T, body []byte) Response {
	t.Helper()
	var r Response
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("answer is not {\"events\": [...]}: %v: %s", err, body)
	}
	if r.Events == nil {
		t.Fatalf("answer has no events array: %s", body)
	}
	return r
}

var bearer = map[string]string{"Authorization": "Bearer " + testRetailOPSKey}

// TestHeaderNamesMatchWorker keeps the intake's header names equal to the
// ones the worker reads.
func TestHeaderNamesMatchWorker(t *testing.T) {
	pairs := [][2]string{
		{headerStoreID, handlers.HeaderStoreID},
		{headerTenderType, handlers.HeaderTenderType},
		{headerOriginalAuthAmount, handlers.HeaderOriginalAuthAmount},
		{contentTypeXML, handlers.ContentTypeXML},
	}
	for _, p := range pairs {
		if p[0] != p[1] {
			t.Errorf("intake uses %q, the worker %q", p[0], p[1])
		}
	}
}
