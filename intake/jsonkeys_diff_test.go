package intake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// envelopeBodies are webhook bodies that reach the key walker of
// decodeEnvelope: those of TestRetailOPSKeysTwiceOrInAnotherCase and
// TestRetailOPSMalformedArrayElementIsRefused and more that test its
// corners (flexScalar leaves holding objects, keys in another case in
// additional properties, malformed bodies).
var envelopeBodies = []string{
	``, ` `, `null`, `1`, `"x"`, `[]`, `{}`, `[1 x]`, `{"a"`, `{"a":`, `{,}`, `}`, `<order/>`,
	`{"version": "1", "action": "order_settle_payment", "data": {"channel": {"id": "21"}, "order": {"id": "K-1", "payment_series_id": "3",
	  "payment_status": {"by_account": [{"id": "1", "success": 1, "captures_are_external": 1, "available": 35, "charged": 35, "captured_elsewhere": 5, "note": {"id": 1, "ID": 2}}]}}}}`,
	`{"data":{"order":{"payment_status":{"by_account":[{"available": 10, "charged": 35, "available": 35}]}}}}`,
	`{"data":{"order":{"payment_status":{"by_account":[{"available": 35, "captured": 0, "Captured": 25}]}}}}`,
	`{"data":{"order":{"payment_status":{"by_account":[{"id":1},{"AVAILABLE": 35}]}}}}`,
	`{"data":{"order":{"id": "K-1", "id": "K-2"}}}`,
	`{"action": "a", "action": "a"}`, `{"Action": "a"}`, `{"ACTION": "a", "action": "a"}`, `{"action": "a", "ACTION": "a"}`,
	`{"version":{"Version":1,"version":2}}`, `{"version":[1,1]}`, `{"version":{"a":[1 x]}}`,
	`{"data":{"order":{"shipments":[1 x]}}}`,
	`{"data":{"order":{"shipments":[{} x]}}}`,
	`{"data":{"order":{"shipments":[{"packages":[1 x]}]}}}`,
	`{"data":{"order":{"payment_status":{"by_account":[{"id":1},]}}}}`,
	`{"data":{"order":{"shipments":[tru]}}}`,
	`{"data":{"order":{"shipments":[1,`,
	`{"data":{"order":{"shipments":[{"packages":[{"id":1,"ID":2}]}]}}}`,
	`{"data":{"order":{"shipments":[{"packages":[{"tracking_number":1,"tracking_number":2}]}]}}}`,
	`{"data":{"channel":{"id":1,"id":2}}}`, `{"data":{"channel":{"Id":1}}}`, `{"data":{"channel":[{"id":1,"id":2}]}}`,
	`{"data":{"order":{"channel_payment":{"id":1,"id":2}}}}`, `{"data":{"order":{"channel_payment":null,"channel_payment":null}}}`,
	`{"data":{"order":{"payment_status":{"By_Account":[]}}}}`,
	`{"extra":{"id":1,"id":1},"Extra":[1,{"a":1,"a":2}]}`, `{"extra":[1 x]}`, `{"extra":{"a" 1}}`,
	`{"integration_auth_token":"k","integration_auth_token":"k"}`, `{"Integration_Auth_Token":"k"}`,
	`{"data":{"order":{"id":"K"}}} {"data":{}}`, `{"data":{"order":{"id":"K"}}} x`,
	`{"\u212a":1}`, `{"data":{"order":{"shipments":[{"pac\u212aages":[]}]}}}`, `{"data":{"order":{"shipments":[{"pac\u212bages":[]}]}}}`, `{"data":{"order":{"\u0130d":1}}}`,
}

// oldEnvelopeKeys is the walk decodeEnvelope made before jsonkeys:
// checkKeys, its errNotJSON (the body left to the decoder) read as nil.
func oldEnvelopeKeys(body []byte) error {
	err := checkKeys(json.NewDecoder(bytes.NewReader(body)), reflect.TypeFor[settleEnvelope](), "")
	if errors.Is(err, errNotJSON) {
		return nil
	}
	return err
}

// sameEnvelopeKeys fails t unless the new walker and the old one give
// body the same result: nil, or errors of one type and text.
func sameEnvelopeKeys(t *testing.T, body []byte) {
	t.Helper()
	was := oldEnvelopeKeys(body)
	is := envelopeKeys.Check(body, reflect.TypeFor[settleEnvelope]())
	if describeErr(was) != describeErr(is) {
		t.Errorf("body %q:\nold %s\nnew %s", body, describeErr(was), describeErr(is))
	}
}

// describeErr is an error's type and text.
func describeErr(err error) string {
	if err == nil {
		return "nil"
	}
	return fmt.Sprintf("%T %q", err, err)
}

func TestEnvelopeKeysAsBefore(t *testing.T) {
	for _, body := range envelopeBodies {
		sameEnvelopeKeys(t, []byte(body))
	}
}

func FuzzEnvelopeKeysAsBefore(f *testing.F) {
	for _, body := range envelopeBodies {
		f.Add([]byte(body))
	}
	f.Fuzz(sameEnvelopeKeys)
}
