package worker

import (
	"fmt"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/messages"
)

// wmLogger adapts zerolog to Watermill's LoggerAdapter. Watermill's info
// chatter (per-consumer start/stop) is logged at debug. Watermill logs a
// message's UUID (a request's message_id: the intake sets it to the
// requestId, which may hold a card number by a sender's mistake) and the
// error a handler returned: a card number in a text field, the error or
// the message is masked (messages.MaskPANs).
type wmLogger struct {
	log    zerolog.Logger
	fields watermill.LogFields
}

func newWMLogger(l zerolog.Logger) watermill.LoggerAdapter {
	return wmLogger{log: l.With().Str("component", "watermill").Logger()}
}

func (w wmLogger) event(e *zerolog.Event, msg string, err error, fields watermill.LogFields) {
	if !e.Enabled() {
		return
	}
	if err != nil {
		e = e.Str(zerolog.ErrorFieldName, messages.MaskPANs(err.Error()))
	}
	for k, v := range w.fields {
		e = maskedField(e, k, v)
	}
	for k, v := range fields {
		e = maskedField(e, k, v)
	}
	e.Msg(messages.MaskPANs(msg))
}

// maskedField adds field k to e: a text value (a string, an error, a
// fmt.Stringer) with its card numbers masked, any other as it is.
func maskedField(e *zerolog.Event, k string, v any) *zerolog.Event {
	switch x := v.(type) {
	case string:
		return e.Str(k, messages.MaskPANs(x))
	case error:
		return e.Str(k, messages.MaskPANs(x.Error()))
	case fmt.Stringer:
		return e.Str(k, messages.MaskPANs(x.String()))
	}
	return e.Interface(k, v)
}

func (w wmLogger) Error(msg string, err error, fields watermill.LogFields) {
	w.event(w.log.Error(), msg, err, fields)
}
func (w wmLogger) Info(msg string, fields watermill.LogFields) {
	w.event(w.log.Debug(), msg, nil, fields)
}
func (w wmLogger) Debug(msg string, fields watermill.LogFields) {
	w.event(w.log.Debug(), msg, nil, fields)
}
func (w wmLogger) Trace(msg string, fields watermill.LogFields) {
	w.event(w.log.Trace(), msg, nil, fields)
}
func (w wmLogger) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return wmLogger{log: w.log, fields: w.fields.Add(fields)}
}
