package main

import (
	"context"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/broker"
)

// runRaw measures the broker's limit for the worker's traffic: the worker's
// request queue (declared with broker.Topology, so with the same type and
// arguments), fed through the intake topic exchange by o.concurrency
// publishers waiting for their confirms, drained by one consumer with
// prefetch o.concurrency acking each message. Publishers and consumer use
// separate connections, as the worker does.
func runRaw(ctx context.Context, o options, url string) (*sample, error) {
	l, err := newLoad("raw", o.rawN, o.window)
	if err != nil {
		return nil, err
	}
	pubConn, err := amqp.DialConfig(url, amqp.Config{Properties: amqp.Table{"connection_name": "settlement-bench-raw-publisher"}})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", redactURL(url), err)
	}
	defer pubConn.Close()
	conConn, err := amqp.DialConfig(url, amqp.Config{Properties: amqp.Table{"connection_name": "settlement-bench-raw-consumer"}})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", redactURL(url), err)
	}
	defer conConn.Close()

	ch, err := conConn.Channel()
	if err != nil {
		return nil, err
	}
	// The same request queue as the worker's (delivery limit and overflow
	// included), without retry queues: nothing is retried here.
	t := broker.Topology{Providers: []string{"radial"}, QueueType: o.queueType, DeliveryLimit: workerDeliveryLimit}
	if err := t.Declare(conConn); err != nil {
		return nil, err
	}
	if err := ch.Qos(o.publishers, 0, false); err != nil {
		return nil, fmt.Errorf("qos: %w", err)
	}
	deliveries, err := ch.Consume(broker.RequestQueue("radial"), "settlement-bench-raw", false, false, false, false, nil)
	if err != nil {
		return nil, fmt.Errorf("consume: %w", err)
	}
	consumed := make(chan error, 1)
	go func() {
		for d := range deliveries {
			l.completeID(d.MessageId)
			if err := d.Ack(false); err != nil {
				consumed <- fmt.Errorf("ack: %w", err)
				return
			}
		}
	}()

	runErr := l.run(ctx, pubConn, o.publishers, o.timeout)
	s := l.sample("raw")
	select {
	case err := <-consumed:
		if runErr == nil {
			runErr = err
		}
	default:
	}
	return &s, runErr
}
