package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// privateBroker is the chaos run's own RabbitMQ node, started and restarted
// through scripts/rabbitmq.sh; the shared broker is never touched.
type privateBroker struct {
	script string
	env    []string
	amqp   string // AMQP_URL of the scenario's vhost
	radial string // the scenario's vhost for Radial's status queue
	port   int
	mgmt   string
	vhost  string // the scenario's vhost (freshVhosts)
}

// freshVhosts points amqp and radial at two new vhosts named after the
// scenario (deleting and redeclaring quorum queues of the same name right
// away is fragile on RabbitMQ; fresh vhosts are not).
func (b *privateBroker) freshVhosts(ctx context.Context, name string) error {
	for _, vh := range []string{name, name + "-radial"} {
		for _, call := range []struct{ path, body string }{
			{"/api/vhosts/" + vh, "{}"},
			{"/api/permissions/" + vh + "/guest", `{"configure":".*","write":".*","read":".*"}`},
		} {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPut, b.mgmt+call.path, strings.NewReader(call.body))
			req.SetBasicAuth("guest", "guest")
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("management API: %w", err)
			}
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				return fmt.Errorf("management API PUT %s: %s", call.path, resp.Status)
			}
		}
	}
	b.vhost = name
	b.amqp = fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/%s", b.port, name)
	b.radial = fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/%s-radial", b.port, name)
	return nil
}

// queueDepth is what the management API says a queue holds.
type queueDepth struct {
	Name      string `json:"name"`
	Messages  int    `json:"messages"` // all it holds: also those dead-lettered, not yet taken by their target (at-least-once)
	Ready     int    `json:"messages_ready"`
	Unacked   int    `json:"messages_unacknowledged"`
	Consumers int    `json:"consumers"`
}

// heldMessages lists the queues of the scenario's vhost that still hold
// messages (ready, or delivered and not acked), parked queues aside: at the
// end of a run, a request the judge calls lost that sits in one was not
// lost but held (a consumer that neither acks nor hands it back waits
// forever in silence). The management API's counts lag by its
// statistics interval (5 s by default).
func (b *privateBroker) heldMessages(ctx context.Context) ([]queueDepth, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.mgmt+"/api/queues/"+url.PathEscape(b.vhost)+"?columns=name,messages,messages_ready,messages_unacknowledged,consumers", nil)
	req.SetBasicAuth("guest", "guest")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("management API: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("management API GET queues: %s", resp.Status)
	}
	var all []queueDepth
	if err := json.NewDecoder(resp.Body).Decode(&all); err != nil {
		return nil, fmt.Errorf("management API GET queues: %w", err)
	}
	var held []queueDepth
	for _, q := range all {
		if (q.Messages > 0 || q.Ready > 0 || q.Unacked > 0) && !strings.Contains(q.Name, "parked") {
			held = append(held, q)
		}
	}
	return held, nil
}

func newPrivateBroker(root string, amqpPort, mgmtPort int, node string) *privateBroker {
	return &privateBroker{
		script: filepath.Join(root, "scripts", "rabbitmq.sh"),
		env: []string{"AMQP_URL=", fmt.Sprintf("RABBITMQ_SCRATCH=%s/.tmp/rabbitmq-chaos", root),
			fmt.Sprintf("RABBITMQ_AMQP_PORT=%d", amqpPort), fmt.Sprintf("RABBITMQ_MANAGEMENT_PORT=%d", mgmtPort),
			"RABBITMQ_NODE=" + node},
		port: amqpPort,
		mgmt: fmt.Sprintf("http://127.0.0.1:%d", mgmtPort),
	}
}

func (b *privateBroker) run(ctx context.Context, verb string) error {
	cmd := exec.CommandContext(ctx, b.script, verb)
	cmd.Env = append(os.Environ(), b.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("rabbitmq.sh %s: %w\n%s", verb, err, out)
	}
	return nil
}

func (b *privateBroker) start(ctx context.Context) error { return b.run(ctx, "start") }
func (b *privateBroker) stop(ctx context.Context) error  { return b.run(ctx, "stop") }

