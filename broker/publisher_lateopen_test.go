package broker_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// logBuffer is a zerolog writer safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A publish that gives up (its context ended) while the broker has not
// answered the opening of its channel leaves the opening to finish in the
// background. When the opening then failed, its error was dropped: not
// returned (the publish had returned) and not logged, so the only trace
// of why the broker refused a channel was lost. It must be logged.
func TestPublisherLogsAChannelOpenThatFailsAfterItsPublishGaveUp(t *testing.T) {
	u := amqpURL(t)
	_, ch := dial(t, u)
	declare(t, ch, "q.lateopen", broker.QueueQuorum, nil)
	proxy := testenv.NewBrokerProxy(t, u)
	logs := &logBuffer{}
	pub, err := broker.NewPublisher(testCtx(t, 30*time.Second), proxy.URL(), 1, zerolog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	proxy.Stall() // the first publish opens a channel: never answered
	if err := pub.Publish(testCtx(t, time.Second), "", "q.lateopen", message.NewMessage("m", nil)); err == nil {
		t.Fatal("published with the broker not answering")
	}
	// The broker closes the connection (an operator, a node going down):
	// the opening still waited for fails.
	killConnections(t, u, "settlement-worker")
	deadline := time.Now().Add(broker.AnswerGrace)
	for !strings.Contains(logs.String(), "open channel") {
		if time.Now().After(deadline) {
			t.Fatalf("the failed opening of a channel was not logged; logs:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("logged: %s", logs.String())
}
