package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// leakPAN is a Luhn-valid card number that is not the request's account:
// wherever it shows up in the worker's own words it was copied there from
// input (a header, a malformed body, a provider's answer).
const leakPAN = "4012888888881881"

// leaks reports whether s holds the card number's first ten digits, as
// written or with spaces or dashes inside (a cut that kept the digits
// before a truncation point leaks them too).
func leaks(s string) bool {
	norm := strings.NewReplacer(" ", "", "-", "").Replace(s)
	return strings.Contains(norm, leakPAN[:10])
}

const (
	spacedPAN = "4012 8888 8888 1881"
	dashedPAN = "4012-8888-8888-1881"
)

// leakCase is a delivery carrying a card number outside the account field.
type leakCase struct {
	name    string
	facts   providers.Facts
	body    func(t *testing.T) ([]byte, string)
	headers map[string]string
	setup   func(p *scripted)
}

// A card number a sender put in a malformed body was quoted by the parser's
// error (the XML parser quotes an entity, a character reference or an
// element name, the JSON decoder an unknown field's name), and that error
// went whole into the parked reason and the log line.
func TestCardNumbersInMalformedBodiesNeverReachReasonsNorLogs(t *testing.T) {
	xmlWith := func(t *testing.T, inv string) []byte {
		b := encodeXML(t, testRequest())
		return bytes.Replace(b, []byte("inv-1"), []byte(inv), 1)
	}
	runLeakCases(t, []leakCase{
		{name: "xml character reference", body: func(t *testing.T) ([]byte, string) {
			return xmlWith(t, "&#"+leakPAN+";"), ContentTypeXML
		}},
		{name: "xml entity with dashes", body: func(t *testing.T) ([]byte, string) { return xmlWith(t, "&"+dashedPAN+";"), ContentTypeXML }},
		{name: "xml element name", body: func(t *testing.T) ([]byte, string) {
			b := encodeXML(t, testRequest())
			return bytes.Replace(b, []byte("<InvoiceId>"), []byte("<I"+leakPAN+">"), 1), ContentTypeXML
		}},
		{name: "json unknown field", body: func(t *testing.T) ([]byte, string) {
			return []byte(`{"requestId":"req-1","card` + leakPAN + `":1}`), ContentTypeJSON
		}},
	})
}

// Card data must never reach a parked reason, a retry header, a status
// event's DeclineReason, the store's reasons and notes, nor a log line,
// whatever header or provider answer carried it in. A card number in a
// header the worker quotes when refusing it, or that a provider's error
// echoed (in any spacing; Miva and Frisbii mask none, Radial and Paysafe
// only unbroken runs), was copied there in full; one cut by a reason's
// bound kept up to 14 digits no mask could recognize.
func TestCardNumbersInHeadersAndProviderAnswersNeverReachReasonsNorLogs(t *testing.T) {
	spaced, dashed := spacedPAN, dashedPAN
	runLeakCases(t, []leakCase{
		{name: "authorization amount header, spaced", headers: map[string]string{HeaderOriginalAuthAmount: spaced}},
		{name: "authorization amount header, labelled", headers: map[string]string{HeaderOriginalAuthAmount: "card:" + leakPAN}},
		{name: "tender type header", facts: providers.Facts{RequireTenderType: true}, headers: map[string]string{HeaderTenderType: leakPAN}},
		{name: "tender type header, not required", headers: map[string]string{HeaderTenderType: leakPAN}},
		{name: "store id header", headers: map[string]string{HeaderStoreID: leakPAN}},
		{name: "store id header, spaced", headers: map[string]string{HeaderStoreID: "store " + spaced}},
		{name: "order id (a valid OrderId of 16 digits)", body: func(t *testing.T) ([]byte, string) {
			req := testRequest()
			req.PaymentContext.OrderID = leakPAN
			return encodeXML(t, req), ContentTypeXML
		}},
		{name: "provider money header", facts: providers.Facts{MoneyHeaders: []string{"authorization_id"}},
			headers: map[string]string{"authorization_id": leakPAN}},
		{name: "provider refusal echoing the card, spaced", setup: func(p *scripted) {
			p.settleErrs = []error{providers.PermanentError("05", "card "+spaced+" declined", nil)}
		}},
		{name: "provider refusal echoing the card, dashed", setup: func(p *scripted) {
			p.settleErrs = []error{providers.PermanentError("05", "card "+dashed+" declined", nil)}
		}},
		{name: "provider transient error echoing the card", setup: func(p *scripted) {
			p.confirmErrs = []error{providers.TransientError("", "timeout reading card "+spaced, nil)}
		}},
		{name: "provider error cut across the card", setup: func(p *scripted) {
			p.confirmErrs = []error{providers.TransientError("", strings.Repeat("x", 472)+" "+leakPAN, nil)}
		}},
	})
}

