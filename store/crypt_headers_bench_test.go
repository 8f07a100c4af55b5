package store

import (
	"testing"

	"github.com/settlement-worker/settlement-worker/messages"
)

// BenchmarkHeaderSealing is what sealing the recorded headers adds to a
// registration and to each read of a settlement: typical headers (none
// holding a card number: a scan, no copy) and one money header holding
// one (sealed and opened).
func BenchmarkHeaderSealing(b *testing.B) {
	keys, err := ParseKeyring("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", nil)
	if err != nil {
		b.Fatal(err)
	}
	e := &encrypted{keys: keys}
	key := Key{Provider: "paysafe", RequestID: "req-0123456789"}
	typical := map[string]string{"store_id": "STORE-0042", "tender_type": "VC", "original_authorization_amount": "1250.00",
		"authorization_id": "a1b2c3d4-e5f6-7890-abcd-ef0123456789", "x-trace": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	withPAN := map[string]string{"store_id": "STORE-0042", "tender_type": "VC", "original_authorization_amount": "1250.00",
		"authorization_id": "4111111111111111", "x-trace": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	for _, c := range []struct {
		name string
		h    map[string]string
	}{{"no card number", typical}, {"one card number", withPAN}} {
		stored, err := e.sealHeaders(key, c.h)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name+"/seal", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.sealHeaders(key, c.h); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/open", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.openHeaders(key, stored); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestMayHoldPANPassesEveryCardNumber: the scan that spares a value
// messages.MaskPANs lets through every value MaskPANs would mask.
func TestMayHoldPANPassesEveryCardNumber(t *testing.T) {
	for _, v := range []string{
		"4111111111111111", "card 4111 1111 1111 1111 here", "4111-1111-1111-1111", "4111.1111.1111.1111",
		"4111_1111_1111_1111", "4111/1111/1111/1111", "4111\t1111\t1111\t1111", "4111\u00a01111\u00a01111\u00a01111",
		"4111 - 1111 - 1111 - 1111", "x4111111111111111x", "378282246310005", "6011111111111117",
	} {
		if messages.MaskPANs(v) == v {
			t.Fatalf("MaskPANs(%q) masks nothing: not a case", v)
		}
		if !mayHoldPAN(v) {
			t.Errorf("mayHoldPAN(%q) = false, but MaskPANs masks it", v)
		}
	}
	for _, v := range []string{"", "VC", "STORE-0042", "1250.00", "a1b2c3d4-e5f6-7890-abcd-ef0123456789",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "123456789012"} {
		if mayHoldPAN(v) {
			t.Errorf("mayHoldPAN(%q) = true: a value without 13 digits together", v)
		}
	}
}
