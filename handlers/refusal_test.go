package handlers

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/xsdtest"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// checkStatusBody fails unless body is a valid PaymentSettlementStatus for
// the worker's own check and, when xmllint is installed, for the
// reconstructed schema too.
func checkStatusBody(t *testing.T, body []byte) *messages.PaymentSettlementStatus {
	t.Helper()
	if err := messages.ValidateStatusDocument(body); err != nil {
		t.Errorf("published status is not valid: %v\n%s", err, body)
	}
	switch ok, diag, err := xsdtest.Validate(body); {
	case errors.Is(err, xsdtest.ErrNoXMLLint):
		t.Log(err)
	case err != nil:
		t.Error(err)
	case !ok:
		t.Errorf("xmllint --schema refuses the published status:\n%s\n%s", diag, body)
	}
	st, err := messages.DecodeSettlementStatus(body)
	if err != nil {
		t.Fatalf("published status does not decode: %v", err)
	}
	return st
}

// Issue 7: every request ends in a PaymentSettlementStatus that is valid
// against Radial's schema, or is parked with a reason — an invalid
// document is never published. A refusal carries the request's values
// only when they are valid in a status; when they are not (the money, the
// type, the payment context, the ids the status echoes, the headers it
// needs), no status can report the request: it is parked, nothing is
// recorded, and the provider is never called.
func TestRefusalsOfInvalidRequests(t *testing.T) {
	type mut func(r *messages.PaymentSettlementRequest)
	cases := []struct {
		name    string
		mutate  mut
		headers map[string]string
		// parked: no status, parked with reasons; else an R event whose
		// DeclineReason has reasons.
		parked  bool
		reasons []string
	}{
		// Invalid, but every value the status echoes is valid: R.
		{"missing InvoiceId", func(r *messages.PaymentSettlementRequest) { r.InvoiceID = "" }, nil, false,
			[]string{"invalid request: PaymentSettlementRequest/InvoiceId is required"}},
		{"InvoiceId of 21", func(r *messages.PaymentSettlementRequest) { r.InvoiceID = strings.Repeat("i", 21) }, nil, false,
			[]string{"InvoiceId must be at most 20 characters (got 21)"}},
		{"requestId of 41 (not in the status)", func(r *messages.PaymentSettlementRequest) { r.RequestID = strings.Repeat("r", 41) }, nil, false,
			[]string{"@requestId must be at most 40 characters (got 41)"}},
		{"TaxAmount in XYZ (not in the status)", func(r *messages.PaymentSettlementRequest) { r.TaxAmount.CurrencyCode = "XYZ" }, nil, false,
			[]string{"TaxAmount/@currencyCode must be an active 3-letter ISO 4217 currency code"}},
		// 18 digits pass the schema, but no provider can take more than
		// int64 minor units: a clear R before any call, not a provider's
		// "no amount" or a Fault retried until parked.
		{"Amount beyond int64 minor units", func(r *messages.PaymentSettlementRequest) { r.Amount.Value = "999999999999999999" }, nil, false,
			[]string{"PaymentSettlementRequest/Amount cannot be settled: amount 999999999999999999 USD is too large"}},
		{"bad original_authorization_amount header", nil, map[string]string{HeaderOriginalAuthAmount: "lots"}, false,
			[]string{`header original_authorization_amount "lots" is not a decimal amount in USD`}},

		// A status would have to carry an invalid value: parked.
		{"currency US", func(r *messages.PaymentSettlementRequest) { r.Amount.CurrencyCode = "US" }, nil, true,
			[]string{`PaymentSettlementStatus/Amount/@currencyCode: must be an active 3-letter ISO 4217 currency code (got "US")`}},
		{"currency XYZ", func(r *messages.PaymentSettlementRequest) { r.Amount.CurrencyCode = "XYZ" }, nil, true,
			[]string{`(got "XYZ")`, "invalid request: PaymentSettlementRequest/Amount/@currencyCode"}},
		{"currency ZMW, not in the schema's list", func(r *messages.PaymentSettlementRequest) {
			r.Amount.CurrencyCode, r.TaxAmount.CurrencyCode = "ZMW", "ZMW"
		}, nil, true, []string{`Radial's schema enumerates (ISOCurrencyCodeType), which lacks this active code (got "ZMW")`}},
		{"SettlementType Capture", func(r *messages.PaymentSettlementRequest) { r.SettlementType = "Capture" }, nil, true,
			[]string{`PaymentSettlementStatus/SettlementType: must be one of Debit, Credit (got "Capture")`}},
		{"Amount ten dollars", func(r *messages.PaymentSettlementRequest) { r.Amount.Value = "ten dollars" }, nil, true,
			[]string{`PaymentSettlementStatus/Amount: must be a decimal number (got "ten dollars")`}},
		{"Amount 10.001", func(r *messages.PaymentSettlementRequest) { r.Amount.Value = "10.001" }, nil, true,
			[]string{"PaymentSettlementStatus/Amount: must have at most 2 decimal places"}},
		// An amount of more digits than a schema processor must support
		// (libxml2, which Radial's PHP SDK validates with, stops at 24,
		// counting a fraction's trailing zeros): its status would be
		// refused, though 1.0000000000000000000000000 USD settles 1.00.
		{"Amount 1 written with 25 fraction zeros", func(r *messages.PaymentSettlementRequest) { r.Amount.Value = "1.0000000000000000000000000" }, nil, true,
			[]string{"PaymentSettlementStatus/Amount: must have at most 18 digits"}},
		{"Amount of 25 digits", func(r *messages.PaymentSettlementRequest) { r.Amount.Value = "99999999999999999999999.00" }, nil, true,
			[]string{"PaymentSettlementStatus/Amount: must have at most 18 digits"}},
		{"Amount 0", func(r *messages.PaymentSettlementRequest) { r.Amount.Value = "0" }, nil, true,
			[]string{"PaymentSettlementStatus/Amount: must be a positive amount"}},
		{"no payment context", func(r *messages.PaymentSettlementRequest) { r.PaymentContext = nil }, nil, true,
			[]string{"PaymentSettlementStatus: PaymentContext or PaymentContextBase is required"}},
		{"both contexts", func(r *messages.PaymentSettlementRequest) {
			r.PaymentContextBase = &messages.PaymentContextBase{OrderID: "ORD-1"}
		}, nil, true, []string{"PaymentSettlementStatus: PaymentContext and PaymentContextBase are a choice"}},
		{"OrderId of 21", func(r *messages.PaymentSettlementRequest) { r.PaymentContext.OrderID = strings.Repeat("o", 21) }, nil, true,
			[]string{"PaymentSettlementStatus/PaymentContext/OrderId: must be at most 20 characters (got 21)"}},
		{"account id of 23", func(r *messages.PaymentSettlementRequest) {
			r.PaymentContext.PaymentAccountUniqueID.Value = strings.Repeat("4", 23)
		}, nil, true, []string{"PaymentSettlementStatus/PaymentContext/PaymentAccountUniqueId: must be at most 22 characters (got 23)"}},
		{"isToken yes", func(r *messages.PaymentSettlementRequest) { r.PaymentContext.PaymentAccountUniqueID.IsToken = "yes" }, nil, true,
			[]string{"PaymentAccountUniqueId/@isToken: must be one of true, false"}},
		{"no tender_type header", nil, map[string]string{HeaderTenderType: ""}, true,
			[]string{"PaymentSettlementStatus/TenderType: is required"}},
		{"tender_type of 5", nil, map[string]string{HeaderTenderType: "VISAX"}, true,
			[]string{"PaymentSettlementStatus/TenderType: must be 2 to 4 characters (got 5)"}},
		{"no store_id header", nil, map[string]string{HeaderStoreID: ""}, true,
			[]string{"PaymentSettlementStatus/StoreId: is required", "header store_id is required"}},
		{"store_id of 101", nil, map[string]string{HeaderStoreID: strings.Repeat("s", 101)}, true,
			[]string{"PaymentSettlementStatus/StoreId: must be at most 100 characters (got 101)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// miva requires no tender type of its own: the status does.
			r := newRig(t, newScripted("miva", providers.Facts{}))
			req := testRequest()
			if tc.mutate != nil {
				tc.mutate(req)
			}
			msg := requestMsgFor(t, req, tc.headers)
			r.deliver(t, msg)
			ms := r.pub.take()
			if tc.parked {
				parked := only(t, ms, broker.ParkedQueue("miva"))
				reason := parked.Metadata.Get(HeaderParkedReason)
				for _, want := range tc.reasons {
					if !strings.Contains(reason, want) {
						t.Errorf("parked_reason %q\nwant it to contain %q", reason, want)
					}
				}
				if !strings.Contains(reason, "no PaymentSettlementStatus") || !strings.Contains(reason, "not sent to miva") {
					t.Errorf("parked_reason %q does not say why nothing was published and that miva was not called", reason)
				}
				if !bytes.Equal(parked.Payload, msg.Payload) {
					t.Error("the parked message does not carry the request intact")
				}
				for _, m := range ms {
					if strings.HasPrefix(m.key, statusQ) {
						t.Errorf("a status was published for a request no valid status can report:\n%s", m.msg.Payload)
					}
				}
				key := store.Key{Provider: "miva", RequestID: req.RequestID}
				if _, err := r.st.Get(context.Background(), key); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("store.Get = %v, want ErrNotFound: nothing is recorded for a parked unreportable request", err)
				}
			} else {
				ev := only(t, ms, statusQ)
				st := checkStatusBody(t, ev.Payload)
				if st.SettlementStatus != messages.StatusRejected {
					t.Errorf("SettlementStatus = %q, want R", st.SettlementStatus)
				}
				for _, want := range tc.reasons {
					if !strings.Contains(st.DeclineReason, want) {
						t.Errorf("DeclineReason %q\nwant it to contain %q", st.DeclineReason, want)
					}
				}
				if st.Amount != req.Amount || st.OrderID() != req.OrderID() || st.ClientContext != req.ClientContext {
					t.Errorf("the refusal does not echo the request's own values: %+v", st)
				}
				key := store.Key{Provider: "miva", RequestID: req.RequestID}
				if s, err := r.st.Get(context.Background(), key); err != nil || s.State != store.StateRefused {
					t.Errorf("stored settlement %+v (%v), want refused", s, err)
				}
			}
			if settles, _, _ := r.p.counts(); settles != 0 || len(r.p.confirmAttempts) != 0 {
				t.Errorf("provider called (%d settles, %d confirms) for an invalid request", settles, len(r.p.confirmAttempts))
			}

			// A redelivery ends the same way, still without a provider call.
			r.deliver(t, requestMsgFor(t, req, tc.headers))
			again := r.pub.take()
			if tc.parked {
				only(t, again, broker.ParkedQueue("miva"))
			} else {
				only(t, again, statusQ)
			}
			if settles, _, _ := r.p.counts(); settles != 0 {
				t.Errorf("provider settled %d times on a redelivery", settles)
			}
		})
	}
}

