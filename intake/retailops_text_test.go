package intake

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/messages"
)

// TestRetailOPSTextXMLCannotCarryIsRefused: a string the settlement request
// carries (the order id, which every status echoes, the channel refnum, a
// package's carrier or tracking number) holding a character XML cannot
// carry (U+0001) was published: messages.Encode writes it as U+FFFD, so
// the worker settled — and reported its S/R for — an order id RetailOPS
// never sent ("48\uFFFD97" for "48\u000197"; "48\u000297" alike, under
// another requestId), while RetailOPS was answered 200. JSON requests to
// the worker refuse such strings (messages.DecodeSettlementRequestJSON);
// the RetailOPS intake answers an error event naming the field and
// publishes nothing.
func TestRetailOPSTextXMLCannotCarryIsRefused(t *testing.T) {
	pkg := func(m map[string]any) map[string]any {
		return obj(m, "data", "order")["shipments"].([]any)[0].(map[string]any)["packages"].([]any)[0].(map[string]any)
	}
	for _, tc := range []struct {
		name, field string
		set         func(m map[string]any)
	}{
		{"order id", "data.order.id", func(m map[string]any) { obj(m, "data", "order")["id"] = "48\u000197" }},
		{"channel refnum", "data.order.channel_refnum", func(m map[string]any) { obj(m, "data", "order")["channel_refnum"] = "R\u00024" }},
		{"tracking number", "tracking_number", func(m map[string]any) { pkg(m)["tracking_number"] = "ZX\u001b29" }},
		{"carrier name", "carrier_name", func(m map[string]any) { pkg(m)["carrier_name"] = "Will\uFFFECall" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub := &recPub{}
			s, err := New(testConfig(), pub, nil, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, "/orders", bytes.NewReader(edit(t, seed(t), tc.set)))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", "Bearer "+testRetailOPSKey)
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, r)
			resp := decodeEvents(t, w.Body.Bytes())
			for _, m := range pub.msgs {
				req, _ := messages.DecodeSettlementRequest(m.Payload)
				t.Errorf("published %s (answer %d %+v): OrderId %q", m.UUID, w.Code, resp, req.OrderID())
			}
			if len(resp.Events) == 0 || !strings.Contains(strings.Join(append(resp.Events[0].DiagnosticData, resp.Events[0].ErrorMessage), " "), tc.field) {
				t.Errorf("answer %d %+v: want an error event naming %s", w.Code, resp, tc.field)
			}
		})
	}
}

// TestRetailOPSBodyOfInvalidUTF8IsRefused: encoding/json reads invalid
// UTF-8 in a string as U+FFFD without a word, so order ids "48\xfe97" and
// "48\xff97" (two orders to the sender) became one order "48\uFFFD97" and
// one requestId: the second webhook was answered 200 and taken by the
// worker for a repeat of the first, its capture never made. JSON is UTF-8
// (RFC 8259): such a body is MALFORMED_JSON, nothing published.
func TestRetailOPSBodyOfInvalidUTF8IsRefused(t *testing.T) {
	for _, order := range []string{"48\xfe97", "48\xff97"} {
		pub := &recPub{}
		s, err := New(testConfig(), pub, nil, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		body := bytes.Replace(seed(t), []byte(`"id": 4897`), []byte(`"id": "`+order+`"`), 1)
		r := httptest.NewRequest(http.MethodPost, "/orders", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+testRetailOPSKey)
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		resp := decodeEvents(t, w.Body.Bytes())
		for _, m := range pub.msgs {
			t.Errorf("order %q: published %s (answer %d %+v)", order, m.UUID, w.Code, resp)
		}
		if w.Code != http.StatusBadRequest || len(resp.Events) != 1 || resp.Events[0].ErrorCode != ErrMalformedJSON {
			t.Errorf("order %q: answer %d %+v, want 400 MALFORMED_JSON", order, w.Code, resp)
		}
	}
}

// TestRetailOPSLoneSurrogateIsRefused: encoding/json reads a lone
// surrogate escape (\ud800, \udbff) as U+FFFD without a word, as it reads
// invalid UTF-8 (TestRetailOPSBodyOfInvalidUTF8IsRefused): order ids
// "48\ud80097" and "48\udbff97" (two orders to the sender) would become
// one order "48\uFFFD97" and one requestId. Nothing is published.
func TestRetailOPSLoneSurrogateIsRefused(t *testing.T) {
	for _, order := range []string{`48\ud80097`, `48\udbff97`} {
		pub := &recPub{}
		s, err := New(testConfig(), pub, nil, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		body := bytes.Replace(seed(t), []byte(`"id": 4897`), []byte(`"id": "`+order+`"`), 1)
		r := httptest.NewRequest(http.MethodPost, "/orders", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+testRetailOPSKey)
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		resp := decodeEvents(t, w.Body.Bytes())
		for _, m := range pub.msgs {
			req, _ := messages.DecodeSettlementRequest(m.Payload)
			t.Errorf("order %s: published %s (answer %d %+v): OrderId %q", order, m.UUID, w.Code, resp, req.OrderID())
		}
		if w.Code != http.StatusBadRequest || len(resp.Events) == 0 {
			t.Errorf("order %s: answer %d %+v, want 400 with an error event", order, w.Code, resp)
		}
	}
}