// A panic's value went whole into the log line and, cut to 300 bytes, into
// the parked reason on the message and the settlement: a card number it
// quoted (a reply the code did not expect) was copied there, or cut into
// a prefix of up to 14 digits no mask recognizes.
func TestCardNumbersInPanicsNeverReachReasonsNorLogs(t *testing.T) {
	spaced := spacedPAN
	runLeakCases(t, []leakCase{
		{name: "panic quoting the card", setup: func(p *scripted) { p.panicSettle, p.panicMsg = true, "bad reply for card "+spaced }},
		{name: "panic quoting the card past the cut", setup: func(p *scripted) { p.panicSettle, p.panicMsg = true, strings.Repeat("x", 286)+" "+leakPAN }},
	})
}

// runLeakCases delivers each case once and checks every output for the card
// number.
func runLeakCases(t *testing.T, cases []leakCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newScripted("miva", tc.facts)
			if tc.setup != nil {
				tc.setup(p)
			}
			r := newRig(t, p)
			var logs bytes.Buffer
			r.h.Log = zerolog.New(&logs)
			body, ct := encodeXML(t, testRequest()), ContentTypeXML
			if tc.body != nil {
				body, ct = tc.body(t)
			}
			msg := message.NewMessage("m-1", body)
			msg.Metadata.Set(broker.MetaContentType, ct)
			msg.Metadata.Set(HeaderStoreID, "STORE1")
			msg.Metadata.Set(HeaderTenderType, "VC")
			for k, v := range tc.headers {
				msg.Metadata.Set(k, v)
			}
			if err := r.h.HandleSafely(msg); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			sent := r.pub.take()
			if len(sent) == 0 {
				t.Fatal("nothing published: the case does not reach a reason")
			}
			for _, m := range sent {
				for _, h := range []string{HeaderParkedReason, HeaderLastError} {
					if v := m.msg.Metadata.Get(h); leaks(v) {
						t.Errorf("header %s of the message to %s holds the card number: %q", h, m.key, v)
					}
				}
				if strings.HasPrefix(m.key, statusQ) {
					st, err := messages.DecodeSettlementStatus(m.msg.Payload)
					if err != nil {
						t.Fatal(err)
					}
					if leaks(st.DeclineReason) {
						t.Errorf("status event's DeclineReason holds the card number: %q", st.DeclineReason)
					}
				}
			}
			key := store.Key{Provider: "miva", RequestID: "req-1"}
			if s, err := r.st.Get(context.Background(), key); err == nil {
				if leaks(s.DeclineReason) || leaks(s.ParkedReason) {
					t.Errorf("store reasons hold the card number: decline %q, parked %q", s.DeclineReason, s.ParkedReason)
				}
				hist, _ := r.st.History(context.Background(), key)
				if b, _ := json.Marshal(hist); leaks(string(b)) {
					t.Errorf("store history holds the card number: %s", b)
				}
			}
			if leaks(logs.String()) {
				t.Errorf("a log line holds the card number:\n%s", logs.String())
			}
		})
	}
}

// A field value a rule refuses is quoted in the rule cut to 40
// characters (messages' got), before any masking: a card number written
// past the 30th character was cut to a prefix of 10 digits or more that no
// mask recognizes, and went into the R's DeclineReason, the store and the
// log.
func TestCardNumbersInRefusedFieldsNeverReachReasonsNorLogs(t *testing.T) {
	withAmount := func(v string) func(t *testing.T) ([]byte, string) {
		return func(t *testing.T) ([]byte, string) {
			r := testRequest()
			r.Amount.Value = v
			return encodeXML(t, r), ContentTypeXML
		}
	}
	runLeakCases(t, []leakCase{
		{name: "amount, card number at the cut", body: withAmount(strings.Repeat("9", 28) + " " + leakPAN)},
		{name: "amount, grouped card number at the cut", body: withAmount("amount of the card ending at " + spacedPAN)},
		{name: "amount, whole card number", body: withAmount(spacedPAN)},
	})
}
