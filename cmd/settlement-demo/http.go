package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/settlement-worker/settlement-worker/messages"
)

// ---- the worker's HTTP intake, as RetailOPS and a webhook client call it ----

// intakeClient posts to the worker's HTTP intake.
type intakeClient struct {
	base string // http://host:port
	hc   *http.Client
	out  *printer
}

// postRetailOPS posts the scenario's order_settle_payment webhook as
// RetailOPS does (Authorization: Bearer <integration auth key>). The
// README: 200 {"events":[]} once published.
func (c *intakeClient) postRetailOPS(ctx context.Context, s *scenario, attempt int) (problems []string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/orders", bytes.NewReader(s.body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+intakeRetailOPSKey)
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("POST /orders: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	took := time.Since(start).Round(time.Millisecond)

	var answer struct {
		Events []struct {
			ErrorCode    string `json:"error_code"`
			ErrorMessage string `json:"error_message"`
		} `json:"events"`
	}
	decodeErr := json.Unmarshal(body, &answer)
	what := "order_settle_payment for order " + s.order + " (the intake derives requestId " + s.id + ")"
	if attempt > 1 {
		what = "the same webhook again (a RetailOPS retry): the same requestId, so one settlement"
	}
	c.out.event("HTTP", "%-8s POST /orders #%d  %s → %s %s in %s", s.provider, attempt, what, resp.Status, shorten(strings.TrimSpace(string(body)), 80), took)
	switch {
	case resp.StatusCode != http.StatusOK:
		problems = append(problems, fmt.Sprintf("POST /orders #%d answered %s, expected 200 {\"events\":[]}", attempt, resp.Status))
	case decodeErr != nil || answer.Events == nil:
		problems = append(problems, fmt.Sprintf("POST /orders #%d answered %q, expected {\"events\":[]}", attempt, shorten(string(body), 120)))
	}
	for _, e := range answer.Events {
		problems = append(problems, fmt.Sprintf("POST /orders #%d answered error event %s: %s", attempt, e.ErrorCode, e.ErrorMessage))
	}
	return problems, nil
}

// postRadialList posts the scenarios' requests as one
// PaymentSettlementRequestList, store and tender as query parameters and
// the apikey header. The README: an AckReply once every request is
// confirmed by the broker.
func (c *intakeClient) postRadialList(ctx context.Context, scs []*scenario) (problems []string, err error) {
	var list messages.PaymentSettlementRequestList
	var names []string
	for _, s := range scs {
		req, err := messages.DecodeSettlementRequest(s.body)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.id, err)
		}
		list.Requests = append(list.Requests, *req)
		names = append(names, fmt.Sprintf("%s %s %s %s", s.id, s.typ, s.amount, currency))
	}
	body, err := messages.Encode(&list)
	if err != nil {
		return nil, err
	}
	q := url.Values{"store_id": {scs[0].store}, "tender_type": {scs[0].tender}}
	path := "/radial/settlements?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/xml")
	req.Header.Set("apikey", intakeRadialKey)
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("POST /radial/settlements: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	took := time.Since(start).Round(time.Millisecond)
	got := "unreadable answer"
	ack, ackErr := messages.DecodeAckReply(answer)
	switch {
	case ackErr == nil && ack.Received != nil:
		got = "AckReply <Received/>"
	case ackErr == nil:
		got = "AckReply without <Received/>"
	default:
		if f, err := messages.DecodeFault(answer); err == nil {
			got = fmt.Sprintf("Fault %s: %s", f.Code, shorten(f.Description, 120))
		}
	}
	c.out.event("HTTP", "%-8s POST %s  PaymentSettlementRequestList of %d (%s) → %s %s in %s",
		provRadial, path, len(scs), strings.Join(names, ", "), resp.Status, got, took)
	if resp.StatusCode != http.StatusOK || ackErr != nil || ack.Received == nil {
		problems = append(problems, fmt.Sprintf("POST %s answered %s %s, expected 200 AckReply", path, resp.Status, got))
	}
	return problems, nil
}

// ---- the status webhook: a tiny receiver inside the demo ----

// webhookReceiver is the HTTP server WEBHOOK_URL points at: it prints each
// PaymentSettlementStatusList the worker POSTs and hands its statuses to
// the tracker.
type webhookReceiver struct {
	srv     *http.Server
	url     string
	tr      func() *tracker // set once the scenarios exist
	out     *printer
	mu      sync.Mutex
	batches int
	refused int // POSTs refused (bad auth, bad body)
	done    chan struct{}
}

func startWebhook(out *printer) (*webhookReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	w := &webhookReceiver{out: out, url: "http://" + ln.Addr().String() + webhookPath, done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+webhookPath, w.serve)
	w.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(w.done)
		_ = w.srv.Serve(ln)
	}()
	return w, nil
}

func (w *webhookReceiver) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = w.srv.Shutdown(ctx)
	<-w.done
}

func (w *webhookReceiver) counts() (batches, refused int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.batches, w.refused
}

func (w *webhookReceiver) serve(rw http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(webhookUser)) != 1 || subtle.ConstantTimeCompare([]byte(pass), []byte(webhookPassword)) != 1 {
		w.mu.Lock()
		w.refused++
		w.mu.Unlock()
		w.out.event("WEBHOOK", "!! a POST without the expected basic auth: answered 401")
		http.Error(rw, "unauthorized", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		http.Error(rw, "cannot read the body", http.StatusBadRequest)
		return
	}
	list, err := messages.DecodeStatusList(body)
	if err != nil {
		w.mu.Lock()
		w.refused++
		w.mu.Unlock()
		w.out.event("WEBHOOK", "!! a body that is not a PaymentSettlementStatusList (%v): answered 400", err)
		http.Error(rw, "not a PaymentSettlementStatusList", http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	w.batches++
	n := w.batches
	w.mu.Unlock()
	var mine []string
	foreign := 0
	for _, st := range list.Statuses {
		var id string
		if tr := w.tr(); tr != nil {
			id = tr.onWebhook(st)
		}
		if id == "" {
			foreign++
			continue
		}
		mine = append(mine, id+" "+st.SettlementStatus)
	}
	line := fmt.Sprintf("batch %d: PaymentSettlementStatusList of %d (Idempotency-Key %s)", n, len(list.Statuses), short(r.Header.Get("Idempotency-Key")))
	if len(mine) > 0 {
		line += ": " + strings.Join(mine, ", ")
	}
	if foreign > 0 {
		line += fmt.Sprintf(" (+%d of earlier runs)", foreign)
	}
	w.out.event("WEBHOOK", "%s", line)
	rw.WriteHeader(http.StatusNoContent)
}

// statusKey identifies a status by what a PaymentSettlementStatus carries:
// store, order, type and amount (it has no requestId).
func statusKey(store, order, typ, amount string) string {
	if d, err := decimal.NewFromString(amount); err == nil {
		amount = d.String()
	}
	return strings.Join([]string{store, order, typ, amount}, "|")
}
