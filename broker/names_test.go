package broker_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/settlement-worker/settlement-worker/broker"
)

func TestReadySince(t *testing.T) {
	at := time.Date(2026, 12, 5, 10, 0, 0, 123456789, time.UTC)
	ts := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		md   map[string]string
		want time.Time
		ok   bool
	}{
		{"the worker's header first", map[string]string{broker.HeaderReadyAt: broker.ReadyAt(at), broker.MetaTimestamp: ts.Format(time.RFC3339Nano)}, at, true},
		{"else the AMQP timestamp", map[string]string{broker.MetaTimestamp: ts.Format(time.RFC3339Nano)}, ts, true},
		{"an unparseable header falls back", map[string]string{broker.HeaderReadyAt: "soon", broker.MetaTimestamp: ts.Format(time.RFC3339Nano)}, ts, true},
		{"neither", map[string]string{"store_id": "S1"}, time.Time{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := broker.ReadySince(c.md)
			if ok != c.ok || !got.Equal(c.want) {
				t.Errorf("ReadySince = %v, %v; want %v, %v", got, ok, c.want, c.ok)
			}
		})
	}
}

// A store id too long for a routing key is cut to AMQP's 255 bytes at a
// character boundary (TestStatusEventWithLongStoreOrRequestIDIsPublished).
func TestStatusRoutingKeyFitsAShortString(t *testing.T) {
	for _, id := range []string{strings.Repeat("a", 100), strings.Repeat("店", 80), strings.Repeat("😀", 100), strings.Repeat("é", 100)} {
		k := broker.StatusRoutingKey(id)
		if len(k) > broker.MaxShortString || !utf8.ValidString(k) || !strings.HasPrefix("settlement.status."+id, k) {
			t.Errorf("StatusRoutingKey(%d bytes) = %d bytes %q", len(id), len(k), k)
		}
	}
	if k := broker.StatusRoutingKey("S1.a#b*"); k != "settlement.status.S1_a_b_" {
		t.Errorf("short key %q", k)
	}
}

// The worker routes a status by its store_id trimmed (handlers read the
// header with strings.TrimSpace): a store id written with white space
// (' S1', 'S1 ') names the same routing key, so that a status queue bound
// for it (ops publish --wait, ops tail --store) gets the store's events.
func TestStatusRoutingKeyTrimsTheStoreID(t *testing.T) {
	for _, id := range []string{" S1", "S1 ", "\tS1\n"} {
		if got, want := broker.StatusRoutingKey(id), broker.StatusRoutingKey("S1"); got != want {
			t.Errorf("StatusRoutingKey(%q) = %q, want %q", id, got, want)
		}
	}
}
