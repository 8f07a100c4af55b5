package intake

import (
	"reflect"
	"testing"
)

// TestEnvelopeKeys pins what the key walker of decodeEnvelope
// (envelopeKeys) answers on the bodies of
// TestRetailOPSKeysTwiceOrInAnotherCase and
// TestRetailOPSMalformedArrayElementIsRefused and more that test its
// corners: a flexScalar holding an object (read whole), keys in another
// case in additional properties (skipped), Unicode case folding (the
// Kelvin sign folds to k), bodies that are not JSON (left to the decoder:
// no error here). The wants are those of checkKeys, the walker it
// replaced, which a differential fuzz test found no body to answer
// otherwise. A want of "" is no error.
func TestEnvelopeKeys(t *testing.T) {
	tests := []struct{ body, want string }{
		{``, ``},
		{` `, ``},
		{`null`, ``},
		{`1`, ``},
		{`"x"`, ``},
		{`[]`, ``},
		{`{}`, ``},
		{`[1 x]`, ``},
		{`{"a"`, ``},
		{`{"a":`, ``},
		{`{,}`, ``},
		{`}`, ``},
		{`<order/>`, ``},
		{"{\"version\": \"1\", \"action\": \"order_settle_payment\", \"data\": {\"channel\": {\"id\": \"21\"}, \"order\": {\"id\": \"K-1\", \"payment_series_id\": \"3\",\n\t  \"payment_status\": {\"by_account\": [{\"id\": \"1\", \"success\": 1, \"captures_are_external\": 1, \"available\": 35, \"charged\": 35, \"captured_elsewhere\": 5, \"note\": {\"id\": 1, \"ID\": 2}}]}}}}", ``},
		{`{"data":{"order":{"payment_status":{"by_account":[{"available": 10, "charged": 35, "available": 35}]}}}}`, `the key "available" is twice in one object (data.order.payment_status.by_account[0].available): which one is meant cannot be told`},
		{`{"data":{"order":{"payment_status":{"by_account":[{"available": 35, "captured": 0, "Captured": 25}]}}}}`, `the key "Captured" (data.order.payment_status.by_account[0].Captured) differs from "captured" only in case: which one is meant cannot be told`},
		{`{"data":{"order":{"payment_status":{"by_account":[{"id":1},{"AVAILABLE": 35}]}}}}`, `the key "AVAILABLE" (data.order.payment_status.by_account[1].AVAILABLE) differs from "available" only in case: which one is meant cannot be told`},
		{`{"data":{"order":{"id": "K-1", "id": "K-2"}}}`, `the key "id" is twice in one object (data.order.id): which one is meant cannot be told`},
		{`{"action": "a", "action": "a"}`, `the key "action" is twice in one object (action): which one is meant cannot be told`},
		{`{"Action": "a"}`, `the key "Action" (Action) differs from "action" only in case: which one is meant cannot be told`},
		{`{"ACTION": "a", "action": "a"}`, `the key "ACTION" (ACTION) differs from "action" only in case: which one is meant cannot be told`},
		{`{"action": "a", "ACTION": "a"}`, `the key "ACTION" (ACTION) differs from "action" only in case: which one is meant cannot be told`},
		{`{"version":{"Version":1,"version":2}}`, ``},
		{`{"version":[1,1]}`, ``},
		{`{"version":{"a":[1 x]}}`, ``},
		{`{"data":{"order":{"shipments":[1 x]}}}`, ``},
		{`{"data":{"order":{"shipments":[{} x]}}}`, ``},
		{`{"data":{"order":{"shipments":[{"packages":[1 x]}]}}}`, ``},
		{`{"data":{"order":{"payment_status":{"by_account":[{"id":1},]}}}}`, ``},
		{`{"data":{"order":{"shipments":[tru]}}}`, ``},
		{`{"data":{"order":{"shipments":[1,`, ``},
		{`{"data":{"order":{"shipments":[{"packages":[{"id":1,"ID":2}]}]}}}`, `the key "ID" (data.order.shipments[0].packages[0].ID) differs from "id" only in case: which one is meant cannot be told`},
		{`{"data":{"order":{"shipments":[{"packages":[{"tracking_number":1,"tracking_number":2}]}]}}}`, `the key "tracking_number" is twice in one object (data.order.shipments[0].packages[0].tracking_number): which one is meant cannot be told`},
		{`{"data":{"channel":{"id":1,"id":2}}}`, `the key "id" is twice in one object (data.channel.id): which one is meant cannot be told`},
		{`{"data":{"channel":{"Id":1}}}`, `the key "Id" (data.channel.Id) differs from "id" only in case: which one is meant cannot be told`},
		{`{"data":{"channel":[{"id":1,"id":2}]}}`, ``},
		{`{"data":{"order":{"channel_payment":{"id":1,"id":2}}}}`, `the key "id" is twice in one object (data.order.channel_payment.id): which one is meant cannot be told`},
		{`{"data":{"order":{"channel_payment":null,"channel_payment":null}}}`, `the key "channel_payment" is twice in one object (data.order.channel_payment): which one is meant cannot be told`},
		{`{"data":{"order":{"payment_status":{"By_Account":[]}}}}`, `the key "By_Account" (data.order.payment_status.By_Account) differs from "by_account" only in case: which one is meant cannot be told`},
		{`{"extra":{"id":1,"id":1},"Extra":[1,{"a":1,"a":2}]}`, ``},
		{`{"extra":[1 x]}`, ``},
		{`{"extra":{"a" 1}}`, ``},
		{`{"integration_auth_token":"k","integration_auth_token":"k"}`, `the key "integration_auth_token" is twice in one object (integration_auth_token): which one is meant cannot be told`},
		{`{"Integration_Auth_Token":"k"}`, `the key "Integration_Auth_Token" (Integration_Auth_Token) differs from "integration_auth_token" only in case: which one is meant cannot be told`},
		{`{"data":{"order":{"id":"K"}}} {"data":{}}`, ``},
		{`{"data":{"order":{"id":"K"}}} x`, ``},
		{`{"\u212a":1}`, ``},
		{`{"data":{"order":{"shipments":[{"pac\u212aages":[]}]}}}`, `the key "pacKages" (data.order.shipments[0].pacKages) differs from "packages" only in case: which one is meant cannot be told`},
		{`{"data":{"order":{"shipments":[{"pac\u212bages":[]}]}}}`, ``},
		{`{"data":{"order":{"\u0130d":1}}}`, ``},
	}
	for _, tt := range tests {
		err := envelopeKeys.Check([]byte(tt.body), reflect.TypeFor[settleEnvelope]())
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("body %q: %v, want no error", tt.body, err)
		case tt.want != "" && err == nil:
			t.Errorf("body %q: no error, want %q", tt.body, tt.want)
		case tt.want != "" && err.Error() != tt.want:
			t.Errorf("body %q:\n got %q\nwant %q", tt.body, err, tt.want)
		}
	}
}