// requestMsgFor is a request message for req with the usual headers; a
// header set to "" is removed.
func requestMsgFor(t *testing.T, req *messages.PaymentSettlementRequest, headers map[string]string) *message.Message {
	t.Helper()
	msg := message.NewMessage(req.RequestID+"-"+time.Now().Format("150405.000000000"), encodeXML(t, req))
	msg.Metadata.Set(broker.MetaContentType, ContentTypeXML)
	msg.Metadata.Set(HeaderStoreID, "STORE1")
	msg.Metadata.Set(HeaderTenderType, "VC")
	for k, v := range headers {
		if v == "" {
			delete(msg.Metadata, k)
		} else {
			msg.Metadata.Set(k, v)
		}
	}
	return msg
}

// The seed's request examples settle into valid statuses (S, and R when
// the provider refuses); the examples with both contexts are parked.
func TestGoldenRequestsEndInValidStatuses(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "messages", "testdata", "request_*.xml"))
	if err != nil || len(files) != 6 {
		t.Fatalf("golden requests: %v (%v), want 6", files, err)
	}
	for _, f := range files {
		for _, refuse := range []bool{false, true} {
			name := filepath.Base(f) + map[bool]string{false: " settled", true: " refused"}[refuse]
			t.Run(name, func(t *testing.T) {
				body, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				p := newScripted("miva", providers.Facts{})
				if refuse {
					p.settleErrs = []error{providers.PermanentError("declined", "Insufficient Capture balance", nil)}
				}
				r := newRig(t, p)
				msg := message.NewMessage("golden", body)
				msg.Metadata.Set(broker.MetaContentType, ContentTypeXML)
				msg.Metadata.Set(HeaderStoreID, "ABCXYZ")
				msg.Metadata.Set(HeaderTenderType, "VC")
				r.deliver(t, msg)
				ms := r.pub.take()
				if strings.Contains(f, "both_contexts") {
					reason := only(t, ms, broker.ParkedQueue("miva")).Metadata.Get(HeaderParkedReason)
					if !strings.Contains(reason, "PaymentContext and PaymentContextBase are a choice") {
						t.Errorf("parked_reason %q", reason)
					}
					return
				}
				st := checkStatusBody(t, only(t, ms, statusQ).Payload)
				want := map[bool]string{false: messages.StatusSettled, true: messages.StatusRejected}[refuse]
				if st.SettlementStatus != want || st.TenderType != "VC" || st.StoreID != "ABCXYZ" {
					t.Errorf("status %+v, want %s", st, want)
				}
			})
		}
	}
}

