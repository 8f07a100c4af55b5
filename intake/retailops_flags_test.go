package intake

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"
)

// recPub records what would be published and confirms everything.
type recPub struct {
	mu   sync.Mutex
	msgs []*message.Message
}

func (p *recPub) Publish(_ context.Context, _, _ string, m *message.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, m)
	return nil
}

// TestRetailOPSAccountWithoutAClearCapturesAreExternalIsAnError: every
// field of the seed is listed under "Optional Parameters". An order whose
// payment account omitted captures_are_external (or sent it in a form not
// read as a boolean, such as 1.0) was skipped as "captured by RetailOPS
// itself" and answered 200 {"events": []}, the answer to "published and
// confirmed": RetailOPS recorded success and nothing was captured. It is an
// error event now, naming the field, and nothing is published; so is a
// success flag that is neither yes nor no.
func TestRetailOPSAccountWithoutAClearCapturesAreExternalIsAnError(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(acc map[string]any)
	}{
		{"absent", func(acc map[string]any) { delete(acc, "captures_are_external") }},
		{"1.0", func(acc map[string]any) { acc["captures_are_external"] = json.Number("1.0") }},
		{"yes", func(acc map[string]any) { acc["captures_are_external"] = "yes" }},
		{"success 1.0", func(acc map[string]any) { acc["success"] = json.Number("1.0") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub := &recPub{}
			s, err := New(testConfig(), pub, nil, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			body := edit(t, seed(t), func(m map[string]any) {
				order := obj(m, "data", "order")
				tc.set(order["channel_payment"].(map[string]any))
				for _, a := range obj(order, "payment_status")["by_account"].([]any) {
					tc.set(a.(map[string]any))
				}
			})
			r := httptest.NewRequest(http.MethodPost, "/orders", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", "Bearer "+testRetailOPSKey)
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, r)
			resp := decodeEvents(t, w.Body.Bytes())
			if len(pub.msgs) != 0 {
				t.Fatalf("published %d request(s) for an account whose flags are unclear", len(pub.msgs))
			}
			if len(resp.Events) == 0 {
				t.Fatalf("answered %d %s: RetailOPS reads it as settled", w.Code, strings.TrimSpace(w.Body.String()))
			}
			want := "captures_are_external"
			if strings.HasPrefix(tc.name, "success") {
				want = "success"
			}
			if e := resp.Events[0]; (e.ErrorCode != ErrMissingField && e.ErrorCode != ErrInvalidField) || !strings.Contains(e.ErrorMessage, want) {
				t.Errorf("event %+v, want MISSING_FIELD or INVALID_FIELD naming %s", e, want)
			}
		})
	}
}
