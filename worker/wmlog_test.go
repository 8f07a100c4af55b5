package worker

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/rs/zerolog"
)

// Watermill's router and subscriber log a message's UUID (message_uuid:
// a request's message_id, which the intake sets to its requestId) and the
// error a handler returned; a requestId holding a card number went whole
// into those lines. The adapter masks a card number in every string field
// and in the error, and leaves other text as it is.
func TestWatermillLogMasksCardNumbers(t *testing.T) {
	const id = "REQ-4012888888881881"
	var buf bytes.Buffer
	l := newWMLogger(zerolog.New(&buf)).With(watermill.LogFields{"message_uuid": id, "topic": "q.requests"})
	l.Error("Handler returned error", errors.New("register "+id+": broker down"), watermill.LogFields{"handler_name": "settle-" + id, "attempt": 2})
	l.Trace("Message acked", watermill.LogFields{"uuid": id})
	out := buf.String()
	if strings.Contains(out, "4012888888") {
		t.Errorf("a Watermill log line holds the card number:\n%s", out)
	}
	for _, want := range []string{`"message_uuid":"REQ-************1881"`, `"error":"register REQ-************1881: broker down"`,
		`"handler_name":"settle-REQ-************1881"`, `"uuid":"REQ-************1881"`, `"topic":"q.requests"`, `"attempt":2`} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %s:\n%s", want, out)
		}
	}
}