// Issue 7, section 4: a request above MaxRequestBytes is parked before it
// is parsed, recorded or sent anywhere; one at the limit settles.
func TestOversizedRequestIsParkedBeforeAnyProviderCall(t *testing.T) {
	r := newRig(t, newScripted("miva", providers.Facts{}))
	small := requestMsg(t, "req-small", messages.SettlementDebit, nil)
	r.h.MaxRequestBytes = int64(len(small.Payload))
	r.deliver(t, small)
	checkStatusBody(t, only(t, r.pub.take(), statusQ).Payload)

	big := requestMsg(t, "req-big", messages.SettlementDebit, nil)
	big.Payload = append(big.Payload, bytes.Repeat([]byte(" "), 8<<20)...) // 8 MiB of trailing white space: still a valid document
	r.deliver(t, big)
	ms := r.pub.take()
	parked := only(t, ms, broker.ParkedQueue("miva"))
	reason := parked.Metadata.Get(HeaderParkedReason)
	for _, want := range []string{"MAX_REQUEST_BYTES", "8389", "not sent to miva"} {
		if !strings.Contains(reason, want) {
			t.Errorf("parked_reason %q does not contain %q", reason, want)
		}
	}
	if len(parked.Payload) != len(big.Payload) {
		t.Errorf("parked payload is %d bytes, want the request intact (%d)", len(parked.Payload), len(big.Payload))
	}
	for _, m := range ms {
		if strings.HasPrefix(m.key, statusQ) {
			t.Error("a status was published for an oversized request")
		}
	}
	if settles, _, ledger := r.p.counts(); settles != 1 || ledger["req-big"] != 0 {
		t.Errorf("provider settles %d, ledger %v: the oversized request must never reach it", settles, ledger)
	}
	if _, err := r.st.Get(context.Background(), store.Key{Provider: "miva", RequestID: "req-big"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("store.Get(req-big) = %v, want ErrNotFound", err)
	}
}

// seedLegacy records req as a version that did not check its statuses
// would have: registered (Handle's check skipped) and moved through path.
func seedLegacy(t *testing.T, r *rig, req *messages.PaymentSettlementRequest, headers map[string]string, ch store.Change, ev *store.StatusEvent, path ...store.State) *message.Message {
	t.Helper()
	ctx := context.Background()
	msg := requestMsgFor(t, req, headers)
	in := r.h.understand(msg, req, 1)
	if len(in.unreportable) == 0 {
		t.Fatal("the test needs a request no valid status can report")
	}
	s, _, err := r.st.Register(ctx, r.h.newSettlement(msg, in))
	if err != nil {
		t.Fatal(err)
	}
	for i, to := range path {
		c := store.Change{Note: "recorded by an older version"}
		var e *store.StatusEvent
		if i == len(path)-1 {
			c.Note, c.Refs, e = ch.Note+" (older version)", ch.Refs, ev
			c.DeclineReason = ch.DeclineReason
		}
		if s, _, err = r.st.Transition(ctx, s.Key, nil, to, c, e); err != nil {
			t.Fatal(err)
		}
	}
	return msg
}

// invalidEvent is a status event as an older version recorded it for req:
// an R echoing the request's invalid currency.
func invalidEvent(t *testing.T, req *messages.PaymentSettlementRequest) *store.StatusEvent {
	t.Helper()
	st := statusFor(req, "STORE1", "VC", messages.StatusRejected, "invalid request")
	body, err := messages.Encode(st)
	if err != nil {
		t.Fatal(err)
	}
	if messages.ValidateStatusDocument(body) == nil {
		t.Fatal("the test needs an invalid recorded status")
	}
	k := store.Key{Provider: "miva", RequestID: req.RequestID}
	return &store.StatusEvent{Key: k, DedupKey: "final", MessageID: eventMessageID(k, "final"), SettlementStatus: messages.StatusRejected, Body: body}
}

// A settlement recorded before statuses were checked, whose status cannot
// be valid (no tender type), still settles once; its verdict is recorded
// and the message parked instead of publishing an invalid document.
func TestLegacySettlementWithoutValidStatusIsParkedAfterItsVerdict(t *testing.T) {
	p := newScripted("miva", providers.Facts{})
	r := newRig(t, p)
	req := testRequest()
	msg := seedWithoutTenderType(t, r, req)
	r.deliver(t, msg)
	ms := r.pub.take()
	reason := only(t, ms, broker.ParkedQueue("miva")).Metadata.Get(HeaderParkedReason)
	for _, want := range []string{"settled by miva", "no PaymentSettlementStatus published", "TenderType: is required"} {
		if !strings.Contains(reason, want) {
			t.Errorf("parked_reason %q does not contain %q", reason, want)
		}
	}
	for _, m := range ms {
		if strings.HasPrefix(m.key, statusQ) {
			t.Errorf("an invalid status was published:\n%s", m.msg.Payload)
		}
	}
	s := r.get(t, req.RequestID)
	if s.State != store.StateSettled || !strings.Contains(s.ParkedReason, "TenderType") {
		t.Errorf("settlement %s, parked %q: want settled (the money moved) and parked for a person", s.State, s.ParkedReason)
	}
	if settles, _, _ := p.counts(); settles != 1 {
		t.Errorf("provider settled %d times, want 1", settles)
	}
}

// An invalid status event recorded by an older version is never published:
// not on a duplicate delivery (parked instead), not by the sweeper's relay
// (the settlement is marked for a person, once).
func TestLegacyInvalidStatusEventIsNeverPublished(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, newScripted("miva", providers.Facts{}))
	req := testRequest()
	req.Amount.CurrencyCode = "XYZ"
	reason := "invalid request: XYZ"
	msg := seedLegacy(t, r, req, nil, store.Change{DeclineReason: &reason}, invalidEvent(t, req), store.StateRefused)

	r.deliver(t, msg)
	ms := r.pub.take()
	parked := only(t, ms, broker.ParkedQueue("miva")).Metadata.Get(HeaderParkedReason)
	if !strings.Contains(parked, "not republished") || !strings.Contains(parked, `(got "XYZ")`) {
		t.Errorf("parked_reason %q", parked)
	}
	for _, m := range ms {
		if strings.HasPrefix(m.key, statusQ) {
			t.Errorf("an invalid recorded status was republished:\n%s", m.msg.Payload)
		}
	}

	w := r.sweeper(time.Minute)
	for round := 1; round <= 2; round++ {
		rep, err := w.Sweep(ctx)
		if err != nil || rep.Relayed != 0 {
			t.Fatalf("sweep %d: %+v, %v: want nothing relayed and no error", round, rep, err)
		}
	}
	// Its one parked copy (TestInvalidRecordedEventIsParkedInTheParkedQueue),
	// nothing else.
	if got := r.pub.take(); len(got) != 1 || got[0].key != broker.ParkedQueue("miva") {
		t.Errorf("the sweeper published %d messages, want its parked copy only", len(got))
	}
	s := r.get(t, req.RequestID)
	if !strings.Contains(s.ParkedReason, "recorded status event not relayed") {
		t.Errorf("ParkedReason %q: want the settlement marked for a person", s.ParkedReason)
	}
	h, err := r.st.History(ctx, s.Key)
	if err != nil {
		t.Fatal(err)
	}
	marks := 0
	for _, tr := range h {
		if tr.Note == "invalid status event" {
			marks++
		}
	}
	if marks != 1 {
		t.Errorf("the settlement was marked %d times, want once", marks)
	}
}