// restart stops and starts the node's RabbitMQ application (every
// connection drops; durable queues and persistent messages survive).
func (b *privateBroker) restart(ctx context.Context) error { return b.run(ctx, "restart-app") }

// dial retries until the broker answers or ctx ends.
func dial(ctx context.Context, url, name string) (*amqp.Connection, error) {
	for {
		c, err := amqp.DialConfig(url, amqp.Config{Properties: amqp.Table{"connection_name": name}})
		if err == nil {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// consumeForever consumes queue through broker restarts and calls f for
// each delivery, acking it after f, until ctx ends. A queue that does not
// exist yet (the worker declares it) is waited for. Deliveries are acked,
// not auto-acked: a restart may redeliver what f already saw (the judge
// counts events by message_id and parked copies apart) but never drops
// what f has not seen, which the judge would call lost.
func consumeForever(ctx context.Context, url, queue string, f func(amqp.Delivery)) {
	for ctx.Err() == nil {
		conn, err := dial(ctx, url, "settlement-chaos-"+queue)
		if err != nil {
			return
		}
		ch, err := conn.Channel()
		var ds <-chan amqp.Delivery
		if err == nil {
			ds, err = ch.Consume(queue, "", false, false, false, false, nil)
		}
		if err != nil {
			conn.Close()
			select {
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		func() {
			for {
				select {
				case <-ctx.Done():
					conn.Close()
					return
				case d, ok := <-ds:
					if !ok {
						conn.Close()
						return
					}
					f(d)
					_ = d.Ack(false) // a lost ack redelivers: seen twice, not lost
				}
			}
		}()
	}
}

// publisher publishes with confirms and the mandatory flag, reconnecting
// through broker restarts: a message whose confirm did not arrive, or that
// the broker returned unrouted, is published again (same message_id: a
// duplicate the worker must absorb). Each publication it gave up on or saw
// confirmed is written to journal (when set): what the judge calls lost can
// be told apart from what never reached a queue.
type publisher struct {
	url     string
	journal io.Writer
	mu      sync.Mutex
	conn    *amqp.Connection
	ch      *amqp.Channel
	returns chan amqp.Return
	// again counts publications sent again (no confirm, a nack, returned),
	// returned those the broker returned unrouted.
	again, returned atomic.Int64
}

// errReturned is a publication the broker returned: no queue took it.
var errReturned = errors.New("returned unrouted")

func (p *publisher) note(id, what string) {
	if p.journal != nil {
		fmt.Fprintf(p.journal, "%s %s %s\n", time.Now().UTC().Format("15:04:05.000"), id, what)
	}
}

func (p *publisher) publish(ctx context.Context, key string, m amqp.Publishing) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if p.ch == nil || p.ch.IsClosed() {
			if p.conn != nil {
				p.conn.Close()
			}
			conn, err := dial(ctx, p.url, "settlement-chaos-orders")
			if err != nil {
				return err
			}
			ch, err := conn.Channel()
			if err == nil {
				err = ch.Confirm(false)
			}
			if err != nil {
				conn.Close()
				time.Sleep(300 * time.Millisecond)
				continue
			}
			// amqp091 hands a basic.return to this channel before it
			// handles the ack that follows it: once the confirm is
			// in, a return of that publication is here.
			p.conn, p.ch, p.returns = conn, ch, ch.NotifyReturn(make(chan amqp.Return, 1))
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		dc, err := p.ch.PublishWithDeferredConfirmWithContext(pctx, "payments.settlements", key, true, false, m)
		if err == nil {
			var ok bool
			ok, err = dc.WaitContext(pctx)
			if err == nil && !ok {
				err = fmt.Errorf("nacked")
			}
		}
		cancel()
		if err == nil {
			select {
			case r := <-p.returns:
				p.returned.Add(1)
				err = fmt.Errorf("%w: %s %s", errReturned, r.MessageId, r.ReplyText)
			default:
			}
		}
		if err == nil {
			p.note(m.MessageId, "confirmed")
			return nil
		}
		p.again.Add(1)
		p.note(m.MessageId, "again: "+err.Error())
		_ = p.ch.Close()
		p.ch = nil
		time.Sleep(200 * time.Millisecond)
	}
}

func (p *publisher) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil {
		p.conn.Close()
	}
}
