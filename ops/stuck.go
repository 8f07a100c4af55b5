package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/store"
)

// stuckPage is how many settlements Stuck reads at once.
const stuckPage = 200

// WaitingStates are the states a settlement passes through; one that stays
// in them too long is stuck. Terminal states (settled, refused, withheld)
// end the pipeline.
var WaitingStates = []store.State{
	store.StateReceived, store.StateConfirming, store.StateConfirmed,
	store.StateSubmitting, store.StateAcknowledged, store.StatePending,
}

// StuckSettlement is a settlement waiting past the deadline. A card number
// in its requestId, store or order id is masked; the rest (provider, state,
// times) tells the row, and show takes the requestId in full.
type StuckSettlement struct {
	Provider  string    `json:"provider"`
	State     string    `json:"state"`
	RequestID string    `json:"request_id"`
	StoreID   string    `json:"store_id"`
	OrderID   string    `json:"order_id"`
	Attempts  int       `json:"attempts"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Stuck prints the settlements in states (WaitingStates when empty) of
// providers (all when empty) that were last updated more than olderThan
// ago and are not parked, by provider and state, oldest first, with a
// count per provider and state. Settlements whose sealed body no
// configured key opens are named on the error output after the others, and
// the command fails (store.UnreadableError). A store that does not answer
// within Env.Timeout fails it.
func Stuck(ctx context.Context, e Env, states []store.State, providers []string, olderThan time.Duration, asJSON bool) error {
	if len(states) == 0 {
		states = WaitingStates
	}
	now := e.now()
	var st store.Store
	if err := e.storeCall(ctx, func(ctx context.Context) error {
		var err error
		st, err = e.openStore(ctx)
		return err
	}); err != nil {
		return err
	}
	defer st.Close()
	// A page at a time (each within the timeout), keeping only what is
	// printed: the rows hold the request bodies, and an outage can leave
	// very many settlements waiting.
	out := []StuckSettlement{}
	var unreadable *store.UnreadableError
	seen := map[store.Key]bool{}
	for after := (store.StaleCursor{}); ; {
		var page []store.Settlement
		err := e.storeCall(ctx, func(ctx context.Context) error {
			var err error
			page, err = st.Stale(ctx, providers, states, now.Add(-olderThan), after, stuckPage)
			return err
		})
		var ue *store.UnreadableError
		if err != nil && !errors.As(err, &ue) {
			return err
		}
		if ue != nil {
			if unreadable == nil {
				unreadable = &store.UnreadableError{}
			}
			for _, r := range ue.Rows { // read again by a later page when past this one's last row
				if !seen[r.Key] {
					seen[r.Key] = true
					unreadable.Rows = append(unreadable.Rows, r)
				}
			}
		}
		for _, s := range page {
			if len(providers) > 0 && !slices.Contains(providers, s.Provider) {
				continue
			}
			out = append(out, StuckSettlement{Provider: s.Provider, State: string(s.State), RequestID: messages.MaskPANs(s.RequestID),
				StoreID: messages.MaskPANs(s.StoreID), OrderID: messages.MaskPANs(s.OrderID), Attempts: s.Attempts,
				CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt})
		}
		if len(page) < stuckPage {
			break
		}
		after = page[len(page)-1].Cursor()
	}
	if unreadable != nil {
		defer func() {
			for _, r := range unreadable.Rows {
				fmt.Fprintf(e.errw(), "cannot read %s/%s (%s): its sealed body opens with no configured key (STORE_ENCRYPTION_KEY, STORE_ENCRYPTION_OLD_KEYS)\n",
					r.Key.Provider, messages.MaskPANs(r.Key.RequestID), r.State)
			}
		}()
	}
	result := func() error {
		if unreadable != nil {
			return unreadable
		}
		return nil
	}
	// Stale orders by update; group by provider and state, keeping that.
	slices.SortStableFunc(out, func(a, b StuckSettlement) int {
		return strings.Compare(a.Provider+"\x00"+a.State, b.Provider+"\x00"+b.State)
	})
	if asJSON {
		enc := json.NewEncoder(e.out())
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
		return result()
	}
	names := make([]string, len(states))
	for i, s := range states {
		names[i] = string(s)
	}
	if len(out) == 0 {
		fmt.Fprintf(e.out(), "no settlement has waited more than %s in %s\n", olderThan, strings.Join(names, ", "))
		return result()
	}
	w := table(e.out())
	fmt.Fprintln(w, "PROVIDER\tSTATE\tREQUEST\tSTORE\tORDER\tATTEMPTS\tLAST UPDATE\tWAITING")
	for _, s := range out {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.Provider, s.State, oneLine(s.RequestID, 40), dash(s.StoreID),
			dash(oneLine(s.OrderID, 30)), s.Attempts, stamp(s.UpdatedAt), age(now.Sub(s.UpdatedAt)))
	}
	_ = w.Flush()
	fmt.Fprintf(e.out(), "%d settlement(s) waited more than %s:", len(out), olderThan)
	for i := 0; i < len(out); {
		j := i
		for j < len(out) && out[j].Provider == out[i].Provider && out[j].State == out[i].State {
			j++
		}
		fmt.Fprintf(e.out(), " %s/%s %d (oldest %s);", out[i].Provider, out[i].State, j-i, age(now.Sub(out[i].UpdatedAt)))
		i = j
	}
	fmt.Fprintln(e.out(), " parked ones are listed by `parked ls`")
	return result()
}