// A later provider status for a settlement whose request no valid status
// can echo (both contexts, refused by an older version) is parked, not
// applied with an invalid event.
func TestProviderStatusWithoutValidOwnStatusIsParked(t *testing.T) {
	r := newRig(t, newScripted("radial", providers.Facts{}))
	req := testRequest()
	req.PaymentContextBase = &messages.PaymentContextBase{OrderID: req.OrderID()}
	reason := "invalid request: both contexts"
	seedLegacy(t, r, req, nil, store.Change{DeclineReason: &reason}, nil, store.StateRefused)
	h := &ProviderStatus{Provider: "radial", Queue: "q.radial.status", Store: r.st, Pub: r.pub, Log: r.h.Log}
	// A later R (a chargeback): an S for a refused settlement is parked
	// before its document is built (overturns).
	st := statusFor(testRequest(), "STORE1", "VC", messages.StatusRejected, "chargeback")
	st.ClientContext = correlationID(store.Key{Provider: "radial", RequestID: req.RequestID}, req) // the ClientContext the worker sent
	body, err := messages.Encode(st)
	if err != nil {
		t.Fatal(err)
	}
	in := message.NewMessage("ps-1", body)
	in.Metadata.Set(broker.MetaContentType, ContentTypeXML)
	if err := h.Handle(in); err != nil {
		t.Fatal(err)
	}
	ms := r.pub.take()
	parked := only(t, ms, broker.ProviderStatusParkedQueue("radial")).Metadata.Get(HeaderParkedReason)
	if !strings.Contains(parked, "provider status not applied") || !strings.Contains(parked, "PaymentContext and PaymentContextBase are a choice") {
		t.Errorf("parked_reason %q", parked)
	}
	for _, m := range ms {
		if strings.HasPrefix(m.key, statusQ) {
			t.Errorf("an invalid status was published:\n%s", m.msg.Payload)
		}
	}
	if s := r.get(t, req.RequestID); s.State != store.StateRefused {
		t.Errorf("state %s, want refused (the provider status was not applied)", s.State)
	}
}

// seedInvalidEvent records, as an earlier version did, a refused
// settlement (currency XYZ) whose recorded status event is not a valid
// document, and returns its request.
func seedInvalidEvent(t *testing.T, r *rig) *messages.PaymentSettlementRequest {
	t.Helper()
	req := testRequest()
	req.Amount.CurrencyCode = "XYZ"
	reason := "invalid request: XYZ"
	seedLegacy(t, r, req, nil, store.Change{DeclineReason: &reason}, invalidEvent(t, req), store.StateRefused)
	return req
}

// seedWithoutTenderType records, as an earlier version did, req as
// submitting with an empty tender_type header (no valid status can answer
// it) and its call known not sent, and returns its delivery.
func seedWithoutTenderType(t *testing.T, r *rig, req *messages.PaymentSettlementRequest) *message.Message {
	t.Helper()
	return seedLegacy(t, r, req, map[string]string{HeaderTenderType: ""},
		store.Change{Refs: map[string]string{refCallNotSent: "true"}}, nil, store.StateSubmitting)
}
