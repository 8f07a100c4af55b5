package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/providers/radial"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/radial"
	"github.com/settlement-worker/settlement-worker/store"
)

// radialRig is a Settlement handler wired to the real Radial client and
// the Radial sandbox over loopback HTTP, with a SQLite store: the money
// outcome is read from the sandbox's ledger, not from the worker's record.
type radialRig struct {
	h   *Settlement
	sb  *sandbox.Sandbox
	pub *recPub
	st  store.Store
}

func newRadialRig(t *testing.T) *radialRig { return newRadialRigWindow(t, 0) }

// newRadialRigWindow is newRadialRig with Radial's settle window (0: the
// default) and a call timeout of a fifth of it.
func newRadialRigWindow(t *testing.T, window time.Duration) *radialRig {
	t.Helper()
	timeout := 5 * time.Second
	if window > 0 {
		timeout = window / 5
	}
	sb, err := sandbox.NewSandbox(sandbox.Config{Prefix: "/radial", APIKey: "k", StatusDelay: time.Hour, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = sb.Close() })
	c, err := radial.New(radial.Config{BaseURL: srv.URL + "/radial", APIKey: "k", Timeout: timeout, SettleWindow: window}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), "sqlite:"+t.TempDir()+"/s.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	pub := &recPub{}
	return &radialRig{sb: sb, pub: pub, st: st, h: &Settlement{
		Provider: c, Store: st, Pub: pub, Log: zerolog.Nop(), CallTimeout: 5 * time.Second,
		Retry: RetryPolicy{Delays: []time.Duration{time.Second, 5 * time.Second}, MaxAttempts: 3},
	}}
}

