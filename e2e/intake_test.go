package e2e

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/sandbox/radial"
)

// TestRetailOPSWebhookTwiceSettlesOnce posts the seed's order_settle_payment
// webhook to the worker's HTTP intake twice: both are answered
// {"events":[]} after the publish confirm, and the order is settled once.
// The status events also reach a webhook client as a
// PaymentSettlementStatusList.
func TestRetailOPSWebhookTwiceSettlesOnce(t *testing.T) {
	body, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), "intake", "testdata", "retailops_order_settle_payment_v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	hook := newListReceiver(t)
	e := newEnv(t, envOpts{})
	e.authorize(radial.Authorization{OrderID: "4897", Amount: "35.00"})
	addr := freeAddr(t)
	e.start(
		"INTAKE_ADDR="+addr,
		"INTAKE_RETAILOPS_AUTH_KEYS=ro-secret",
		"INTAKE_RETAILOPS_CHANNELS=21=radial:"+storeID+":PY:USD",
		"INTAKE_RADIAL_API_KEYS=radial-client-key",
		"WEBHOOK_URL="+hook.srv.URL, "WEBHOOK_USERNAME=hook", "WEBHOOK_PASSWORD=hook-pw", "WEBHOOK_BATCH_WAIT=100ms",
	)
	for i := 0; i < 2; i++ {
		r, err := http.NewRequest(http.MethodPost, "http://"+addr+"/orders", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer ro-secret")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Contains(got, []byte(`"events":[]`)) {
			t.Fatalf("post %d: HTTP %d %s", i+1, resp.StatusCode, got)
		}
	}
	const id = "ro-21-4897-2572-6"
	ev := oneEvent(t, e, id, messages.StatusSettled)
	if ev.Status.Amount.Value != "35.00" || ev.Status.TenderType != "PY" {
		t.Errorf("status: %+v", ev.Status)
	}
	if n := debits(e.ledger(id)); n != 1 {
		t.Fatalf("want one debit for the webhook posted twice, got %d", n)
	}
	// Wrong key: refused, nothing published.
	r, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/orders", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer wrong")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong key: HTTP %d", resp.StatusCode)
	}
	// A Radial webhook client posts a PaymentSettlementRequestList: the ACK
	// comes after both are confirmed, and both settle.
	e.authorize(radial.Authorization{OrderID: "o-list", Amount: "100.00"})
	var list messages.PaymentSettlementRequestList
	ids := []string{uniq("list1"), uniq("list2")}
	for _, lid := range ids {
		m, err := messages.DecodeSettlementRequest(req{RequestID: lid, OrderID: "o-list", Amount: "10.00"}.xml(t))
		if err != nil {
			t.Fatal(err)
		}
		list.Requests = append(list.Requests, *m)
	}
	lb, err := messages.Encode(list)
	if err != nil {
		t.Fatal(err)
	}
	r, _ = http.NewRequest(http.MethodPost, "http://"+addr+"/radial/settlements?store_id="+storeID+"&tender_type=VC", bytes.NewReader(lb))
	r.Header.Set("Content-Type", "application/xml")
	r.Header.Set("apikey", "radial-client-key")
	resp, err = http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	ack, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(ack, []byte("Received")) {
		t.Fatalf("list: HTTP %d %s", resp.StatusCode, ack)
	}
	for _, lid := range ids {
		oneEvent(t, e, lid, messages.StatusSettled)
	}

	// The webhook client received the status in a list, with basic auth.
	deadline := time.Now().Add(wait)
	for hook.count(id) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if hook.count(id) == 0 {
		t.Fatalf("the status webhook never received %s", id)
	}
	if hook.user != "hook" || hook.pass != "hook-pw" {
		t.Errorf("webhook basic auth: %q/%q", hook.user, hook.pass)
	}
}

// listReceiver is a webhook client receiving PaymentSettlementStatusList.
type listReceiver struct {
	srv        *httptest.Server
	mu         sync.Mutex
	byClient   map[string]int
	user, pass string
}

func newListReceiver(t *testing.T) *listReceiver {
	l := &listReceiver{byClient: map[string]int{}}
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		list, err := messages.DecodeStatusList(b)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		l.mu.Lock()
		l.user, l.pass, _ = r.BasicAuth()
		for _, st := range list.Statuses {
			l.byClient[st.ClientContext]++
		}
		l.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(l.srv.Close)
	return l
}

// count returns how many statuses with this ClientContext arrived (the
// RetailOPS intake uses the requestId as ClientContext).
func (l *listReceiver) count(clientContext string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byClient[clientContext]
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
