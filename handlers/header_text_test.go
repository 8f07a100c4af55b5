package handlers

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/store"
)

// A store_id or tender_type header holding a NUL byte or invalid UTF-8
// passed understand() and statusProblems (the encoded status writes
// U+FFFD), then Register/RegisterMoving refused it (store.ErrInvalidText):
// Handle returned an error on every delivery (nack, requeue), with no
// answer and, for a debit, a ConfirmFunds call each time. It is parked
// before anything now, naming the header, and the provider is not called.
func TestHeaderThatIsNotTextIsParked(t *testing.T) {
	cases := map[string]map[string]string{
		"store_id NUL, credit":          {HeaderStoreID: "STORE\x001"},
		"store_id invalid UTF-8, debit": {HeaderStoreID: "STORE\xff1"},
		"tender_type invalid, credit":   {HeaderTenderType: "V\xffC"},
	}
	for name, hdr := range cases {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, newScripted("miva", providers.Facts{}))
			typ := messages.SettlementCredit
			if strings.Contains(name, "debit") {
				typ = messages.SettlementDebit
			}
			for i := 1; i <= 3; i++ {
				msg := requestMsg(t, "req-h1", typ, hdr)
				if err := r.h.HandleSafely(msg); err != nil {
					t.Fatalf("delivery %d: Handle returned an error (nack/requeue, no answer); ConfirmFunds calls so far: %d: %v", i, len(r.p.confirmAttempts), err)
				}
			}
			n := 0
			for _, m := range r.pub.take() {
				if strings.HasPrefix(m.key, statusQ) || m.key == broker.ParkedQueue("miva") {
					n++
				}
			}
			if n == 0 {
				t.Fatalf("no status and nothing parked")
			}
			if c := len(r.p.confirmAttempts); c != 0 {
				t.Fatalf("the provider was called %d times", c)
			}
		})
	}
}

// refusingStore refuses every registration as the store refuses an
// identifier that is not text.
type refusingStore struct{ store.Store }

func (refusingStore) Register(context.Context, store.Settlement) (store.Settlement, bool, error) {
	return store.Settlement{}, false, fmt.Errorf("register: %w: request id %q", store.ErrInvalidText, "x")
}

func (refusingStore) RegisterMoving(context.Context, store.Settlement, store.State, store.Change) (store.Settlement, bool, error) {
	return store.Settlement{}, false, fmt.Errorf("register: %w: request id %q", store.ErrInvalidText, "x")
}

// TestUnrecordableRequestIsParked: whatever passed the checks before it, a
// new request the store refuses to record (store.ErrInvalidText) is parked
// with the store's reason, once, instead of failing every delivery.
func TestUnrecordableRequestIsParked(t *testing.T) {
	for _, typ := range []string{messages.SettlementDebit, messages.SettlementCredit} {
		t.Run(typ, func(t *testing.T) {
			r := newRig(t, newScripted("miva", providers.Facts{}))
			r.h.Store = refusingStore{r.h.Store}
			if err := r.h.HandleSafely(requestMsg(t, "req-u1", typ, nil)); err != nil {
				t.Fatalf("Handle returned %v: the delivery would come back with no answer", err)
			}
			parked := only(t, r.pub.take(), broker.ParkedQueue("miva"))
			if reason := parked.Metadata.Get(HeaderParkedReason); !strings.Contains(reason, "cannot be recorded") {
				t.Errorf("parked reason %q", reason)
			}
		})
	}
}