// radialBody is a debit request for order ORD-EQ written by hand, amount
// and tax as given (the text between the tags, as the sender wrote it).
func radialBody(id, amount, tax string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<PaymentSettlementRequest xmlns="http://api.gsicommerce.com/schema/checkout/1.0" requestId="` + id + `">
  <PaymentContext><OrderId>ORD-EQ</OrderId><PaymentAccountUniqueId isToken="true">4111110PASeK1111</PaymentAccountUniqueId></PaymentContext>
  <InvoiceId>inv-1</InvoiceId>
  <Amount currencyCode="USD">` + amount + `</Amount>
  <TaxAmount currencyCode="USD">` + tax + `</TaxAmount>
  <SettlementType>Debit</SettlementType>
  <ClientContext>cc-eq</ClientContext>
</PaymentSettlementRequest>`)
}

func radialMsg(body []byte, headers map[string]string) *message.Message {
	msg := message.NewMessage("m-"+time.Now().Format("150405.000000000"), body)
	msg.Metadata.Set(broker.MetaContentType, ContentTypeXML)
	msg.Metadata.Set(HeaderStoreID, "STORE1")
	msg.Metadata.Set(HeaderTenderType, "VC")
	for k, v := range headers {
		msg.Metadata.Set(k, v)
	}
	return msg
}

// radialCredit is radialBody's request as a credit (requestId id, tax
// 6.00).
func radialCredit(id, amount string) []byte {
	return []byte(strings.Replace(string(radialBody(id, amount, "6.00")), "<SettlementType>Debit</SettlementType>", "<SettlementType>Credit</SettlementType>", 1))
}

// authorize authorizes order ORD-EQ for 150.00 USD at Radial's sandbox.
func (r *radialRig) authorize(t *testing.T) {
	t.Helper()
	if _, err := r.sb.Authorize(sandbox.Authorization{StoreID: "STORE1", OrderID: "ORD-EQ", Amount: "150.00", Currency: "USD"}); err != nil {
		t.Fatal(err)
	}
}

// deliver runs the handler on msg, which must not fail, and returns what
// it published.
func (r *radialRig) deliver(t *testing.T, msg *message.Message) []sentMsg {
	t.Helper()
	if err := r.h.HandleSafely(msg); err != nil {
		t.Fatal(err)
	}
	return r.pub.take()
}

// wantOneEntry checks that Radial's ledger holds one entry, whose
// RequestID, Type and Amount are want's, those of them that are not empty
// (what says it in the test's words).
func (r *radialRig) wantOneEntry(t *testing.T, want sandbox.Entry, what string) {
	t.Helper()
	ledger := r.sb.Ledger()
	if len(ledger) != 1 ||
		want.RequestID != "" && ledger[0].RequestID != want.RequestID ||
		want.Type != "" && ledger[0].Type != want.Type ||
		want.Amount != "" && ledger[0].Amount != want.Amount {
		t.Errorf("Radial's ledger: %+v, want %s", ledger, what)
	}
}

// parkedIn are the messages of ms published to Radial's parked queue.
func parkedIn(ms []sentMsg) []*message.Message {
	var parked []*message.Message
	for _, m := range ms {
		if strings.HasPrefix(m.key, broker.ParkedQueue("radial")) {
			parked = append(parked, m.msg)
		}
	}
	return parked
}

// notParked fails the test for every message of ms published to Radial's
// parked queue; what names the delivery that was not to be parked.
func notParked(t *testing.T, ms []sentMsg, what string) {
	t.Helper()
	for _, m := range parkedIn(ms) {
		t.Errorf("%s was parked: %s", what, m.Metadata.Get(HeaderParkedReason))
	}
}

// TestEquivalentDuplicateIsTheSameRequest: the order system sends a
// request again under its requestId, its amounts written another way
// that is the same money ("100.0" for "100.00", a leading "+" or zero,
// white space around the value, a zero beyond the currency's exponent).
// The fingerprint took the text as received, so the copy was "a different
// request" and was parked saying "this one was not settled (send it with
// a new requestId)": the advice that, followed, captures the money a
// second time. It is the recorded request: nothing new reaches Radial, no
// parking. A duplicate whose money really differs is still parked, and
// Radial's ledger holds one capture either way.
func TestEquivalentDuplicateIsTheSameRequest(t *testing.T) {
	for _, tc := range []struct {
		name        string
		amount, tax string
		headers     map[string]string
		same        bool
	}{
		{"a trailing zero less", "100.0", "6.00", nil, true},
		{"no fraction", "100", "6", nil, true},
		{"a zero beyond the exponent", "100.000", "6.000", nil, true},
		{"a leading plus", "+100.00", "+6.00", nil, true},
		{"leading zeros", "0100.00", "06.00", nil, true},
		{"white space around the value", "\n   100.00 ", " 6.00\t", nil, true},
		{"authorization amount written another way", "100.00", "6.00", map[string]string{HeaderOriginalAuthAmount: "150.0"}, true},
		{"another amount", "100.01", "6.00", nil, false},
		{"another tax", "100.00", "6.01", nil, false},
		{"another authorization amount", "100.00", "6.00", map[string]string{HeaderOriginalAuthAmount: "150.01"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRadialRig(t)
			r.authorize(t)
			first := map[string]string{HeaderOriginalAuthAmount: "150.00"}
			r.deliver(t, radialMsg(radialBody("req-eq", "100.00", "6.00"), first))
			before, err := r.st.Get(context.Background(), store.Key{Provider: "radial", RequestID: "req-eq"})
			if err != nil {
				t.Fatal(err)
			}
			if n := len(r.sb.Ledger()); n != 1 {
				t.Fatalf("the first delivery left %d ledger entries, want 1", n)
			}

			again := map[string]string{HeaderOriginalAuthAmount: "150.00"}
			for k, v := range tc.headers {
				again[k] = v
			}
			ms := r.deliver(t, radialMsg(radialBody("req-eq", tc.amount, tc.tax), again))
			parked := parkedIn(ms)
			if tc.same && len(parked) > 0 {
				t.Errorf("the same request written another way was parked: %s", parked[0].Metadata.Get(HeaderParkedReason))
			}
			if !tc.same && len(parked) != 1 {
				t.Errorf("a duplicate with other money was not parked (published %d messages)", len(ms))
			}
			r.wantOneEntry(t, sandbox.Entry{RequestID: "req-eq", Amount: "100.00"}, "the one capture of 100.00")
			after, err := r.st.Get(context.Background(), before.Key)
			if err != nil {
				t.Fatal(err)
			}
			if after.State != before.State || after.ParkedReason != "" || after.Fingerprint != before.Fingerprint {
				t.Errorf("the duplicate changed the settlement: %s %q → %s %q", before.State, before.ParkedReason, after.State, after.ParkedReason)
			}
		})
	}
}

// TestEquivalentDuplicateResumesWithTheRecordedRequest: a duplicate whose
// amounts are the recorded ones written another way is the recorded
// request, and the settlement it resumes must go on with the recorded
// request. Radial deduplicates on requestId and content: the same
// requestId with "100.0" for the recorded "100.00" is a different
// document to it, refused with DuplicateRequestIdMismatch. A debit whose
// Settle reply was lost, resumed after its settle window by such a
// duplicate, is sent again as the recorded document: Radial counts a
// duplicate hit, never a conflict, and the ledger holds one capture.
func TestEquivalentDuplicateResumesWithTheRecordedRequest(t *testing.T) {
	window := 400 * time.Millisecond
	if raceEnabled {
		window *= 3
	}
	r := newRadialRigWindow(t, window)
	r.authorize(t)
	if err := r.sb.SetFaults(sandbox.EndpointSettle, sandbox.Faults{DropNext: 1}); err != nil {
		t.Fatal(err)
	}
	hdr := map[string]string{HeaderOriginalAuthAmount: "150.00"}
	r.deliver(t, radialMsg(radialBody("req-eq", "100.00", "6.00"), hdr))
	s, err := r.st.Get(context.Background(), store.Key{Provider: "radial", RequestID: "req-eq"})
	if err != nil || s.State != store.StateSubmitting {
		t.Fatalf("after the lost reply: %s, %v; want submitting", s.State, err)
	}
	time.Sleep(window + window/2)

	r.deliver(t, radialMsg(radialBody("req-eq", "100.0", "6"), map[string]string{HeaderOriginalAuthAmount: "150.0"}))
	calls := r.sb.Calls().Settle
	if calls.Conflicts != 0 {
		t.Errorf("Radial refused %d resubmission(s) as another document under the requestId", calls.Conflicts)
	}
	if calls.DedupHits != 1 {
		t.Errorf("Radial saw %d resubmission(s) of the recorded document, want 1", calls.DedupHits)
	}
	r.wantOneEntry(t, sandbox.Entry{Amount: "100.00"}, "the one capture of 100.00")
	after, err := r.st.Get(context.Background(), s.Key)
	if err != nil {
		t.Fatal(err)
	}
	if after.State != store.StateAcknowledged || after.ParkedReason != "" {
		t.Errorf("the settlement is %s (parked %q), want acknowledged", after.State, after.ParkedReason)
	}
}

// TestDifferentDuplicateReasonDoesNotAdviseASecondCapture: a delivery of a
// known requestId that is not the recorded request (another ClientContext,
// another amount, another tender_type) is parked, and nothing reaches
// Radial. Its parked reason said "this one was not settled (send it with
// a new requestId)" (or, for a header, "send a different request with a
// new requestId"), without saying that the recorded request under that id
// is being settled: an order system that re-sent its settlement with a
// regenerated ClientContext, told to use a new requestId, captures the
// money a second time. The reason names what was recorded and its state,
// and says a new requestId is for a different settlement only.
func TestDifferentDuplicateReasonDoesNotAdviseASecondCapture(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    []byte
		headers map[string]string
	}{
		{"another ClientContext", []byte(strings.Replace(string(radialBody("req-eq", "100.00", "6.00")), "cc-eq", "cc-regenerated", 1)), nil},
		{"another amount", radialBody("req-eq", "90.00", "6.00"), nil},
		{"another tender_type", radialBody("req-eq", "100.00", "6.00"), map[string]string{HeaderTenderType: "MC"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRadialRig(t)
			r.authorize(t)
			r.deliver(t, radialMsg(radialBody("req-eq", "100.00", "6.00"), nil))
			parked := only(t, r.deliver(t, radialMsg(tc.body, tc.headers)), broker.ParkedQueue("radial"))
			reason := parked.Metadata.Get(HeaderParkedReason)
			for _, want := range []string{"Debit", "100.00 USD", "ORD-EQ", string(store.StateAcknowledged), "second time"} {
				if !strings.Contains(reason, want) {
					t.Errorf("parked reason does not say %q: %s", want, reason)
				}
			}
			r.wantOneEntry(t, sandbox.Entry{}, "the one capture")
		})
	}
}

// TestEquivalentNumbersDuplicateIsTheSameRequest: the same request sent
// again with a line item's Quantity, a VAT rate or a shipment count
// written another way ("2.0" for "2", "19.00" for "19", "01" for "1") was
// "a different request" too, and parked with the advice that leads to a
// second capture. It is the recorded request: not parked, one capture.
func TestEquivalentNumbersDuplicateIsTheSameRequest(t *testing.T) {
	withItems := func(qty, rate, count string) []byte {
		return []byte(strings.Replace(string(radialBody("req-eq", "100.00", "6.00")), "</PaymentSettlementRequest>",
			`<InvoiceData><LineItems><LineItem><ItemId>I1</ItemId><Quantity>`+qty+`</Quantity><ItemShortDescription>NA</ItemShortDescription>`+
				`<VATInclusiveUnitPrice currencyCode="USD">50.00</VATInclusiveUnitPrice><VATRateInfo><VAT rate="`+rate+`"><Amount currencyCode="USD">8.00</Amount></VAT></VATRateInfo></LineItem></LineItems></InvoiceData>`+
				`<ShipmentData><ShipmentCount><CurrentCount>`+count+`</CurrentCount><TotalCount>1</TotalCount></ShipmentCount><ShippedDate>2021-05-10T21:59:13Z</ShippedDate></ShipmentData>`+
				`</PaymentSettlementRequest>`, 1))
	}
	for _, tc := range []struct {
		name             string
		qty, rate, count string
	}{
		{"quantity 2.0", "2.0", "19", "1"},
		{"rate 19.00", "2", "19.00", "1"},
		{"count 01", "2", "19", "01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRadialRig(t)
			r.authorize(t)
			r.deliver(t, radialMsg(withItems("2", "19", "1"), nil))
			notParked(t, r.deliver(t, radialMsg(withItems(tc.qty, tc.rate, tc.count), nil)), "the same request written another way")
			r.wantOneEntry(t, sandbox.Entry{Amount: "100.00"}, "the one capture of 100.00")
		})
	}
}

// TestEquivalentDuplicateIsJudgedAsTheRecordedRequest: a duplicate that
// is the recorded request written another way goes on with the recorded
// request (resumeRecorded), and so must the one check a resumed delivery
// still makes: a settlement still received (its first delivery stopped
// before any call) is refused when the request is invalid. A copy whose
// Amount "100.000000000000000000" is the recorded "100.00" but has more
// digits than the schema allows must not refuse the recorded, valid
// credit: the credit goes on, and Radial's ledger holds its refund.
func TestEquivalentDuplicateIsJudgedAsTheRecordedRequest(t *testing.T) {
	r := newRadialRig(t)
	first := radialMsg(radialCredit("req-cr", "100.00"), nil)
	req, err := decodeRequest(first)
	if err != nil {
		t.Fatal(err)
	}
	in := r.h.understand(first, req, 1)
	if len(in.problems) > 0 {
		t.Fatalf("the recorded credit is invalid: %v", in.problems)
	}
	// Recorded, then the first delivery stopped (a crash) before any call.
	if _, created, err := r.st.Register(context.Background(), r.h.newSettlement(first, in)); err != nil || !created {
		t.Fatalf("register: %v, %v", created, err)
	}

	r.deliver(t, radialMsg(radialCredit("req-cr", "100.000000000000000000"), nil))
	s, err := r.st.Get(context.Background(), store.Key{Provider: "radial", RequestID: "req-cr"})
	if err != nil {
		t.Fatal(err)
	}
	if s.State == store.StateRefused {
		t.Fatalf("the recorded, valid credit was refused for its copy's spelling: %s", s.DeclineReason)
	}
	r.wantOneEntry(t, sandbox.Entry{Type: "Credit", Amount: "100.00"}, "the refund of 100.00")
}

// TestSurrogateReferenceIsRefusedNotSettled: a request whose OrderId
// holds the character reference &#xD800; (no character XML allows) was
// read as "ORD\uFFFD" and settled: Radial's ledger held a capture for an
// order id the sender never wrote, the same one "ORD&#xDC00;" would have
// named. It is parked as unparseable, naming the reference, and nothing
// reaches Radial.
func TestSurrogateReferenceIsRefusedNotSettled(t *testing.T) {
	r := newRadialRig(t)
	body := []byte(strings.Replace(string(radialBody("req-sur", "100.00", "6.00")), "<OrderId>ORD-EQ</OrderId>", "<OrderId>ORD&#xD800;</OrderId>", 1))
	ms := r.deliver(t, radialMsg(body, nil))
	if ledger := r.sb.Ledger(); len(ledger) != 0 {
		t.Errorf("Radial's ledger: %q %+v, want nothing", ledger[0].OrderID, ledger)
	}
	parked := only(t, ms, broker.ParkedQueue("radial"))
	if reason := parked.Metadata.Get(HeaderParkedReason); !strings.Contains(reason, "&#xD800;") {
		t.Errorf("parked reason does not name the reference: %s", reason)
	}
}

// TestEquivalentDuplicateOfALegacyRecord: a settlement recorded by a
// version that fingerprinted the request as received (the sha256 of its
// xml.Marshal, amounts as written: "100.0") is matched by a copy that
// writes its amount another way ("100.00") too: the recorded body is
// read and compared as the request it is. Not parked: the recorded
// credit (its first delivery stopped before any call) goes on, and
// Radial's ledger holds its one refund.
func TestEquivalentDuplicateOfALegacyRecord(t *testing.T) {
	r := newRadialRig(t)
	first := radialMsg(radialCredit("req-cr", "100.0"), nil)
	req, err := decodeRequest(first)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := xml.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	legacy := hex.EncodeToString(sum[:])
	if legacy == req.Fingerprint() {
		t.Fatal("the recorded amount is canonical: no legacy fingerprint to test")
	}
	rec := r.h.newSettlement(first, r.h.understand(first, req, 1))
	rec.Fingerprint = legacy
	if _, created, err := r.st.Register(context.Background(), rec); err != nil || !created {
		t.Fatalf("register: %v, %v", created, err)
	}

	notParked(t, r.deliver(t, radialMsg(radialCredit("req-cr", "100.00"), nil)), "the recorded request written another way")
	r.wantOneEntry(t, sandbox.Entry{Type: "Credit", Amount: "100.00"}, "the one refund of 100.00")
}

// TestJSONCopyOfAnXMLRequestIsTheSameRequest: the order system sends the
// recorded XML request again as JSON, its keys in another order and its
// amount written "100.0": the same request, not parked, one capture.
func TestJSONCopyOfAnXMLRequestIsTheSameRequest(t *testing.T) {
	r := newRadialRig(t)
	r.authorize(t)
	r.deliver(t, radialMsg(radialBody("req-eq", "100.00", "6.00"), nil))
	j := radialMsg([]byte(`{"clientContext":"cc-eq","settlementType":"Debit","taxAmount":{"value":"6","currencyCode":"USD"},`+
		`"amount":{"value":"100.0","currencyCode":"USD"},"invoiceId":"inv-1",`+
		`"paymentContext":{"paymentAccountUniqueId":{"value":"4111110PASeK1111","isToken":"true"},"orderId":"ORD-EQ"},"requestId":"req-eq"}`), nil)
	j.Metadata.Set(broker.MetaContentType, ContentTypeJSON)
	notParked(t, r.deliver(t, j), "the JSON copy")
	r.wantOneEntry(t, sandbox.Entry{Amount: "100.00"}, "the one capture of 100.00")
}
