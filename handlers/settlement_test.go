package handlers

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// namedProvider is the smallest providers.Provider: understand() only asks
// for its name.
type namedProvider string

func (p namedProvider) Name() string { return string(p) }
func (namedProvider) ConfirmFunds(context.Context, *providers.Request) (providers.ConfirmResult, error) {
	panic("not called by these tests")
}
func (namedProvider) Settle(context.Context, *providers.Request) (providers.Outcome, error) {
	panic("not called by these tests")
}

// testRequest is a valid debit request; mutate the copy it returns.
func testRequest() *messages.PaymentSettlementRequest {
	return &messages.PaymentSettlementRequest{
		RequestID: "req-1",
		PaymentContext: &messages.PaymentContext{
			OrderID:                "ORD-1",
			PaymentAccountUniqueID: messages.AccountID{IsToken: "true", Value: "4111110PASeK1111"},
		},
		InvoiceID:      "inv-1",
		Amount:         messages.Amount{CurrencyCode: "USD", Value: "100.00"},
		TaxAmount:      &messages.Amount{CurrencyCode: "USD", Value: "6.00"},
		SettlementType: messages.SettlementDebit,
		ClientContext:  "cc-1",
	}
}

func encodeXML(t *testing.T, r *messages.PaymentSettlementRequest) []byte {
	t.Helper()
	b, err := messages.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRetryPolicyDelay(t *testing.T) {
	p := RetryPolicy{Delays: []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}, MaxAttempts: 6}
	cases := []struct {
		policy  RetryPolicy
		attempt int
		want    time.Duration
	}{
		{p, 1, time.Second},
		{p, 2, 5 * time.Second},
		{p, 3, 30 * time.Second},
		{p, 4, 30 * time.Second}, // the last one repeats
		{p, 100, 30 * time.Second},
		{p, 0, time.Second},
		{p, -3, time.Second},
		{RetryPolicy{}, 1, time.Second},
		{RetryPolicy{}, 7, time.Second},
		{RetryPolicy{Delays: []time.Duration{250 * time.Millisecond}}, 9, 250 * time.Millisecond},
	}
	for _, tc := range cases {
		if got := tc.policy.delay(tc.attempt); got != tc.want {
			t.Errorf("%v.delay(%d) = %s, want %s", tc.policy.Delays, tc.attempt, got, tc.want)
		}
	}
}

func TestNearestDelay(t *testing.T) {
	delays := []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}
	shuffled := []time.Duration{30 * time.Second, time.Second, 5 * time.Second}
	cases := []struct {
		delays []time.Duration
		want   time.Duration
		in     time.Duration
	}{
		{delays, time.Second, 0},
		{delays, time.Second, -time.Second},
		{delays, time.Second, 500 * time.Millisecond},
		{delays, time.Second, time.Second},
		{delays, 5 * time.Second, 1001 * time.Millisecond},
		{delays, 5 * time.Second, 5 * time.Second},
		{delays, 30 * time.Second, 6 * time.Second},
		{delays, 30 * time.Second, 30 * time.Second},
		{delays, 30 * time.Second, time.Hour}, // longer than any: the longest
		{shuffled, 5 * time.Second, 2 * time.Second},
		{shuffled, 30 * time.Second, time.Minute},
		{shuffled, time.Second, 0},
		{nil, time.Second, 10 * time.Second}, // no retry queues: 1s
	}
	for _, tc := range cases {
		h := &Settlement{Retry: RetryPolicy{Delays: tc.delays}}
		if got := h.nearestDelay(tc.in); got != tc.want {
			t.Errorf("nearestDelay(%s) with %v = %s, want %s", tc.in, tc.delays, got, tc.want)
		}
	}
}

func TestAttemptOf(t *testing.T) {
	cases := []struct {
		header string
		set    bool
		want   int
	}{
		{"", false, 1},
		{"", true, 1},
		{"1", true, 1},
		{"3", true, 3},
		{"42", true, 42},
		{"0", true, 1},
		{"-2", true, 1},
		{"abc", true, 1},
		{"2.5", true, 1},
	}
	for _, tc := range cases {
		m := message.NewMessage("m", nil)
		if tc.set {
			m.Metadata.Set(HeaderAttempt, tc.header)
		}
		if got := attemptOf(m); got != tc.want {
			t.Errorf("attemptOf(%s=%q) = %d, want %d", HeaderAttempt, tc.header, got, tc.want)
		}
	}
}

