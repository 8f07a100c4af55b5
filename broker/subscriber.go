package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/cenkalti/backoff/v5"
	amqp "github.com/rabbitmq/amqp091-go"
)

// SubscriberConfig configures a queue subscriber.
type SubscriberConfig struct {
	// URL of the broker (credentials included).
	URL string
	// Prefetch is the QoS prefetch count of each consumer channel.
	Prefetch int
	// Passive consumes a queue that belongs to someone else (Radial's status
	// queue): it is checked with a passive declare, never declared or bound.
	Passive bool
}

// NewSubscriber returns a watermill-amqp subscriber that consumes the queue
// named by the topic, with Marshaler, and no topology of its own (the worker
// declares its topology once at start; see Topology). It retries the first
// connection with backoff until ctx ends.
func NewSubscriber(ctx context.Context, cfg SubscriberConfig, logger watermill.LoggerAdapter) (*wamqp.Subscriber, error) {
	var builder wamqp.TopologyBuilder = noTopology{}
	if cfg.Passive {
		builder = passiveTopology{}
	}
	// Through the header guard: a message whose headers the client
	// cannot read would close the consumer's connection, over and over.
	uri, acfg, err := Guard(cfg.URL, dialConfig("settlement-worker-consumer"))
	if err != nil {
		return nil, fmt.Errorf("subscribe at %s: %w", Redact(cfg.URL), err)
	}
	wc := wamqp.Config{
		Connection: wamqp.ConnectionConfig{
			AmqpURI:    uri,
			AmqpConfig: &acfg,
			Reconnect: &wamqp.ReconnectConfig{
				BackoffInitialInterval: 200 * time.Millisecond, BackoffRandomizationFactor: 0.5,
				BackoffMultiplier: 1.5, BackoffMaxInterval: 5 * time.Second,
			},
		},
		Marshaler:       Marshaler{},
		Exchange:        wamqp.ExchangeConfig{GenerateName: func(string) string { return "" }},
		Queue:           wamqp.QueueConfig{GenerateName: wamqp.GenerateQueueNameTopicName, Durable: true},
		QueueBind:       wamqp.QueueBindConfig{GenerateRoutingKey: func(string) string { return "" }},
		Consume:         wamqp.ConsumeConfig{Qos: wamqp.QosConfig{PrefetchCount: max(cfg.Prefetch, 1)}},
		TopologyBuilder: builder,
	}
	b := backoff.NewExponentialBackOff()
	b.MaxInterval = 10 * time.Second
	refused := refusals{}
	sub, err := backoff.Retry(ctx, func() (*wamqp.Subscriber, error) {
		s, err := wamqp.NewSubscriber(wc, logger)
		if perr := refused.check(err); perr != nil {
			return nil, perr
		}
		return s, err
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0))
	if err != nil {
		return nil, fmt.Errorf("subscribe at %s: %w", Redact(cfg.URL), err)
	}
	return sub, nil
}

// noTopology declares nothing: Topology.Declare did it at start.
type noTopology struct{}

func (noTopology) BuildTopology(*amqp.Channel, wamqp.BuildTopologyParams, wamqp.Config, watermill.LoggerAdapter) error {
	return nil
}
func (noTopology) ExchangeDeclare(*amqp.Channel, string, wamqp.Config) error { return nil }

// passiveTopology only checks that the queue exists.
type passiveTopology struct{ noTopology }

func (passiveTopology) BuildTopology(ch *amqp.Channel, p wamqp.BuildTopologyParams, _ wamqp.Config, _ watermill.LoggerAdapter) error {
	if _, err := ch.QueueDeclarePassive(p.QueueName, true, false, false, false, nil); err != nil {
		return fmt.Errorf("queue %s does not exist (it belongs to the provider; consumed passively): %w", p.QueueName, err)
	}
	return nil
}

// WaitForQueue blocks until queue exists on the broker at url (checked with
// a passive declare), retrying with backoff until ctx ends.
func WaitForQueue(ctx context.Context, url, queue string, onRetry func(error)) error {
	b := backoff.NewExponentialBackOff()
	b.MaxInterval = 5 * time.Second
	refused := refusals{}
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		conn, err := dialGuarded(url, dialConfig("settlement-worker-probe"))
		if err != nil {
			if perr := refused.check(err); perr != nil {
				return struct{}{}, perr
			}
			onRetry(err)
			return struct{}{}, err
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			onRetry(err)
			return struct{}{}, err
		}
		defer ch.Close()
		if _, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil); err != nil {
			onRetry(err)
			return struct{}{}, err
		}
		return struct{}{}, nil
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0))
	return err
}

func ptr[T any](v T) *T { return &v }
