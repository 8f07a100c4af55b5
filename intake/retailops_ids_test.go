package intake

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rs/zerolog"
)

// TestRetailOPSIdWrittenAsAnotherNumberIsNotANewSettlement: the requestId
// is derived from the channel, order, payment series and account ids as
// written. JSON numbers 4897 and 4897.0 (or 4.897e3) are the same number,
// so a retry of the same webhook whose serializer wrote an id in another
// form derived another requestId for the same account: a second capture of
// the same money. Such a webhook must publish the seed's requestIds or
// nothing (an error event, naming the field).
func TestRetailOPSIdWrittenAsAnotherNumberIsNotANewSettlement(t *testing.T) {
	post := func(t *testing.T, s *Server, body []byte) (Response, int) {
		r := httptest.NewRequest(http.MethodPost, "/orders", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+testRetailOPSKey)
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		return decodeEvents(t, w.Body.Bytes()), w.Code
	}
	accounts := func(m map[string]any, f func(acc map[string]any)) {
		order := obj(m, "data", "order")
		f(order["channel_payment"].(map[string]any))
		for _, a := range obj(order, "payment_status")["by_account"].([]any) {
			f(a.(map[string]any))
		}
	}
	for _, tc := range []struct {
		name string
		set  func(m map[string]any)
	}{
		{"order id 4897.0", func(m map[string]any) { obj(m, "data", "order")["id"] = json.Number("4897.0") }},
		{"order id 4.897e3", func(m map[string]any) { obj(m, "data", "order")["id"] = json.Number("4.897e3") }},
		{"payment series 2572.00", func(m map[string]any) { obj(m, "data", "order")["payment_series_id"] = json.Number("2572.00") }},
		{"account id 6E0", func(m map[string]any) { accounts(m, func(a map[string]any) { a["id"] = json.Number("6E0") }) }},
		{"order id 4897.5, no whole number", func(m map[string]any) { obj(m, "data", "order")["id"] = json.Number("4897.5") }},
		{"channel id 21.0", func(m map[string]any) { obj(m, "data", "channel")["id"] = json.Number("21.0") }},
		{"order id 1e1000000, too many digits", func(m map[string]any) { obj(m, "data", "order")["id"] = json.Number("1e1000000") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub := &recPub{}
			s, err := New(testConfig(), pub, nil, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			if resp, code := post(t, s, seed(t)); code != http.StatusOK || len(resp.Events) != 0 || len(pub.msgs) != 1 {
				t.Fatalf("seed: %d %+v, %d published", code, resp, len(pub.msgs))
			}
			first := pub.msgs[0].UUID
			resp, code := post(t, s, edit(t, seed(t), tc.set))
			for _, m := range pub.msgs[1:] {
				if m.UUID != first {
					t.Fatalf("the same webhook with an id written as another number published requestId %s besides %s (answer %d %+v)", m.UUID, first, code, resp)
				}
			}
			if len(pub.msgs) == 1 && len(resp.Events) == 0 {
				t.Fatalf("nothing published and no error event: answered %d %+v", code, resp)
			}
		})
	}
}

// An id written with a large exponent is refused by its reading, not
// expanded: nine bytes (1e1000000) would otherwise become a million-digit
// id, logged with the order and carried to the requestId checks.
func TestFlexScalarIDBoundsItsDigits(t *testing.T) {
	for _, tc := range []struct {
		text string
		want string
		ok   bool
	}{
		{"4897", "4897", true},
		{"4.897e3", "4897", true},
		{"1e39", "1000000000000000000000000000000000000000", true},
		{"1e40", "1e40", false},
		{"1e1000000", "1e1000000", false},
		{"4897.5", "4897.5", false},
	} {
		got, ok := flexScalar{Text: tc.text, Set: true, Num: true}.id()
		if got != tc.want || ok != tc.ok {
			t.Errorf("id(%s) = %q, %v; want %q, %v", tc.text, got, ok, tc.want, tc.ok)
		}
	}
}
