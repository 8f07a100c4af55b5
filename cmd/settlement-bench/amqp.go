package main

import (
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// collect consumes queue on conn (auto-ack) and calls f for each delivery.
func collect(conn *amqp.Connection, queue string, f func(amqp.Delivery)) error {
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	ds, err := ch.Consume(queue, "settlement-bench-collector", true, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume %s: %w", queue, err)
	}
	go func() {
		for d := range ds {
			f(d)
		}
	}()
	return nil
}

// withChannel runs f on a fresh connection and channel to url.
func withChannel(url string, f func(*amqp.Channel) error) error {
	conn, err := amqp.Dial(url)
	if err != nil {
		return fmt.Errorf("dial %s: %w", redactURL(url), err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	return f(ch)
}

// purge empties queues that exist; missing ones are skipped.
func purge(url string, queues ...string) {
	for _, q := range queues {
		_ = withChannel(url, func(ch *amqp.Channel) error {
			_, err := ch.QueuePurge(q, false)
			return err
		})
	}
}

func declareQueue(url, queue string) error {
	return withChannel(url, func(ch *amqp.Channel) error {
		if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
			return fmt.Errorf("declare %s: %w", queue, err)
		}
		return nil
	})
}

// consumers is the number of consumers of queue (0 when it does not exist).
func consumers(url, queue string) int {
	n := 0
	_ = withChannel(url, func(ch *amqp.Channel) error {
		q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
		n = q.Consumers
		return err
	})
	return n
}

// queueDepth is the number of ready messages in queue (0 when it does not exist).
func queueDepth(url, queue string) int {
	n := 0
	_ = withChannel(url, func(ch *amqp.Channel) error {
		q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
		n = q.Messages
		return err
	})
	return n
}
