package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// Settlement is what Show prints of a settlement: never its request or
// status bodies, and the account masked.
type Settlement struct {
	Provider       string            `json:"provider"`
	RequestID      string            `json:"request_id"`
	StoreID        string            `json:"store_id"`
	OrderID        string            `json:"order_id"`
	TenderType     string            `json:"tender_type,omitempty"`
	SettlementType string            `json:"settlement_type"`
	Amount         string            `json:"amount"`
	Currency       string            `json:"currency"`
	Account        string            `json:"account,omitempty"` // masked
	State          string            `json:"state"`
	Attempts       int               `json:"attempts"`
	Refs           map[string]string `json:"provider_refs"`
	DeclineReason  string            `json:"decline_reason,omitempty"`
	ParkedReason   string            `json:"parked_reason,omitempty"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
	History        []HistoryLine     `json:"history"`
	Events         []Event           `json:"events"`
}

// HistoryLine is one transition.
type HistoryLine struct {
	At   time.Time `json:"at"`
	From string    `json:"from"`
	To   string    `json:"to"`
	Note string    `json:"note,omitempty"`
}

// Event is one status event recorded for the settlement.
type Event struct {
	Seq           int        `json:"seq"`
	MessageID     string     `json:"message_id"`
	Status        string     `json:"settlement_status"`
	DeclineReason string     `json:"decline_reason,omitempty"`
	RecordedAt    time.Time  `json:"recorded_at"`
	PublishedAt   *time.Time `json:"published_at"`
}

// Show prints the settlements with requestID (one per provider that has
// it, among providers or else Env.Providers) with their history and status
// events, as text or JSON. requestID may also be the message_id of a
// status event not published yet (the sweeper's "relay MESSAGE_ID"
// warning names only that): its settlement is shown. It fails when none
// has it, or when the store does not answer within Env.Timeout.
func Show(ctx context.Context, e Env, requestID string, providers []string, asJSON bool) error {
	if len(providers) == 0 {
		providers = e.Providers
	}
	var (
		out []Settlement
		via string // how a message id led to the settlement
	)
	err := e.storeCall(ctx, func(ctx context.Context) error {
		st, err := e.openStore(ctx)
		if err != nil {
			return err
		}
		defer st.Close()
		add := func(key store.Key) error {
			s, err := st.Get(ctx, key)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			v, err := view(ctx, st, s)
			if err != nil {
				return err
			}
			out = append(out, v)
			return nil
		}
		for _, p := range providers {
			if err := add(store.Key{Provider: p, RequestID: requestID}); err != nil {
				return err
			}
		}
		if len(out) > 0 || len(providers) == 0 {
			return nil
		}
		ev, found, err := unpublishedEvent(ctx, e, st, requestID, providers)
		if err != nil || !found {
			return err
		}
		via = fmt.Sprintf("message_id %s is status event #%d of request %s (provider %s), not published yet",
			messages.MaskPANs(requestID), ev.Seq, messages.MaskPANs(ev.RequestID), ev.Provider)
		return add(ev.Key)
	})
	if err != nil {
		return err
	}
	if len(out) == 0 {
		return fmt.Errorf("no settlement has request id %q, nor a status event not published yet that message id (providers searched: %s)",
			messages.MaskPANs(requestID), strings.Join(providers, ", "))
	}
	if asJSON {
		enc := json.NewEncoder(e.out())
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if via != "" {
		fmt.Fprintln(e.out(), via)
	}
	for i, v := range out {
		if i > 0 {
			fmt.Fprintln(e.out())
		}
		printSettlement(e, v)
	}
	return nil
}

// unpublishedEvent looks for the status event with messageID among those
// not published yet (the outbox, read a page at a time), of providers.
func unpublishedEvent(ctx context.Context, e Env, st store.Store, messageID string, providers []string) (store.StatusEvent, bool, error) {
	const page = 500
	var after store.OutboxCursor
	before := e.now().Add(time.Hour)
	for {
		evs, err := st.Unpublished(ctx, before, after, page)
		var unreadable *store.UnreadableError
		if err != nil && !errors.As(err, &unreadable) {
			return store.StatusEvent{}, false, err
		}
		for _, ev := range evs {
			if ev.MessageID == messageID && slices.Contains(providers, ev.Provider) {
				return ev, true, nil
			}
		}
		if len(evs) == 0 {
			return store.StatusEvent{}, false, nil
		}
		after = evs[len(evs)-1].Cursor()
	}
}

func view(ctx context.Context, st store.Store, s store.Settlement) (Settlement, error) {
	v := Settlement{
		Provider: s.Provider, RequestID: messages.MaskPANs(s.RequestID), StoreID: messages.MaskPANs(s.StoreID), OrderID: messages.MaskPANs(s.OrderID),
		TenderType: s.TenderType, SettlementType: s.SettlementType, Amount: s.Amount, Currency: s.Currency,
		State: string(s.State), Attempts: s.Attempts, Refs: maskedRefs(s.Refs), DeclineReason: s.DeclineReason,
		ParkedReason: s.ParkedReason, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt,
		History: []HistoryLine{}, Events: []Event{},
	}
	if req, err := decodeRequest(s.ContentType, s.Request); err == nil && req.PaymentContext != nil {
		v.Account = messages.MaskAccount(req.PaymentContext.PaymentAccountUniqueID.Value)
	}
	h, err := st.History(ctx, s.Key)
	if err != nil {
		return v, err
	}
	for _, t := range h {
		v.History = append(v.History, HistoryLine{At: t.At, From: string(t.From), To: string(t.To), Note: t.Note})
	}
	evs, err := st.Statuses(ctx, s.Key)
	if err != nil {
		return v, err
	}
	for _, ev := range evs {
		x := Event{Seq: ev.Seq, MessageID: ev.MessageID, Status: ev.SettlementStatus, RecordedAt: ev.CreatedAt, PublishedAt: ev.PublishedAt}
		if body, err := messages.DecodeSettlementStatus(ev.Body); err == nil {
			x.DeclineReason = body.DeclineReason
		}
		v.Events = append(v.Events, x)
	}
	return v, nil
}

// maskedRefs is a copy of refs with a card number in a value masked: a
// provider's reference may echo the requestId (Frisbii's idempotency key),
// which may hold one.
func maskedRefs(refs map[string]string) map[string]string {
	out := make(map[string]string, len(refs))
	for k, v := range refs {
		out[k] = messages.MaskPANs(v)
	}
	return out
}

func printSettlement(e Env, v Settlement) {
	kv := func(k, format string, a ...any) {
		fmt.Fprintf(e.out(), "  %-15s %s\n", k, fmt.Sprintf(format, a...))
	}
	state := v.State
	if v.ParkedReason != "" {
		state += " (PARKED)"
	}
	fmt.Fprintf(e.out(), "settlement %s (provider %s)\n", v.RequestID, v.Provider)
	kv("state", "%s, attempts %d", state, v.Attempts)
	kv("store / order", "%s / %s", dash(v.StoreID), dash(v.OrderID))
	kv("settlement", "%s %s %s, tender %s", dash(v.SettlementType), v.Amount, v.Currency, dash(v.TenderType))
	if v.Account != "" {
		kv("account", "%s", v.Account)
	}
	kv("created", "%s", stamp(v.CreatedAt))
	kv("updated", "%s (%s ago)", stamp(v.UpdatedAt), age(e.now().Sub(v.UpdatedAt)))
	for _, k := range slices.Sorted(maps.Keys(v.Refs)) {
		kv("ref "+k, "%s", v.Refs[k])
	}
	if v.DeclineReason != "" {
		kv("decline reason", "%s", oneLine(v.DeclineReason, 0))
	}
	if v.ParkedReason != "" {
		kv("parked reason", "%s", oneLine(v.ParkedReason, 0))
	}
	fmt.Fprintln(e.out(), "history:")
	w := table(e.out())
	for _, h := range v.History {
		from := h.From
		if from == "" {
			from = "(new)"
		}
		fmt.Fprintf(w, "  %s\t%s -> %s\t%s\n", stampMS(h.At), from, h.To, oneLine(h.Note, 0))
	}
	_ = w.Flush()
	if len(v.Events) == 0 {
		fmt.Fprintln(e.out(), "status events: none")
		return
	}
	fmt.Fprintln(e.out(), "status events:")
	w = table(e.out())
	for _, ev := range v.Events {
		pub := "NOT PUBLISHED yet (the sweeper relays it)"
		if strings.HasPrefix(v.ParkedReason, store.ParkedInvalidEvent) {
			pub = "NOT PUBLISHED: never relayed (a recorded status that is not a valid document: see the parked reason)"
		}
		if ev.PublishedAt != nil {
			pub = "published " + stampMS(*ev.PublishedAt)
		}
		reason := ""
		if ev.DeclineReason != "" {
			reason = fmt.Sprintf("\treason %q", ev.DeclineReason)
		}
		fmt.Fprintf(w, "  #%d\t%s\tmessage_id %s\trecorded %s\t%s%s\n", ev.Seq, ev.Status, ev.MessageID, stampMS(ev.RecordedAt), pub, reason)
	}
	_ = w.Flush()
}
