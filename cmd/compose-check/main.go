// Command compose-check plays the order system against the docker-compose
// deployment, for make compose-test (scripts/compose-test.sh): it publishes
// the seed's two example Radial requests (messages/testdata), each copy with
// its own requestId and OrderId, to the composed RabbitMQ, reads the status
// events from the worker's status queue, runs -restart (the script restarts
// the worker containers) once half of the requests are published, and checks
// that nothing was lost: every request got exactly one status event (one
// message_id, redeliveries of it dropped as the contract says), settled (S).
//
//	compose-check -amqp amqp://settlement:PW@127.0.0.1:5692/ -n 200 \
//	    -restart 'docker-compose ... restart settlement-worker'
//
// It exits 0 when every request got its one status event, 1 when not, 2 on a
// setup error.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/messages"
)

// The AMQP contract's request headers (README, "The AMQP contract").
const (
	headerStoreID            = "store_id"
	headerTenderType         = "tender_type"
	headerOriginalAuthAmount = "original_authorization_amount"
	headerSettlementStatus   = "settlement_status"
	headerRequestID          = "request_id"
)

// seed is one of the seed's example requests and how it is sent.
type seed struct {
	file, tender, authAmount string
}

var seeds = []seed{
	{"request_optional_payment_context.xml", "VC", "100.00"},
	{"request_required_payment_context_base.xml", "PY", ""},
}

const storeID = "COMPOSE-STORE-1"

type options struct {
	amqpURL    string
	root       string
	n          int
	rate       float64
	restart    string
	timeout    time.Duration
	settleWait time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.amqpURL, "amqp", os.Getenv("AMQP_URL"), "the composed RabbitMQ (default $AMQP_URL)")
	flag.StringVar(&o.root, "root", ".", "repository root (for messages/testdata)")
	flag.IntVar(&o.n, "n", 200, "requests to publish (alternating the two seed examples)")
	flag.Float64Var(&o.rate, "rate", 20, "requests published per second")
	flag.StringVar(&o.restart, "restart", "", "shell command run (sh -c) once half of the requests are published")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Minute, "how long to wait for every status event")
	flag.DurationVar(&o.settleWait, "quiet", 5*time.Second, "how long to keep listening after the last expected event, for extra ones")
	flag.Parse()
	if o.amqpURL == "" || o.n < 2 || o.rate <= 0 {
		fmt.Fprintln(os.Stderr, "compose-check: need -amqp URL, -n >= 2 and -rate > 0")
		os.Exit(2)
	}
	os.Exit(run(o))
}

func logf(format string, args ...any) {
	fmt.Printf("compose-check: "+format+"\n", args...)
}

// request is one published request and what came back for it.
type request struct {
	id, order, seed string
	body            []byte
	headers         amqp.Table
	messageIDs      []string // distinct status message_ids
	statuses        []string
	deliveries      int // status deliveries, redeliveries included
}