func TestDecodeRequest(t *testing.T) {
	req := testRequest()
	xmlBody := encodeXML(t, req)
	jsonBody, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name        string
		contentType string
		setCT       bool
		body        []byte
		wantErr     string
	}{
		{"no content type: XML", "", false, xmlBody, ""},
		{"application/xml", "application/xml", true, xmlBody, ""},
		{"text/xml", "text/xml", true, xmlBody, ""},
		{"xml with charset parameter", "application/xml; charset=utf-8", true, xmlBody, ""},
		{"upper case and blanks", "  Application/XML ", true, xmlBody, ""},
		{"application/json", "application/json", true, jsonBody, ""},
		{"json with charset parameter", "application/json;charset=UTF-8", true, jsonBody, ""},
		{"unknown content type", "text/plain", true, xmlBody, `"text/plain" is not supported`},
		{"octet-stream", "application/octet-stream", true, xmlBody, "not supported"},
		{"JSON body labelled XML", "application/xml", true, jsonBody, ""},
		{"XML body labelled JSON", "application/json", true, xmlBody, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := message.NewMessage("m", tc.body)
			if tc.setCT {
				m.Metadata.Set(broker.MetaContentType, tc.contentType)
			}
			got, err := decodeRequest(m)
			mislabelled := strings.HasPrefix(tc.name, "JSON body") || strings.HasPrefix(tc.name, "XML body")
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("decodeRequest = %v, want an error containing %q", err, tc.wantErr)
				}
			case mislabelled:
				if err == nil {
					t.Fatalf("decodeRequest of a mislabelled body succeeded: %+v", got)
				}
			default:
				if err != nil {
					t.Fatalf("decodeRequest: %v", err)
				}
				if got.RequestID != "req-1" || got.OrderID() != "ORD-1" || got.Amount != req.Amount || got.ClientContext != "cc-1" {
					t.Errorf("decoded %+v", got)
				}
			}
		})
	}
}

func understandMsg(req *messages.PaymentSettlementRequest, headers map[string]string) *message.Message {
	m := message.NewMessage("m", nil)
	m.Metadata.Set(broker.MetaContentType, ContentTypeXML)
	m.Metadata.Set(broker.MetaMessageID, "mid")
	for k, v := range headers {
		m.Metadata.Set(k, v)
	}
	return m
}

