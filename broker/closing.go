package broker

import (
	"errors"
	"fmt"
	"time"
)

// errNoAnswer is closeWithin's error when the closing it waited for is
// still waiting for the broker after the grace and the forced close.
var errNoAnswer = errors.New("the broker did not answer the closing")

// closeWithin calls close and waits up to grace for it to return. amqp091
// waits for the broker's answer to a close (channel.close-ok,
// connection.close-ok) without a bound: a broker that keeps the connection
// and its heartbeats alive but stopped answering (RabbitMQ blocking a
// publishing connection at a resource alarm, a wedged node) would hold the
// caller forever. When close has not returned within grace, force is
// called (nil: none); it must end close's wait without the broker's
// answer, for instance by closing the connection under it with a
// deadline. close is then waited for up to grace more. closeWithin
// returns close's error, or errNoAnswer (wrapped) when close is still
// waiting: it is left to return, or not, in the background.
func closeWithin(grace time.Duration, close func() error, force func()) error {
	done := make(chan error, 1)
	go func() { done <- close() }()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
	}
	if force != nil {
		force()
	}
	t.Reset(grace)
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("%w within %s", errNoAnswer, 2*grace)
	}
}
