package store

import "time"

// testPurgeBodiesLaterEvents: an event whose body a purge had to keep (not
// yet confirmed as published), or a further event recorded after the
// purge (a chargeback R after an S), is emptied by a later purge once it
// is published and the settlement is past retention again. The request
// body was already empty, and the purge only ever looked at settlements
// whose request body was not: those event bodies (Radial's status echoes
// the account, a raw card number) were kept for ever.
func testPurgeBodiesLaterEvents(e *env) {
	start := e.clock.Now()
	late := e.register(sample("late")).Key
	e.transition(late, nil, StateRefused, Change{}, &StatusEvent{DedupKey: "final", MessageID: "m-late", SettlementStatus: "R", Body: []byte("<s>late</s>")})
	charged := e.register(sample("charged")).Key
	e.transition(charged, nil, StateSettled, Change{}, &StatusEvent{DedupKey: "final", MessageID: "m-s", SettlementStatus: "S", Body: []byte("<s>S</s>")})
	if err := e.st.MarkPublished(e.ctx, "m-s", time.Time{}); err != nil {
		e.Fatal(err)
	}
	e.clock.Set(start.Add(48 * time.Hour))
	if n, err := e.st.PurgeBodies(e.ctx, start.Add(24*time.Hour), 0); err != nil || n != 2 {
		e.Fatalf("PurgeBodies = %d, %v; want 2", n, err)
	}
	// Later: the outbox relay publishes late's event; a chargeback R is
	// recorded and published on charged.
	if err := e.st.MarkPublished(e.ctx, "m-late", time.Time{}); err != nil {
		e.Fatal(err)
	}
	e.transition(charged, []State{StateSettled}, StateRefused, Change{}, &StatusEvent{DedupKey: "ps:2", MessageID: "m-r", SettlementStatus: "R", Body: []byte("<s>chargeback</s>")})
	if err := e.st.MarkPublished(e.ctx, "m-r", time.Time{}); err != nil {
		e.Fatal(err)
	}
	e.clock.Set(start.Add(96 * time.Hour))
	if _, err := e.st.PurgeBodies(e.ctx, start.Add(72*time.Hour), 0); err != nil {
		e.Fatal(err)
	}
	for _, key := range []Key{late, charged} {
		for _, ev := range e.statuses(key) {
			if len(ev.Body) != 0 {
				e.Errorf("%s: published event %s keeps its body %q past retention", key.RequestID, ev.MessageID, ev.Body)
			}
		}
	}
	if n, err := e.st.PurgeBodies(e.ctx, start.Add(72*time.Hour), 0); err != nil || n != 0 {
		e.Errorf("third PurgeBodies = %d, %v; want 0 (nothing left to empty)", n, err)
	}
}
