package worker

import (
	"github.com/ThreeDotsLabs/watermill"
	"github.com/rs/zerolog"
)

// wmLogger adapts zerolog to Watermill's LoggerAdapter. Watermill's info
// chatter (per-consumer start/stop) is logged at debug.
type wmLogger struct {
	log    zerolog.Logger
	fields watermill.LogFields
}

func newWMLogger(l zerolog.Logger) watermill.LoggerAdapter {
	return wmLogger{log: l.With().Str("component", "watermill").Logger()}
}

func (w wmLogger) event(e *zerolog.Event, msg string, fields watermill.LogFields) {
	for k, v := range w.fields {
		e = e.Interface(k, v)
	}
	for k, v := range fields {
		e = e.Interface(k, v)
	}
	e.Msg(msg)
}

func (w wmLogger) Error(msg string, err error, fields watermill.LogFields) {
	w.event(w.log.Error().Err(err), msg, fields)
}
func (w wmLogger) Info(msg string, fields watermill.LogFields) {
	w.event(w.log.Debug(), msg, fields)
}
func (w wmLogger) Debug(msg string, fields watermill.LogFields) {
	w.event(w.log.Debug(), msg, fields)
}
func (w wmLogger) Trace(msg string, fields watermill.LogFields) {
	w.event(w.log.Trace(), msg, fields)
}
func (w wmLogger) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return wmLogger{log: w.log, fields: w.fields.Add(fields)}
}
