package handlers

import (
	"bytes"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// TestRequestsTakesOnlyTheDecodeOfTheStoredBytes: Requests gives the
// status handler a request only when it was decoded from exactly the
// settlement's stored bytes and content type, once; anything else is a
// miss, which decodes the stored request as before.
func TestRequestsTakesOnlyTheDecodeOfTheStoredBytes(t *testing.T) {
	key := store.Key{Provider: "radial", RequestID: "req-1"}
	body := encodeXML(t, testRequest())
	other := testRequest()
	other.ClientContext = "cc-2"
	otherBody := encodeXML(t, other)
	req, err := messages.DecodeSettlementRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	stored := store.Settlement{Key: key, Request: body, ContentType: ContentTypeXML}
	tests := []struct {
		name string
		put  func(c *Requests)
		s    store.Settlement
		want bool
	}{
		{"same bytes and content type", func(c *Requests) { c.put(key, body, ContentTypeXML, req) }, stored, true},
		{"nothing kept", func(*Requests) {}, stored, false},
		{"kept for other bytes", func(c *Requests) { c.put(key, otherBody, ContentTypeXML, req) }, stored, false},
		{"kept under another content type", func(c *Requests) { c.put(key, body, "text/xml", req) }, stored, false},
		{"kept for another request", func(c *Requests) { c.put(store.Key{Provider: "radial", RequestID: "req-2"}, body, ContentTypeXML, req) }, stored, false},
		{"stored bytes emptied (retention)", func(c *Requests) { c.put(key, body, ContentTypeXML, req) },
			store.Settlement{Key: key, ContentType: ContentTypeXML}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewRequests(4)
			tc.put(c)
			if got := c.take(tc.s); (got != nil) != tc.want {
				t.Fatalf("take = %v, want a request: %v", got, tc.want)
			}
			if got := c.take(tc.s); got != nil {
				t.Fatal("a second take found the request again; want it taken out")
			}
		})
	}
}

// TestRequestsIsBounded: statuses that never come to this process (another
// replica took them) cannot grow Requests past its bound; the oldest go
// first, and nil or zero Requests hold nothing.
func TestRequestsIsBounded(t *testing.T) {
	req := testRequest()
	body := encodeXML(t, req)
	c := NewRequests(3)
	keys := make([]store.Key, 10)
	for i := range keys {
		keys[i] = store.Key{Provider: "radial", RequestID: "req-" + string(rune('a'+i))}
		c.put(keys[i], body, ContentTypeXML, req)
		c.put(keys[i], body, ContentTypeXML, req) // again: no second slot
		if len(c.m) > 3 {
			t.Fatalf("after %d puts Requests holds %d, want at most 3", i+1, len(c.m))
		}
	}
	for i, k := range keys {
		got := c.take(store.Settlement{Key: k, Request: body, ContentType: ContentTypeXML})
		if want := i >= len(keys)-3; (got != nil) != want {
			t.Errorf("take(%s) = %v, want kept: %v (the newest three)", k.RequestID, got, want)
		}
	}
	var none *Requests
	none.put(keys[0], body, ContentTypeXML, req)
	if none.take(store.Settlement{Key: keys[0], Request: body, ContentType: ContentTypeXML}) != nil {
		t.Error("nil Requests returned a request")
	}
	var zero Requests
	zero.put(keys[0], body, ContentTypeXML, req)
	if zero.take(store.Settlement{Key: keys[0], Request: body, ContentType: ContentTypeXML}) != nil {
		t.Error("zero Requests returned a request")
	}
}

// TestOurStatusIsTheSameFromRequests: our event is the same whether the
// status handler takes the request from Requests or decodes the stored
// bytes, and a request kept for other bytes than the stored ones is not
// used.
func TestOurStatusIsTheSameFromRequests(t *testing.T) {
	body := encodeXML(t, testRequest())
	s := store.Settlement{Key: store.Key{Provider: "radial", RequestID: "req-1"}, StoreID: "S1", TenderType: "VC",
		Request: body, ContentType: ContentTypeXML}
	st := &messages.PaymentSettlementStatus{SettlementStatus: messages.StatusRejected, DeclineReason: "declined", TenderType: "VC"}

	decoded := (&ProviderStatus{}).ourStatus(s, st)
	h := &ProviderStatus{Requests: NewRequests(4)}
	req, err := messages.DecodeSettlementRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	h.Requests.put(s.Key, body, ContentTypeXML, req)
	if got := h.ourStatus(s, st); !reflect.DeepEqual(got, decoded) {
		t.Fatalf("from Requests:\n%+v\ndecoded:\n%+v", got, decoded)
	}

	// A request kept for other bytes (its ClientContext differs) must
	// not make our event: the stored request does.
	other := testRequest()
	other.ClientContext = "someone-else"
	h.Requests.put(s.Key, encodeXML(t, other), ContentTypeXML, other)
	if got := h.ourStatus(s, st); got.ClientContext != "cc-1" || !reflect.DeepEqual(got, decoded) {
		t.Fatalf("with a request kept for other bytes our event has ClientContext %q, want the stored request's cc-1", got.ClientContext)
	}
}