func TestUnderstand(t *testing.T) {
	jpy := testRequest()
	jpy.Amount = messages.Amount{CurrencyCode: "JPY", Value: "1000"}
	jpy.TaxAmount = &messages.Amount{CurrencyCode: "JPY", Value: "0"}
	noID := testRequest()
	noID.RequestID = ""
	invalid := testRequest()
	invalid.InvoiceID = ""
	credit := testRequest()
	credit.SettlementType = messages.SettlementCredit
	ok := map[string]string{HeaderStoreID: "S1", HeaderTenderType: "VC"}
	with := func(kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range ok {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "<unset>" {
				delete(out, kv[i])
			} else {
				out[kv[i]] = kv[i+1]
			}
		}
		return out
	}

	cases := []struct {
		name          string
		req           *messages.PaymentSettlementRequest
		headers       map[string]string
		requireTender bool
		wantProblems  []string // each must appear in one problem; none when empty
		wantAuth      string   // AuthorizationAmount.String(), "" for unset
	}{
		{"valid", testRequest(), ok, true, nil, ""},
		{"missing store_id", testRequest(), with(HeaderStoreID, "<unset>"), false, []string{"header store_id is required"}, ""},
		{"blank store_id", testRequest(), with(HeaderStoreID, "   "), false, []string{"header store_id is required"}, ""},
		{"store_id of 100 characters", testRequest(), with(HeaderStoreID, strings.Repeat("s", 100)), false, nil, ""},
		{"store_id too long", testRequest(), with(HeaderStoreID, strings.Repeat("s", 101)), false, []string{"store_id must be at most 100 characters"}, ""},
		// Characters, not bytes, as the schema and the intake count: 60
		// "é" (120 bytes) were refused as "more than 100 characters".
		{"store_id of 100 two-byte characters", testRequest(), with(HeaderStoreID, strings.Repeat("é", 100)), false, nil, ""},
		{"store_id of 101 two-byte characters", testRequest(), with(HeaderStoreID, strings.Repeat("é", 101)), false, []string{"store_id must be at most 100 characters"}, ""},
		{"tender type required, 4 two-byte chars", testRequest(), with(HeaderTenderType, "ÉÉÉÉ"), true, nil, ""},
		{"tender type not required, absent", testRequest(), with(HeaderTenderType, "<unset>"), false, nil, ""},
		{"tender type not required, odd", testRequest(), with(HeaderTenderType, "X"), false, nil, ""},
		{"tender type required, absent", testRequest(), with(HeaderTenderType, "<unset>"), true, []string{`header tender_type is required and must be 2 to 4 characters (got "")`}, ""},
		{"tender type required, 1 char", testRequest(), with(HeaderTenderType, "V"), true, []string{`(got "V")`}, ""},
		{"tender type required, 5 chars", testRequest(), with(HeaderTenderType, "VISAX"), true, []string{`(got "VISAX")`}, ""},
		{"tender type required, 4 chars", testRequest(), with(HeaderTenderType, "VISA"), true, nil, ""},
		{"tender type required, padded", testRequest(), with(HeaderTenderType, "  PY "), true, nil, ""},
		{"auth amount valid", testRequest(), with(HeaderOriginalAuthAmount, "120.00"), true, nil, "120.00"},
		{"auth amount without decimals", testRequest(), with(HeaderOriginalAuthAmount, "120"), true, nil, "120.00"},
		{"auth amount invalid", testRequest(), with(HeaderOriginalAuthAmount, "abc"), true, []string{`header original_authorization_amount "abc" is not a decimal amount in USD`}, ""},
		{"auth amount exponent", testRequest(), with(HeaderOriginalAuthAmount, "1e3"), true, []string{"is not a decimal amount in USD"}, ""},
		{"auth amount too many decimals", testRequest(), with(HeaderOriginalAuthAmount, "10.001"), true, []string{"is not a decimal amount in USD"}, ""},
		{"auth amount negative", testRequest(), with(HeaderOriginalAuthAmount, "-5.00"), true, []string{"original_authorization_amount must be positive (got -5.00)"}, ""},
		{"auth amount zero", testRequest(), with(HeaderOriginalAuthAmount, "0"), true, []string{"must be positive"}, ""},
		{"auth amount JPY with decimals", jpy, with(HeaderOriginalAuthAmount, "1000.50"), true, []string{`"1000.50" is not a decimal amount in JPY`}, ""},
		{"auth amount JPY whole", jpy, with(HeaderOriginalAuthAmount, "1200"), true, nil, "1200"},
		{"auth amount blank is absent", testRequest(), with(HeaderOriginalAuthAmount, "  "), true, nil, ""},
		{"credit without auth amount", credit, ok, true, nil, ""},
		{"invalid request", invalid, ok, true, []string{"InvoiceId"}, ""},
		{"every problem at once", invalid, map[string]string{HeaderTenderType: "V", HeaderOriginalAuthAmount: "-1"}, true,
			[]string{"InvoiceId", "header store_id is required", "header tender_type is required", "original_authorization_amount must be positive"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := &Settlement{Provider: namedProvider("radial"), RequireTenderType: tc.requireTender, Log: zerolog.Nop()}
			msg := understandMsg(tc.req, tc.headers)
			in := h.understand(msg, tc.req, 2)
			if len(tc.wantProblems) == 0 && len(in.problems) > 0 {
				t.Fatalf("problems = %q, want none", in.problems)
			}
			for _, want := range tc.wantProblems {
				found := false
				for _, p := range in.problems {
					found = found || strings.Contains(p, want)
				}
				if !found {
					t.Errorf("problems %q: none mentions %q", in.problems, want)
				}
			}
			if len(tc.wantProblems) > 0 && len(in.problems) < len(tc.wantProblems) {
				t.Errorf("problems %q: want at least %d (all collected)", in.problems, len(tc.wantProblems))
			}
			got := ""
			if in.preq.AuthorizationAmount.Currency != "" {
				got = in.preq.AuthorizationAmount.String()
			}
			if got != tc.wantAuth {
				t.Errorf("AuthorizationAmount = %q, want %q", got, tc.wantAuth)
			}
			// The provider's view of the request.
			p := in.preq
			wantAmount, _ := tc.req.Amount.Money()
			if p.Provider != "radial" || p.RequestID != tc.req.RequestID || p.OrderID != "ORD-1" || p.Type != tc.req.SettlementType ||
				p.Attempt != 2 || p.Message != tc.req || p.Amount.String() != wantAmount.String() || p.Amount.Currency != wantAmount.Currency ||
				p.StoreID != strings.TrimSpace(tc.headers[HeaderStoreID]) || p.TenderType != strings.TrimSpace(tc.headers[HeaderTenderType]) {
				t.Errorf("provider request = %+v", p)
			}
			for k := range p.Headers {
				if strings.HasPrefix(k, "amqp_") {
					t.Errorf("provider headers carry property %s", k)
				}
			}
			if in.key != (store.Key{Provider: "radial", RequestID: tc.req.RequestID}) {
				t.Errorf("key = %+v", in.key)
			}
		})
	}

	t.Run("no requestId", func(t *testing.T) {
		h := &Settlement{Provider: namedProvider("radial"), Log: zerolog.Nop()}
		in := h.understand(understandMsg(noID, ok), noID, 1)
		want := "no-request-id-" + noID.Fingerprint()[:24]
		if in.key.RequestID != want || in.preq.RequestID != want {
			t.Errorf("key %q, provider request id %q, want %q", in.key.RequestID, in.preq.RequestID, want)
		}
		if len(in.problems) == 0 {
			t.Error("a request without requestId is not reported as a problem")
		}
		again := h.understand(understandMsg(noID, ok), noID, 1)
		if again.key != in.key {
			t.Errorf("key not stable: %v then %v", in.key, again.key)
		}
	})
}

