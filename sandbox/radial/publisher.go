package radial

import (
	"context"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// StatusMessageType is the AMQP type property of status messages; Radial's
// client library dispatches on it.
const StatusMessageType = "PaymentSettlementStatus"

// Start runs the status publisher: every emitted status is published, in
// order, to Config.StatusQueue on Config.StatusAMQPURL through the default
// exchange, persistent and with publisher confirms (pipelined: every pending
// status, up to publishWindow, is sent before their confirms are awaited,
// so a slow confirm does not pace the statuses). While the broker is
// unreachable statuses wait in the outbox and the publisher reconnects with
// exponential backoff. It stops when ctx is done or the sandbox is closed.
func (s *Sandbox) Start(ctx context.Context) error {
	if s.cfg.StatusAMQPURL == "" {
		return errors.New("radial sandbox: Start needs Config.StatusAMQPURL")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		return errors.New("radial sandbox: Start after Close")
	default:
	}
	if s.started {
		return errors.New("radial sandbox: already started")
	}
	s.started = true
	s.wg.Add(1)
	go s.runPublisher(ctx)
	return nil
}

// publisherConn is the publisher's connection and confirm-mode channel.
type publisherConn struct {
	conn *amqp.Connection
	ch   *amqp.Channel
}

func (p *publisherConn) close() {
	if p == nil {
		return
	}
	if p.ch != nil {
		_ = p.ch.Close()
	}
	if p.conn != nil {
		_ = p.conn.Close()
	}
}

func (s *Sandbox) runPublisher(ctx context.Context) {
	defer s.wg.Done()
	// Close must not wait for a publish confirm or a dial to time out.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	var pc *publisherConn
	defer func() { pc.close() }()
	backoff := s.cfg.RetryMinBackoff
	// Connect (and declare the queue) right away so that consumers find
	// Radial's queue before the first status; failures are retried when
	// the first status is due.
	if err := s.ensureConn(&pc); err != nil {
		s.log.Warn().Err(err).Msg("status broker not reachable yet; statuses wait in the outbox")
	}
	for {
		batch := s.nextPending(publishWindow)
		if len(batch) == 0 {
			select {
			case <-s.kick:
				continue
			case <-ctx.Done():
				return
			case <-s.closed:
				return
			}
		}
		err := s.ensureConn(&pc)
		var rec *StatusRecord
		if err == nil {
			rec, err = s.publishBatch(ctx, pc, batch)
		} else {
			rec = batch[0]
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			pc.close()
			pc = nil
			s.log.Warn().Err(err).Str("message_id", rec.MessageID).Dur("retry_in", backoff).Msg("publishing settlement status failed; will retry")
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			case <-s.closed:
				return
			}
			backoff = min(backoff*2, s.cfg.RetryMaxBackoff)
			continue
		}
		backoff = s.cfg.RetryMinBackoff
	}
}

// publishWindow bounds the statuses published before their confirms are
// awaited: the publisher sends every pending status (up to this many) on its
// channel, then waits for their confirms in order, so that one broker
// round trip carries a whole batch instead of one status.
const publishWindow = 256

// nextPending returns the oldest unpublished statuses (at most n), in
// emission order, counting an attempt for each.
func (s *Sandbox) nextPending(n int) []*StatusRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	batch := append([]*StatusRecord(nil), s.outbox[:min(n, len(s.outbox))]...)
	for _, r := range batch {
		r.Attempts++
	}
	return batch
}

// markPublished records that the oldest statuses of the outbox, batch (in
// emission order), were confirmed.
func (s *Sandbox) markPublished(batch []*StatusRecord) {
	if len(batch) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for _, r := range batch {
		r.Published, r.PublishedAt = true, &now
		if len(s.outbox) > 0 && s.outbox[0] == r {
			s.outbox = s.outbox[1:]
		}
		s.log.Debug().Str("message_id", r.MessageID).Str("request_id", r.RequestID).Msg("settlement status published")
	}
	s.notifyLocked()
}

// ensureConn (re)connects and declares Radial's durable status queue.
func (s *Sandbox) ensureConn(pp **publisherConn) error {
	if p := *pp; p != nil && !p.conn.IsClosed() && !p.ch.IsClosed() {
		return nil
	}
	(*pp).close()
	*pp = nil
	conn, err := amqp.DialConfig(s.cfg.StatusAMQPURL, amqp.Config{
		Properties: amqp.Table{"connection_name": "radial-sandbox-status-publisher"},
		Dial:       amqp.DefaultDial(s.cfg.PublishTimeout),
	})
	if err != nil {
		return fmt.Errorf("connecting to the status broker: %w", err)
	}
	p := &publisherConn{conn: conn}
	if p.ch, err = conn.Channel(); err != nil {
		p.close()
		return fmt.Errorf("opening a channel: %w", err)
	}
	if err := p.ch.Confirm(false); err != nil {
		p.close()
		return fmt.Errorf("enabling publisher confirms: %w", err)
	}
	if _, err := p.ch.QueueDeclare(s.cfg.StatusQueue, true, false, false, false, nil); err != nil {
		p.close()
		return fmt.Errorf("declaring queue %s: %w", s.cfg.StatusQueue, err)
	}
	s.log.Info().Str("queue", s.cfg.StatusQueue).Msg("status publisher connected")
	*pp = p
	return nil
}

// publishBatch publishes batch in order on one channel, then waits for the
// broker's confirms in the same order, marking each prefix of confirmed
// statuses published. At the first failure (a publish error, a nack, a
// timeout) it returns the status that failed and the error: that status
// and every later one of the batch stay in the outbox and are published
// again, in order, after the reconnect (at least once: a later status may
// already have reached the queue and then arrives twice).
func (s *Sandbox) publishBatch(ctx context.Context, p *publisherConn, batch []*StatusRecord) (*StatusRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PublishTimeout)
	defer cancel()
	dcs := make([]*amqp.DeferredConfirmation, 0, len(batch))
	var perr error
	for _, r := range batch {
		dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, "", s.cfg.StatusQueue, false, false, amqp.Publishing{
			ContentType:  "application/xml",
			Type:         StatusMessageType,
			DeliveryMode: amqp.Persistent,
			MessageId:    r.MessageID,
			Timestamp:    r.EmittedAt.UTC().Truncate(time.Second),
			Body:         r.Body,
		})
		if err != nil {
			perr = fmt.Errorf("publishing status %s: %w", r.MessageID, err)
			break
		}
		dcs = append(dcs, dc)
	}
	for i, dc := range dcs {
		r := batch[i]
		ok, err := dc.WaitContext(ctx)
		if err == nil && !ok {
			err = fmt.Errorf("broker refused (nack) status %s", r.MessageID)
		} else if err != nil {
			err = fmt.Errorf("waiting for the confirm of status %s: %w", r.MessageID, err)
		}
		if err != nil {
			s.markPublished(batch[:i])
			return r, err
		}
	}
	s.markPublished(batch[:len(dcs)])
	if perr != nil {
		return batch[len(dcs)], perr
	}
	return nil, nil
}