// TestRequestsKeepsAnAcknowledgedRowForOneStatus: Requests keeps the row
// the settlement handler recorded acknowledged only when a status could be
// applied to it (acknowledged, not parked, our correlation id, its request
// body), gives it once and only to a status it matches, forgets it with
// its entry (taken, put again, pushed out) and holds no more rows than
// entries.
func TestRequestsKeepsAnAcknowledgedRowForOneStatus(t *testing.T) {
	row := func(id string) store.Settlement {
		key := store.Key{Provider: "radial", RequestID: id}
		return store.Settlement{Key: key, CorrelationID: correlationID(key, nil), State: store.StateAcknowledged,
			Request: encodeXML(t, testRequest()), ContentType: ContentTypeXML}
	}
	always := func(store.Settlement) bool { return true }
	has := func(c *Requests, s store.Settlement) bool {
		_, _, ok := c.awaitedRow(s.CorrelationID, always)
		return ok
	}
	t.Run("kept only when a status could be applied to it", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			edit func(*store.Settlement)
			want bool
		}{
			{"acknowledged", func(*store.Settlement) {}, true},
			{"parked", func(s *store.Settlement) { s.ParkedReason = "parked" }, false},
			{"submitting", func(s *store.Settlement) { s.State = store.StateSubmitting }, false},
			{"settled", func(s *store.Settlement) { s.State = store.StateSettled }, false},
			{"no request body (unreadable)", func(s *store.Settlement) { s.Request = nil }, false},
			{"legacy correlation id", func(s *store.Settlement) { s.CorrelationID = "cc-1" }, false},
			{"another body than the one decoded here", func(s *store.Settlement) { s.Request = append(s.Request, ' ') }, false},
			{"another content type", func(s *store.Settlement) { s.ContentType = "text/xml" }, false},
		} {
			c := NewRequests(4)
			s := row("req-1")
			c.put(s.Key, s.Request, s.ContentType, testRequest())
			tc.edit(&s)
			c.acknowledged(s)
			if got := has(c, s); got != tc.want {
				t.Errorf("%s: kept %v, want %v", tc.name, got, tc.want)
			}
		}
	})
	t.Run("once, to a status it matches", func(t *testing.T) {
		c := NewRequests(4)
		s := row("req-1")
		c.acknowledged(s)
		if has(c, s) {
			t.Fatal("a row was kept with no request decoded here")
		}
		c.put(s.Key, s.Request, s.ContentType, testRequest())
		c.acknowledged(s)
		if _, _, ok := c.awaitedRow(s.CorrelationID, func(store.Settlement) bool { return false }); ok {
			t.Fatal("a row the status does not match was given")
		}
		if _, _, ok := c.awaitedRow("cc-other", always); ok {
			t.Fatal("a row was given for another correlation id")
		}
		got, req, ok := c.awaitedRow(s.CorrelationID, always)
		if !ok || got.Key != s.Key || req == nil {
			t.Fatalf("awaitedRow = %v, %v; want req-1's row", got.Key, ok)
		}
		if has(c, s) {
			t.Error("the row was given twice")
		}
	})
	t.Run("forgotten with its entry", func(t *testing.T) {
		s := row("req-1")
		req := testRequest()
		for name, forget := range map[string]func(c *Requests){
			"taken":                  func(c *Requests) { c.take(s) },
			"put again (a new call)": func(c *Requests) { c.put(s.Key, s.Request, ContentTypeXML, req) },
		} {
			c := NewRequests(4)
			c.put(s.Key, s.Request, ContentTypeXML, req)
			c.acknowledged(s)
			forget(c)
			if has(c, s) {
				t.Errorf("%s: the row is still given", name)
			}
		}
	})
	t.Run("kept when the call is recorded, replaced when acknowledged", func(t *testing.T) {
		submitting := func() store.Settlement { s := row("req-1"); s.State = store.StateSubmitting; return s }
		for _, tc := range []struct {
			name string
			edit func(*store.Settlement)
			body []byte // the delivered body, when not the stored one
			want bool
		}{
			{"submitting", func(*store.Settlement) {}, nil, true},
			{"parked", func(s *store.Settlement) { s.ParkedReason = "parked" }, nil, false},
			{"acknowledged (not a call being recorded)", func(s *store.Settlement) { s.State = store.StateAcknowledged }, nil, false},
			{"no request body (unreadable)", func(s *store.Settlement) { s.Request = nil }, nil, false},
			{"legacy correlation id", func(s *store.Settlement) { s.CorrelationID = "cc-1" }, nil, false},
			{"another body delivered than the one stored", func(*store.Settlement) {}, []byte("<other/>"), false},
			{"another content type", func(s *store.Settlement) { s.ContentType = "text/xml" }, nil, false},
		} {
			c := NewRequests(4)
			s := submitting()
			tc.edit(&s)
			body := tc.body
			if body == nil {
				body = row("req-1").Request
			}
			c.called(s, body, ContentTypeXML, testRequest())
			got, req, ok := c.awaitedRow(s.CorrelationID, always)
			if ok != tc.want || (ok && (got.State != store.StateSubmitting || req == nil)) {
				t.Errorf("%s: kept %v (%s), want %v", tc.name, ok, got.State, tc.want)
			}
		}
		c := NewRequests(4)
		s := submitting()
		c.called(s, s.Request, ContentTypeXML, testRequest())
		c.acknowledged(row("req-1"))
		if got, _, ok := c.awaitedRow(s.CorrelationID, always); !ok || got.State != store.StateAcknowledged || len(c.byCorrelation) != 0 {
			t.Errorf("after the acknowledged write: row %v (%s), %d indexed; want the acknowledged row, given once", ok, got.State, len(c.byCorrelation))
		}
		c.called(s, s.Request, ContentTypeXML, testRequest())
		c.unkeep(s.Key)
		if has(c, s) {
			t.Error("unkeep left the row")
		}
		if c.take(s) == nil {
			t.Error("unkeep dropped the decoded request too")
		}
	})
	t.Run("bounded", func(t *testing.T) {
		c := NewRequests(3)
		rows := make([]store.Settlement, 10)
		for i := range rows {
			rows[i] = row("req-" + string(rune('a'+i)))
			c.put(rows[i].Key, rows[i].Request, ContentTypeXML, testRequest())
			c.acknowledged(rows[i])
			if len(c.m) > 3 || len(c.byCorrelation) > 3 {
				t.Fatalf("after %d rows Requests holds %d entries and %d rows, want at most 3", i+1, len(c.m), len(c.byCorrelation))
			}
		}
		for i, s := range rows {
			if want := i >= len(rows)-3; has(c, s) != want {
				t.Errorf("row %s kept: %v, want %v (the newest three)", s.RequestID, !want, want)
			}
		}
		var none *Requests
		none.acknowledged(rows[0])
		if has(none, rows[0]) {
			t.Error("nil Requests gave a row")
		}
	})
}

