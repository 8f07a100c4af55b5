package handlers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// A delivery of a finished settlement whose bodies retention emptied
// (BODY_RETENTION, `settlement-worker retention`: store.PurgeBodies) — the
// order system sending it again, the operator replaying a parked copy, a
// redelivery — cannot republish the recorded status: its body is gone. It
// was parked saying the recorded status "would not be valid against
// Radial's schema (body is empty)", a parse error that sends the operator
// hunting for a corrupt document. The reason now says the bodies were
// purged after the retention period, what the verdict was, and what to do;
// nothing is settled, refused or published because of it.
func TestDuplicateOfAPurgedSettlementNamesRetention(t *testing.T) {
	cases := []struct {
		name    string
		typ     string
		refuse  bool
		headers map[string]string
		verdict store.State
	}{
		{"debit settled, sent again by the order system", messages.SettlementDebit, false, nil, store.StateSettled},
		{"debit refused, sent again by the order system", messages.SettlementDebit, true, nil, store.StateRefused},
		{"credit settled, replayed by the operator", messages.SettlementCredit, false,
			map[string]string{broker.HeaderReplayed: time.Now().UTC().Format(time.RFC3339)}, store.StateSettled},
		{"debit settled, redelivered", messages.SettlementDebit, false,
			map[string]string{broker.MetaRedelivered: "true"}, store.StateSettled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newScripted("prov", providers.Facts{})
			if c.refuse {
				p.settleErrs = []error{providers.PermanentError("05", "do not honour", nil)}
			}
			r := newRig(t, p)
			r.deliver(t, requestMsg(t, "req-1", c.typ, nil))
			r.pub.take()
			before := r.get(t, "req-1")
			if before.State != c.verdict {
				t.Fatalf("the first delivery left the settlement %s, want %s", before.State, c.verdict)
			}
			ctx := context.Background()
			if n, err := r.st.PurgeBodies(ctx, time.Now().Add(time.Hour), 10); err != nil || n != 1 {
				t.Fatalf("PurgeBodies = %d, %v; want the one settlement", n, err)
			}
			settles, _, _ := p.counts()

			r.deliver(t, requestMsg(t, "req-1", c.typ, c.headers))

			ms := r.pub.take()
			for _, m := range ms {
				if strings.HasPrefix(m.key, statusQ) {
					t.Errorf("a status was published for a duplicate of a purged settlement: %s", m.key)
				}
			}
			parked := only(t, ms, broker.ParkedQueue("prov"))
			reason := parked.Metadata.Get(HeaderParkedReason)
			if strings.Contains(reason, "body is empty") || strings.Contains(reason, "schema") {
				t.Errorf("parked reason blames the document, not retention: %s", reason)
			}
			for _, want := range []string{"retention", "purged", string(c.verdict)} {
				if !strings.Contains(reason, want) {
					t.Errorf("parked reason does not say %q: %s", want, reason)
				}
			}
			after := r.get(t, "req-1")
			if after.State != before.State || after.ParkedReason != "" || after.DeclineReason != before.DeclineReason {
				t.Errorf("the duplicate changed the settlement: %s %q %q → %s %q %q",
					before.State, before.ParkedReason, before.DeclineReason, after.State, after.ParkedReason, after.DeclineReason)
			}
			if s, _, _ := p.counts(); s != settles {
				t.Errorf("the provider was called to settle again (%d → %d)", settles, s)
			}
		})
	}
}

// A provider status for a settlement whose event bodies retention emptied
// — a redelivery of the status that was applied, or the same verdict again
// under a new message_id — cannot republish our event. It was parked
// saying our status "would not be valid against Radial's schema (body is
// empty)"; it now names the retention. Nothing is recorded or published.
func TestProviderStatusOfAPurgedSettlementNamesRetention(t *testing.T) {
	cases := []struct {
		name  string
		first []statusSpec
		again statusSpec
	}{
		{"redelivery of the applied S", []statusSpec{{msgID: "m1"}}, statusSpec{msgID: "m1"}},
		{"the same S under a new message_id", []statusSpec{{msgID: "m1"}}, statusSpec{msgID: "m2"}},
		{"the same chargeback R under a new message_id",
			[]statusSpec{{msgID: "m1"}, {msgID: "m2", verdict: messages.StatusRejected, decline: "chargeback"}},
			statusSpec{msgID: "m3", verdict: messages.StatusRejected, decline: "chargeback"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newPSEnv(t)
			e.seed(seedSpec{id: "req-A", cc: "cc-A", state: store.StateAcknowledged})
			cc := e.corr["req-A"]
			ctx := context.Background()
			for _, s := range c.first {
				s.cc = cc
				if err := e.h.Handle(s.message(t)); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := e.st.PurgeBodies(ctx, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), 10); err != nil || n != 1 {
				t.Fatalf("PurgeBodies = %d, %v; want the one settlement", n, err)
			}
			for e.drain(statusQueue) {
			}
			key := store.Key{Provider: "radial", RequestID: "req-A"}
			before, err := e.st.Statuses(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			c.again.cc = cc
			if err := e.h.Handle(c.again.message(t)); err != nil {
				t.Fatal(err)
			}
			if evs, err := e.st.Statuses(ctx, key); err != nil || len(evs) != len(before) {
				t.Errorf("%d events after the status, want %d (%v)", len(evs), len(before), err)
			}
			if _, ok := e.get(statusQueue); ok {
				t.Error("an event was published for a status of a purged settlement")
			}
			d, ok := e.get(broker.ProviderStatusParkedQueue("radial"))
			if !ok {
				t.Fatal("the status was not parked")
			}
			reason, _ := d.Headers[HeaderParkedReason].(string)
			if strings.Contains(reason, "body is empty") || strings.Contains(reason, "schema") ||
				!strings.Contains(reason, "retention") || !strings.Contains(reason, "purged") {
				t.Errorf("parked reason does not name the retention: %s", reason)
			}
		})
	}
}
