package intake

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestRetailOPSMillionDigitNumbersAreRefusedCheaply: ids are bounded to 40
// digits only when written with an exponent, and amounts not at all, and
// both were bounded after their reading: a decimal's parse takes time that
// grows with the square of its digits, so one number of a million digits
// (a 1 MiB webhook) cost about 4 s at each of its several readings — an
// id is read for the log, the plan and each request — and a million-digit
// order id was then logged and echoed. A number literal longer than any
// id or amount is now refused as it is, unread: an error event, nothing
// published, within a second.
func TestRetailOPSMillionDigitNumbersAreRefusedCheaply(t *testing.T) {
	huge := json.Number("1" + strings.Repeat("7", 999_000))
	account := func(m map[string]any, key string) {
		// by_account only (it is read when present): the body stays under 1 MiB.
		order := obj(m, "data", "order")
		for _, a := range obj(order, "payment_status")["by_account"].([]any) {
			a.(map[string]any)[key] = huge
		}
	}
	tests := []struct {
		name, code string
		set        func(m map[string]any)
	}{
		{"order id", ErrInvalidField, func(m map[string]any) { obj(m, "data", "order")["id"] = huge }},
		{"order id, whole with a million zeros", ErrInvalidField, func(m map[string]any) {
			obj(m, "data", "order")["id"] = json.Number("4897." + strings.Repeat("0", 999_000))
		}},
		{"payment series id", ErrInvalidField, func(m map[string]any) { obj(m, "data", "order")["payment_series_id"] = huge }},
		{"channel id", ErrInvalidField, func(m map[string]any) { obj(m, "data", "channel")["id"] = huge }},
		// Not an id of the requests: left out of OriginatingSystemOrderId.
		{"channel refnum", "", func(m map[string]any) { obj(m, "data", "order")["channel_refnum"] = huge }},
		{"account id", ErrInvalidField, func(m map[string]any) { account(m, "id") }},
		{"available", ErrInvalidAmount, func(m map[string]any) { account(m, "available") }},
		{"authed", ErrInvalidAmount, func(m map[string]any) { account(m, "authed") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := &recPub{}
			s, err := New(testConfig(), pub, nil, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			body := edit(t, seed(t), tt.set)
			r := httptest.NewRequest(http.MethodPost, ordersPath, bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", "Bearer "+testRetailOPSKey)
			w := httptest.NewRecorder()
			done := make(chan struct{})
			start := time.Now()
			go func() { defer close(done); s.Handler().ServeHTTP(w, r) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatalf("a %d-byte webhook with a million-digit %s was not answered within 5s", len(body), tt.name)
			}
			took := time.Since(start)
			resp := decodeEvents(t, w.Body.Bytes())
			codes := make([]string, len(resp.Events))
			for i, ev := range resp.Events {
				codes[i] = ev.ErrorCode
			}
			t.Logf("answered %d in %v: %v (%d bytes)", w.Code, took.Round(time.Millisecond), codes, w.Body.Len())
			switch {
			case tt.code == "" && (w.Code != http.StatusOK || len(resp.Events) != 0 || len(pub.msgs) != 1):
				t.Fatalf("answered %d %v with %d published; want 200, no event, one request", w.Code, codes, len(pub.msgs))
			case tt.code != "" && (w.Code != http.StatusOK || len(resp.Events) == 0 || codes[0] != tt.code || len(pub.msgs) != 0):
				t.Fatalf("answered %d %v with %d published; want 200, %s first, nothing published", w.Code, codes, len(pub.msgs), tt.code)
			}
			if took > 2*time.Second {
				t.Errorf("answered after %v; a refusal needs no parse", took.Round(time.Millisecond))
			}
			if w.Body.Len() > 64<<10 {
				t.Errorf("the answer is %d bytes: it echoes the number", w.Body.Len())
			}
		})
	}
}