// TestInProcessRowsStayWithinAMiB: the rows Requests keeps for the status
// handler (acknowledged) add at most 1 MiB to a full Requests of the
// worker's size (requestsKept, 1024) over the decoded requests it holds
// anyway: the backlog's peak RSS target is 64 MiB, measured at 63-65 MiB
// before the rows were kept. Each row is as the store returns it: its own
// copy of the request body, its headers and refs. A row that keeps the
// body, headers and refs a status does not need (the decoded request is
// in the entry) holds ~1.8 KB each, 1.8 MiB in all.
func TestInProcessRowsStayWithinAMiB(t *testing.T) {
	const n = 1024
	req := testRequest()
	body := encodeXML(t, req)
	c := NewRequests(n)
	// row is settlement i as the store returns it, allocated afresh.
	row := func(i int) store.Settlement {
		key := store.Key{Provider: "radial", RequestID: fmt.Sprintf("req-%06d", i)}
		return store.Settlement{Key: key, Fingerprint: strings.Repeat("f", 64), StoreID: strings.Clone("STORE1"), OrderID: strings.Clone("ORD-1"),
			TenderType: strings.Clone("VC"), SettlementType: messages.SettlementDebit, Amount: strings.Clone("100.00"), Currency: strings.Clone("USD"),
			ClientContext: strings.Clone("cc-1"), CorrelationID: correlationID(key, nil), State: store.StateAcknowledged, Attempts: 1,
			Refs:    map[string]string{"call_not_sent": "false", "call_sent_at": "2026-12-07T17:43:17.494929432Z"},
			Request: bytes.Clone(body), ContentType: ContentTypeXML,
			Headers: map[string]string{HeaderStoreID: strings.Clone("STORE1"), HeaderTenderType: strings.Clone("VC")}}
	}
	for i := range n {
		key := store.Key{Provider: "radial", RequestID: fmt.Sprintf("req-%06d", i)}
		c.put(key, body, ContentTypeXML, req)
	}
	heap := func() int64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	before := heap()
	for i := range n {
		c.acknowledged(row(i))
	}
	added := heap() - before
	if len(c.byCorrelation) != n {
		t.Fatalf("%d rows kept, want %d", len(c.byCorrelation), n)
	}
	if added > 1<<20 {
		t.Errorf("%d rows add %d bytes (%d each), want at most 1 MiB", n, added, added/n)
	}
	t.Logf("%d rows add %d bytes (%d each)", n, added, added/n)
	runtime.KeepAlive(c)
}
