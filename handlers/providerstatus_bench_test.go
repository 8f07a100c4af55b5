package handlers

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// discardPub confirms every publish and keeps nothing: the benchmark
// measures the handler and the store, not the broker.
type discardPub struct{}

func (discardPub) Publish(context.Context, string, string, *message.Message) error { return nil }

// BenchmarkRadialOwnStatus measures the Radial status handler on its usual
// status: an S answering a call this process made, for a settlement it
// recorded acknowledged, on a SQLite file store holding 2,000 other
// acknowledged settlements, with a Marker as the worker has. "look-up" is
// the handler without the in-process row (a status answering another
// replica's call, or before session 28): awaited's Find, then the
// transition; "in-process row" is the settlement handler's row
// (Requests.acknowledged) applied without the Find. Both have the decoded
// request in Requests, as in the worker. Each status follows a commit of
// the writer (the untimed registration of its settlement), as under load,
// where every commit empties the read pool's page caches. cpu-µs/op is the
// process's CPU (user and system, every thread: the writer's too) over the
// timed calls (docs/benchmark.md, session 28).
func BenchmarkRadialOwnStatus(b *testing.B) {
	for _, c := range []struct {
		name string
		rows bool
	}{{"look-up", false}, {"in-process row", true}} {
		b.Run(c.name, func(b *testing.B) { benchOwnStatus(b, c.rows) })
	}
}

func benchOwnStatus(b *testing.B, rows bool) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	marks := store.NewMarker(st, store.MarkerOptions{})
	defer marks.Close()
	reqs := NewRequests(1024)
	h := &ProviderStatus{Provider: "radial", Queue: "q.status.radial", Store: st, Marks: marks, Pub: discardPub{},
		Log: zerolog.Nop(), Requests: reqs}
	for i := range 2000 {
		if _, _, err := benchAcknowledged(ctx, st, fmt.Sprintf("other-%d", i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, req, err := benchAcknowledged(ctx, st, fmt.Sprintf("req-%d", i))
		if err != nil {
			b.Fatal(err)
		}
		reqs.put(s.Key, s.Request, s.ContentType, req)
		if rows {
			reqs.acknowledged(s)
		}
		msg, err := benchStatus(s, req)
		if err != nil {
			b.Fatal(err)
		}
		before, ok := processCPU()
		b.StartTimer()
		if err := h.Handle(msg); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if after, ok2 := processCPU(); ok && ok2 {
			cpu += after - before
		}
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
}

// benchAcknowledged registers settlement id acknowledged (one write) as
// the settlement handler would have left it, and returns it and its
// decoded request.
func benchAcknowledged(ctx context.Context, st store.Store, id string) (store.Settlement, *messages.PaymentSettlementRequest, error) {
	req := testRequest()
	req.RequestID = id
	req.PaymentContext.OrderID = "ORD-" + id
	body, err := messages.Encode(req)
	if err != nil {
		return store.Settlement{}, nil, err
	}
	m, err := req.Amount.Money()
	if err != nil {
		return store.Settlement{}, nil, err
	}
	key := store.Key{Provider: "radial", RequestID: id}
	s, _, err := st.RegisterMoving(ctx, store.Settlement{
		Key: key, Fingerprint: req.Fingerprint(), StoreID: "STORE1", OrderID: req.OrderID(), TenderType: "VC",
		SettlementType: req.SettlementType, Amount: m.String(), Currency: req.Amount.CurrencyCode,
		ClientContext: req.ClientContext, CorrelationID: correlationID(key, req), Request: body, ContentType: ContentTypeXML,
		Headers: map[string]string{HeaderStoreID: "STORE1", HeaderTenderType: "VC"},
	}, store.StateAcknowledged, store.Change{Refs: map[string]string{"provider_ref": "ack-" + id}, Note: "acknowledged by provider"})
	return s, req, err
}

// benchStatus is Radial's S for settlement s, sent req.
func benchStatus(s store.Settlement, req *messages.PaymentSettlementRequest) (*message.Message, error) {
	st := statusFor(req, s.StoreID, s.TenderType, messages.StatusSettled, "")
	st.ClientContext = s.CorrelationID
	body, err := messages.Encode(st)
	if err != nil {
		return nil, err
	}
	msg := message.NewMessage("radial-"+s.RequestID, body)
	msg.Metadata.Set(broker.MetaContentType, ContentTypeXML)
	msg.Metadata.Set(broker.MetaMessageID, msg.UUID)
	return msg, nil
}
