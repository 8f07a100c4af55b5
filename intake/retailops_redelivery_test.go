package intake

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rs/zerolog"
)

// TestRetailOPSRedeliveryInAnotherFormPublishesTheSameRequest: RetailOPS
// redelivers order_settle_payment after a timeout or a 5xx, serialized
// again: its shipments and packages may come in another order (they are
// lists read from a database), a date in another offset. The requestId
// stayed the same, but the published body did not (ShipmentCount numbered
// the packages as listed, ShippedDate copied as written), and the worker
// parks a known requestId whose body differs — "requestId ... was already
// used by a different request; this one was not settled (send it with a
// new requestId)", advice that captures the money a second time. A
// redelivery that changes no money must publish the very same request.
func TestRetailOPSRedeliveryInAnotherFormPublishesTheSameRequest(t *testing.T) {
	pkg := func(id any, date, tracking string) map[string]any {
		return map[string]any{"id": id, "date_shipped": date, "tracking_number": tracking,
			"carrier_name": "UPS", "carrier_class_name": "Ground"}
	}
	withShipments := func(ships ...map[string]any) func(m map[string]any) {
		return func(m map[string]any) {
			list := make([]any, len(ships))
			for i, s := range ships {
				list[i] = s
			}
			obj(m, "data", "order")["shipments"] = list
		}
	}
	ship := func(id any, pkgs ...map[string]any) map[string]any {
		list := make([]any, len(pkgs))
		for i, p := range pkgs {
			list[i] = p
		}
		return map[string]any{"id": id, "packages": list}
	}
	first := withShipments(
		ship(100, pkg(370, "2016-04-08T21:13:11Z", "T370"), pkg(371, "2016-04-09T10:00:00Z", "T371")),
		ship(101, pkg(372, "2016-04-10T08:30:00Z", "T372")))
	for _, tc := range []struct {
		name string
		set  func(m map[string]any)
	}{
		{"shipments in another order", withShipments(
			ship(101, pkg(372, "2016-04-10T08:30:00Z", "T372")),
			ship(100, pkg(370, "2016-04-08T21:13:11Z", "T370"), pkg(371, "2016-04-09T10:00:00Z", "T371")))},
		{"packages in another order", withShipments(
			ship(100, pkg(371, "2016-04-09T10:00:00Z", "T371"), pkg(370, "2016-04-08T21:13:11Z", "T370")),
			ship(101, pkg(372, "2016-04-10T08:30:00Z", "T372")))},
		{"dates in another offset", withShipments(
			ship(100, pkg(370, "2016-04-08T21:13:11+00:00", "T370"), pkg(371, "2016-04-09T12:00:00+02:00", "T371")),
			ship(101, pkg(372, "2016-04-10T08:30:00.000Z", "T372")))},
		{"ids as strings", withShipments(
			ship("100", pkg("370", "2016-04-08T21:13:11Z", "T370"), pkg("371", "2016-04-09T10:00:00Z", "T371")),
			ship("101", pkg("372", "2016-04-10T08:30:00Z", "T372")))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub := &recPub{}
			s, err := New(testConfig(), pub, nil, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			for _, body := range [][]byte{edit(t, seed(t), first), edit(t, seed(t), tc.set)} {
				r := httptest.NewRequest(http.MethodPost, "/orders", bytes.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("Authorization", "Bearer "+testRetailOPSKey)
				w := httptest.NewRecorder()
				s.Handler().ServeHTTP(w, r)
				if resp := decodeEvents(t, w.Body.Bytes()); w.Code != http.StatusOK || len(resp.Events) != 0 {
					t.Fatalf("answer %d %+v", w.Code, resp)
				}
			}
			if len(pub.msgs) != 2 || pub.msgs[0].UUID != pub.msgs[1].UUID {
				t.Fatalf("published %d messages, want the same requestId twice", len(pub.msgs))
			}
			if a, b := pub.msgs[0].Payload, pub.msgs[1].Payload; !bytes.Equal(a, b) {
				t.Fatalf("the redelivery published another body under requestId %s (the worker parks it):\nfirst:  %s\nsecond: %s", pub.msgs[0].UUID, a, b)
			}
			for _, h := range []string{headerStoreID, headerTenderType, headerOriginalAuthAmount} {
				if a, b := pub.msgs[0].Metadata.Get(h), pub.msgs[1].Metadata.Get(h); a != b {
					t.Errorf("header %s differs: %q vs %q", h, a, b)
				}
			}
		})
	}
}
