package paysafe_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers/paysafe"
	sandbox "github.com/settlement-worker/settlement-worker/sandbox/paysafe"
)

// A request for a store PAYSAFE_ACCOUNTS does not name is a gap in our
// configuration, not something the customer or the order did: it was
// refused (R, "no Paysafe account is configured"), and the order system,
// told the capture was refused, gave up on money it was owed. It is parked
// for a person, naming the setting, before any call reaches Paysafe; once
// the account is configured, the replay settles it: S, one capture in
// the sandbox's ledger.
func TestStoreWithoutAccountIsParkedThenReplayedOnceConfigured(t *testing.T) {
	const newStore = "STORE-NEW"
	e := newEnv(t, sandbox.Config{})
	authID := e.authorize(t, sandbox.Authorization{Amount: 5000})
	p := newPipeline(t, e)

	msg := requestMessage(t, "unconf-1", messages.SettlementDebit, "50.00", map[string]string{"authorization_id": authID, "store_id": newStore})
	if err := p.h.Handle(msg); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	var parked int
	var parking string
	for _, m := range p.pub.take() {
		switch {
		case m.exchange == broker.StatusExchange:
			st, _ := messages.DecodeSettlementStatus(m.msg.Payload)
			t.Fatalf("a verdict was published for a configuration gap: %+v", st)
		case m.key == broker.ParkedQueue(paysafe.Name):
			parked++
			parking = m.msg.Metadata.Get(broker.HeaderParking)
			reason := m.msg.Metadata.Get(handlers.HeaderParkedReason)
			if !strings.Contains(reason, "PAYSAFE_ACCOUNTS") || !strings.Contains(reason, newStore) {
				t.Errorf("parked reason %q does not name PAYSAFE_ACCOUNTS and the store", reason)
			}
		default:
			t.Fatalf("unexpected publish to %q %q", m.exchange, m.key)
		}
	}
	if parked != 1 {
		t.Fatalf("%d parked copies, want 1", parked)
	}
	if c := e.sb.Calls(); len(e.sb.Ledger()) != 0 || c.Settle.Total != 0 || c.Get.Total != 0 || c.Lookup.Total != 0 {
		t.Fatalf("ledger %+v, calls %+v: want nothing sent for an unconfigured store", e.sb.Ledger(), c)
	}

	// PAYSAFE_ACCOUNTS fixed, the worker restarted, the request replayed.
	cfg := clientConfig(e.srv.URL+"/paysafe", user, pass)
	cfg.Accounts[newStore] = acct
	fixed, err := paysafe.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &handlers.Settlement{
		Provider: fixed, Store: p.h.Store, Pub: p.pub,
		Retry:       handlers.RetryPolicy{Delays: []time.Duration{time.Second, recheck}, MaxAttempts: 5},
		CallTimeout: 2 * time.Second, Log: zerolog.Nop(),
	}
	fp := &pipeline{h: h, pub: p.pub}
	replay := requestMessage(t, "unconf-1", messages.SettlementDebit, "50.00", map[string]string{"authorization_id": authID, "store_id": newStore})
	replay.Metadata.Set(broker.HeaderReplayed, time.Now().UTC().Format(time.RFC3339))
	replay.Metadata.Set(broker.HeaderParking, parking) // the parked copy's, which a replay keeps
	next, st := fp.deliver(t, replay)
	if st != nil || next == nil {
		t.Fatalf("replay: next=%v status=%+v, want a poll copy", next, st)
	}
	e.sb.RunBatch()
	if _, st = fp.deliver(t, next); st == nil || st.SettlementStatus != messages.StatusSettled {
		t.Fatalf("after the batch: status %+v, want S", st)
	}
	if l := e.sb.Ledger(); len(l) != 1 || l[0].Amount != 5000 || l[0].Kind != sandbox.KindSettlement {
		t.Fatalf("ledger %+v, want one capture of 50.00", l)
	}
}