func TestStatusFor(t *testing.T) {
	withPC := testRequest()
	base := testRequest()
	base.PaymentContext = nil
	base.PaymentContextBase = &messages.PaymentContextBase{OrderID: "ORD-PP"}
	noCC := testRequest()
	noCC.ClientContext = ""

	cases := []struct {
		name                  string
		req                   *messages.PaymentSettlementRequest
		verdict, reason       string
		wantCC, wantDecline   string
		wantPC, wantBase      bool
		wantOrder, wantTender string
	}{
		{"settled with account", withPC, messages.StatusSettled, "ignored for S", "cc-1", "", true, false, "ORD-1", "VC"},
		{"refused with reason", withPC, messages.StatusRejected, "funds not available", "cc-1", "funds not available", true, false, "ORD-1", "VC"},
		{"payment context base", base, messages.StatusSettled, "", "cc-1", "", false, true, "ORD-PP", "VC"},
		{"request without ClientContext", noCC, messages.StatusRejected, "nope", "", "nope", true, false, "ORD-1", "VC"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := statusFor(tc.req, "S1", "VC", tc.verdict, tc.reason)
			if st.ClientContext != tc.wantCC {
				t.Errorf("ClientContext = %q, want the request's %q", st.ClientContext, tc.wantCC)
			}
			if st.DeclineReason != tc.wantDecline {
				t.Errorf("DeclineReason = %q, want %q", st.DeclineReason, tc.wantDecline)
			}
			if (st.PaymentContext != nil) != tc.wantPC || (st.PaymentContextBase != nil) != tc.wantBase {
				t.Errorf("contexts: PaymentContext %v, PaymentContextBase %v", st.PaymentContext, st.PaymentContextBase)
			}
			if st.OrderID() != tc.wantOrder || st.TenderType != tc.wantTender || st.StoreID != "S1" ||
				st.SettlementStatus != tc.verdict || st.SettlementType != tc.req.SettlementType || st.Amount != tc.req.Amount {
				t.Errorf("status = %+v", st)
			}
			if err := st.Validate(); err != nil {
				t.Errorf("status does not validate: %v", err)
			}
			// A copy, not an alias of the request's context.
			if st.PaymentContext != nil && st.PaymentContext == tc.req.PaymentContext {
				t.Error("status shares the request's PaymentContext")
			}
			if st.PaymentContextBase != nil && st.PaymentContextBase == tc.req.PaymentContextBase {
				t.Error("status shares the request's PaymentContextBase")
			}
		})
	}
}

