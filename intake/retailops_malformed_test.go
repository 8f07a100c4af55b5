package intake

import (
	"testing"
	"time"
)

// TestRetailOPSMalformedArrayElementIsRefused: checkKeys left a body that
// is not JSON to the decoder by returning nil at the failed read, and the
// array loop then asked for the next element, which failed the same way,
// forever: a 40-byte webhook ({"data":{"order":{"shipments":[1 x]}}}),
// before any auth key is looked at, kept a core busy and its handler never
// answered. Each body here must be refused by the decoder, promptly.
func TestRetailOPSMalformedArrayElementIsRefused(t *testing.T) {
	for _, body := range []string{
		`{"data":{"order":{"shipments":[1 x]}}}`,
		`{"data":{"order":{"shipments":[{} x]}}}`,
		`{"data":{"order":{"shipments":[{"packages":[1 x]}]}}}`,
		`{"data":{"order":{"payment_status":{"by_account":[{"id":1},]}}}}`,
		`{"data":{"order":{"shipments":[tru]}}}`,
		`{"data":{"order":{"shipments":[1,`,
	} {
		done := make(chan error, 1)
		go func() {
			_, err := decodeEnvelope([]byte(body))
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("decodeEnvelope(%s) = nil error, want the decoder's", body)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("decodeEnvelope(%s) has not returned after 5 s", body)
		}
	}
}
