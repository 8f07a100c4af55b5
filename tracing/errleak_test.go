package tracing_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/settlement-worker/settlement-worker/tracing"
)

// TestEndMasksCardNumbersInTheRecordedError: End put err's text whole in
// the span's status description and in its exception event, exported to
// the trace collector. An error names the sender's ids (a requestId, a
// store id) and may quote what it refused, where a sender may have
// written a card number. End masks it (messages.MaskPANs) in both; the
// span keeps the error's type.
func TestEndMasksCardNumbersInTheRecordedError(t *testing.T) {
	const pan = "4012888888881881"
	rec := tracetest.NewSpanRecorder()
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	for _, written := range []string{pan, "4012 8888 8888 1881", "4012-8888-8888-1881"} {
		_, span := tracing.Start(context.Background(), "settle radial")
		tracing.End(span, fmt.Errorf("register radial/req-%s: %w", written, errors.New("store unreachable")))
	}
	spans := rec.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d spans ended, want 3", len(spans))
	}
	leaks := func(s string) bool {
		return strings.Contains(strings.NewReplacer(" ", "", "-", "").Replace(s), pan[:10])
	}
	for _, s := range spans {
		if d := s.Status().Description; leaks(d) || !strings.Contains(d, "1881") {
			t.Errorf("status description %q: want the card number masked, its last four kept", d)
		}
		if len(s.Events()) != 1 {
			t.Fatalf("%d events, want the error's", len(s.Events()))
		}
		var typ string
		for _, a := range s.Events()[0].Attributes {
			if leaks(a.Value.Emit()) {
				t.Errorf("exception event attribute %s holds the card number: %s", a.Key, a.Value.Emit())
			}
			if a.Key == "exception.type" {
				typ = a.Value.AsString()
			}
		}
		if typ != "*fmt.wrapError" {
			t.Errorf("exception.type = %q, want the error's own (*fmt.wrapError)", typ)
		}
	}
}