func TestEventMessageID(t *testing.T) {
	k := store.Key{Provider: "radial", RequestID: "req-1"}
	id := eventMessageID(k, "final")
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 5 {
		t.Fatalf("eventMessageID = %q: want a version 5 UUID (err %v)", id, err)
	}
	if again := eventMessageID(store.Key{Provider: "radial", RequestID: "req-1"}, "final"); again != id {
		t.Errorf("not stable: %q then %q", id, again)
	}
	others := map[string]string{
		"other provider": eventMessageID(store.Key{Provider: "paysafe", RequestID: "req-1"}, "final"),
		"other request":  eventMessageID(store.Key{Provider: "radial", RequestID: "req-2"}, "final"),
		"other dedup":    eventMessageID(k, "amqp:m1"),
		"shifted fields": eventMessageID(store.Key{Provider: "radia", RequestID: "lreq-1"}, "final"),
	}
	seen := map[string]string{id: "base"}
	for name, o := range others {
		if prev, dup := seen[o]; dup {
			t.Errorf("%s has the same id as %s: %s", name, prev, o)
		}
		seen[o] = name
	}

	// newStatusEvent uses it.
	ev, err := newStatusEvent(k, "final", statusFor(testRequest(), "S1", "VC", messages.StatusSettled, ""))
	if err != nil {
		t.Fatal(err)
	}
	if ev.MessageID != id || ev.DedupKey != "final" || ev.SettlementStatus != messages.StatusSettled || ev.Key != k {
		t.Errorf("newStatusEvent = %+v", ev)
	}
	if _, err := messages.DecodeSettlementStatus(ev.Body); err != nil {
		t.Errorf("event body does not decode: %v", err)
	}
}

// statusProblems says why no valid status can report a request, naming the
// status's own paths; none for a request whose echoed values are valid.
func TestStatusProblems(t *testing.T) {
	noInvoice := testRequest()
	noInvoice.InvoiceID = "" // not echoed: still reportable
	badCurrency := testRequest()
	badCurrency.Amount.CurrencyCode = "US"
	both := testRequest()
	both.PaymentContextBase = &messages.PaymentContextBase{OrderID: "ORD-1"}
	capture := testRequest()
	capture.SettlementType = "Capture"
	cases := []struct {
		name            string
		req             *messages.PaymentSettlementRequest
		storeID, tender string
		want            []string
	}{
		{"valid", testRequest(), "S1", "VC", nil},
		{"invalid but reportable", noInvoice, "S1", "VC", nil},
		{"currency US", badCurrency, "S1", "VC", []string{`PaymentSettlementStatus/Amount/@currencyCode: must be an active 3-letter ISO 4217 currency code (got "US")`}},
		{"both contexts", both, "S1", "VC", []string{"PaymentSettlementStatus: PaymentContext and PaymentContextBase are a choice: send only one"}},
		{"SettlementType Capture", capture, "S1", "VC", []string{`PaymentSettlementStatus/SettlementType: must be one of Debit, Credit (got "Capture")`}},
		{"no tender type", testRequest(), "S1", "", []string{"PaymentSettlementStatus/TenderType: is required"}},
		{"no store", testRequest(), "", "VC", []string{"PaymentSettlementStatus/StoreId: is required"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := statusProblems(tc.req, tc.storeID, tc.tender)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("statusProblems = %q, want %q", got, tc.want)
			}
		})
	}
}