func run(o options) int {
	runID := strconv.FormatInt(time.Now().UnixMilli(), 36)
	runID = runID[len(runID)-6:]
	reqs, err := buildRequests(o.root, runID, o.n)
	if err != nil {
		logf("%v", err)
		return 2
	}
	byID := map[string]*request{}
	for _, r := range reqs {
		byID[r.id] = r
	}

	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	conn, err := dial(ctx, o.amqpURL)
	if err != nil {
		logf("%v", err)
		return 2
	}
	defer conn.Close()

	statusQueue := broker.StatusQueueName(broker.Username(o.amqpURL))
	if err := waitQueue(ctx, conn, statusQueue); err != nil {
		logf("%v", err)
		return 2
	}

	var mu sync.Mutex
	foreign, got := 0, 0
	changed := make(chan struct{}, 1)
	cch, err := conn.Channel()
	if err != nil {
		logf("channel: %v", err)
		return 2
	}
	if err := cch.Qos(100, 0, false); err != nil {
		logf("qos: %v", err)
		return 2
	}
	deliveries, err := cch.Consume(statusQueue, "compose-check", false, false, false, false, nil)
	if err != nil {
		logf("consume %s: %v", statusQueue, err)
		return 2
	}
	go func() {
		for d := range deliveries {
			id := d.CorrelationId
			if id == "" {
				id = broker.Stringify(d.Headers[headerRequestID])
			}
			status := broker.Stringify(d.Headers[headerSettlementStatus])
			if st, err := messages.DecodeSettlementStatus(d.Body); err == nil && status == "" {
				status = st.SettlementStatus
			}
			mu.Lock()
			if r := byID[id]; r == nil {
				foreign++
			} else {
				r.deliveries++
				if !contains(r.messageIDs, d.MessageId) {
					r.messageIDs = append(r.messageIDs, d.MessageId)
					r.statuses = append(r.statuses, status)
					got++
				}
			}
			mu.Unlock()
			_ = d.Ack(false)
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	}()

	pub, err := newPublisher(conn)
	if err != nil {
		logf("%v", err)
		return 2
	}
	logf("run %s: publishing %d requests (the seed's two examples) at %.0f/s to %s; status events from %s",
		runID, len(reqs), o.rate, broker.Redact(o.amqpURL), statusQueue)
	start := time.Now()
	restartDone := make(chan error, 1)
	tick := time.NewTicker(time.Duration(float64(time.Second) / o.rate))
	defer tick.Stop()
	for i, r := range reqs {
		if i == len(reqs)/2 && o.restart != "" {
			logf("%d published: restarting the worker (%s)", i, o.restart)
			go func() {
				cmd := exec.Command("sh", "-c", o.restart)
				cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
				t0 := time.Now()
				err := cmd.Run()
				if err == nil {
					logf("restart done in %s", time.Since(t0).Round(100*time.Millisecond))
				}
				restartDone <- err
			}()
		}
		if err := pub.publish(ctx, r); err != nil {
			logf("%v", err)
			return 2
		}
		<-tick.C
	}
	logf("all %d published in %s", len(reqs), time.Since(start).Round(100*time.Millisecond))
	if o.restart != "" {
		if err := <-restartDone; err != nil {
			logf("the restart command failed: %v", err)
			return 2
		}
	}

	// Wait for every request's status, then listen a little longer for
	// extra (second) status events.
	progress := time.NewTicker(10 * time.Second)
	defer progress.Stop()
	for done := false; !done; {
		mu.Lock()
		n := got
		mu.Unlock()
		if n >= len(reqs) {
			break
		}
		select {
		case <-changed:
		case <-progress.C:
			logf("%d of %d status events so far", n, len(reqs))
		case <-ctx.Done():
			logf("timed out after %s waiting for status events", o.timeout)
			done = true
		}
	}
	time.Sleep(o.settleWait)

	mu.Lock()
	defer mu.Unlock()
	var missing, multiple, notSettled []string
	redelivered := 0
	for _, r := range reqs {
		switch {
		case len(r.messageIDs) == 0:
			missing = append(missing, r.id)
		case len(r.messageIDs) > 1:
			multiple = append(multiple, fmt.Sprintf("%s %v", r.id, r.statuses))
		case r.statuses[0] != messages.StatusSettled:
			notSettled = append(notSettled, fmt.Sprintf("%s %q", r.id, r.statuses[0]))
		}
		redelivered += r.deliveries - len(r.messageIDs)
	}
	logf("%d requests, %d with a status event, %d redelivered status events dropped by message_id, %d events of other runs, in %s",
		len(reqs), len(reqs)-len(missing), redelivered, foreign, time.Since(start).Round(100*time.Millisecond))
	fail := false
	report := func(what string, ids []string) {
		if len(ids) == 0 {
			return
		}
		fail = true
		sort.Strings(ids)
		if len(ids) > 10 {
			ids = append(ids[:10], fmt.Sprintf("... (%d in all)", len(ids)))
		}
		logf("FAIL: %s: %v", what, ids)
	}
	report("no status event (lost)", missing)
	if len(missing) > 0 {
		reportParked(conn, byID)
	}
	report("more than one status event", multiple)
	report("not settled (S)", notSettled)
	if fail {
		return 1
	}
	logf("OK: every request got exactly one status event (S), across a restart of the worker")
	return 0
}

// buildRequests makes n requests from the seed examples, alternating them,
// each with requestId cc-<run>-<i> and OrderId CC<run><i>, the rest of the
// seed's text kept byte for byte; each must still decode and validate.
func buildRequests(root, runID string, n int) ([]*request, error) {
	raws := make([][]byte, len(seeds))
	origs := make([]*messages.PaymentSettlementRequest, len(seeds))
	for i, s := range seeds {
		raw, err := os.ReadFile(filepath.Join(root, "messages", "testdata", s.file))
		if err != nil {
			return nil, fmt.Errorf("seed example: %w", err)
		}
		orig, err := messages.DecodeSettlementRequest(raw)
		if err != nil {
			return nil, fmt.Errorf("seed example %s: %w", s.file, err)
		}
		raws[i], origs[i] = raw, orig
	}
	out := make([]*request, 0, n)
	for i := range n {
		k := i % len(seeds)
		s, orig := seeds[k], origs[k]
		id := fmt.Sprintf("cc-%s-%04d", runID, i)
		order := fmt.Sprintf("CC%s%04d", runID, i)
		body := bytes.Replace(raws[k], []byte(`requestId="`+orig.RequestID+`"`), []byte(`requestId="`+id+`"`), 1)
		body = bytes.Replace(body, []byte("<OrderId>"+orig.OrderID()+"</OrderId>"), []byte("<OrderId>"+order+"</OrderId>"), 1)
		req, err := messages.DecodeSettlementRequest(body)
		if err != nil {
			return nil, fmt.Errorf("seed example %s renamed: %w", s.file, err)
		}
		if req.RequestID != id || req.OrderID() != order {
			return nil, fmt.Errorf("seed example %s: could not rename requestId/OrderId (got %q/%q)", s.file, req.RequestID, req.OrderID())
		}
		if err := req.Validate(); err != nil {
			return nil, fmt.Errorf("seed example %s renamed is not valid: %w", s.file, err)
		}
		h := amqp.Table{headerStoreID: storeID, headerTenderType: s.tender}
		if s.authAmount != "" {
			h[headerOriginalAuthAmount] = s.authAmount
		}
		out = append(out, &request{id: id, order: order, seed: s.file, body: body, headers: h})
	}
	return out, nil
}

// dial connects, retrying until ctx ends: the broker's port may be
// published a moment before it accepts logins.
func dial(ctx context.Context, url string) (*amqp.Connection, error) {
	for {
		conn, err := amqp.DialConfig(url, amqp.Config{Properties: amqp.Table{"connection_name": "compose-check (order system)"}})
		if err == nil {
			return conn, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cannot connect to %s: %w", broker.Redact(url), err)
		case <-time.After(time.Second):
		}
	}
}

// waitQueue waits until the worker declared its status queue.
func waitQueue(ctx context.Context, conn *amqp.Connection, name string) error {
	for {
		ch, err := conn.Channel()
		if err != nil {
			return err
		}
		_, err = ch.QueueDeclarePassive(name, true, false, false, false, nil)
		if err == nil {
			_ = ch.Close()
			return nil
		}
		var ae *amqp.Error
		if !errors.As(err, &ae) || ae.Code != amqp.NotFound {
			return fmt.Errorf("queue %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the worker did not declare %s", name)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// publisher publishes requests as the order system does: to the intake
// exchange, persistent, mandatory, confirmed.
type publisher struct {
	ch      *amqp.Channel
	returns chan amqp.Return
}

func newPublisher(conn *amqp.Connection) (*publisher, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		return nil, fmt.Errorf("confirm mode: %w", err)
	}
	return &publisher{ch: ch, returns: ch.NotifyReturn(make(chan amqp.Return, 16))}, nil
}

func (p *publisher) publish(ctx context.Context, r *request) error {
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	dc, err := p.ch.PublishWithDeferredConfirmWithContext(cctx, broker.IntakeExchange, broker.RequestRoutingKey("radial"), true, false, amqp.Publishing{
		ContentType:  "application/xml",
		DeliveryMode: amqp.Persistent,
		MessageId:    r.id,
		Timestamp:    time.Now(),
		AppId:        "compose-check",
		Headers:      r.headers,
		Body:         r.body,
	})
	if err != nil {
		return fmt.Errorf("publish %s: %w", r.id, err)
	}
	ok, err := dc.WaitContext(cctx)
	if err != nil {
		return fmt.Errorf("publish %s: waiting for the confirm: %w", r.id, err)
	}
	if !ok {
		return fmt.Errorf("publish %s: nacked by the broker", r.id)
	}
	select {
	case ret := <-p.returns:
		return fmt.Errorf("publish %s: unroutable (%d %s)", ret.MessageId, ret.ReplyCode, ret.ReplyText)
	default:
		return nil
	}
}

// reportParked prints this run's requests found in the parked queue, with
// why: parked_reason (parked by the worker) or x-first-death-reason (dead-
// lettered by the broker, e.g. delivery_limit). It leaves them there.
func reportParked(conn *amqp.Connection, byID map[string]*request) {
	ch, err := conn.Channel()
	if err != nil {
		return
	}
	defer ch.Close() // requeues what was read
	queue := broker.ParkedQueue("radial")
	for range 1000 {
		d, ok, err := ch.Get(queue, false)
		if err != nil || !ok {
			return
		}
		if byID[d.MessageId] == nil {
			continue
		}
		why := broker.Stringify(d.Headers["parked_reason"])
		if why == "" {
			why = "dead-lettered by the broker: " + broker.Stringify(d.Headers["x-first-death-reason"])
		}
		logf("  %s is in %s: %s", d.MessageId, queue, why)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
