package broker_test

import (
	"testing"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// TestBrokerResendsHeldDeadLettersWithinSeconds: the worker's retry
// queues hand every retry, and every deferral of a busy order, back to the
// request queue through a quorum queue's at-least-once dead-letter worker.
// After a broker restart that worker can start before its vhost's
// exchanges are recovered (RabbitMQ 3.10: "Cannot forward any dead-letter
// messages ... exchange ” ... does not exist"), and what it could not
// hand over waits for dead_letter_worker_publisher_confirm_timeout, 3
// minutes by default: a deferred new request, recorded nowhere else, so
// waited in silence (the chaos suite judged one lost). The brokers the
// project starts (scripts/rabbitmq.sh, the Docker test broker,
// docker-compose) set it to 10 s (deployments/rabbitmq/advanced.config).
func TestBrokerResendsHeldDeadLettersWithinSeconds(t *testing.T) {
	got := testenv.BrokerEval(t, "application:get_env(rabbit, dead_letter_worker_publisher_confirm_timeout).")
	const want = "{ok,10000}"
	if got != want {
		t.Errorf("the test broker's dead_letter_worker_publisher_confirm_timeout: %s, want %s (unset, {ok,180000}: held 3 minutes)", got, want)
	}
}
