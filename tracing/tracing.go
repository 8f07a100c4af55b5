// Package tracing holds the worker's OpenTelemetry tracing: one trace per
// settlement attempt (consume → confirm funds → settle → store transitions
// → publish), continued from the W3C trace context of the request's AMQP
// headers and written into the headers of the status events we publish, so
// that an order system's trace runs through the worker.
//
// Spans are exported only when configured by the standard OTEL_*
// variables (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
// or OTEL_TRACES_EXPORTER=otlp; OTLP over HTTP); otherwise no span is
// recorded, but the incoming trace context is still passed on.
package tracing

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/settlement-worker/settlement-worker/messages"
)

// instrumentation names the tracer.
const instrumentation = "github.com/settlement-worker/settlement-worker"

// Enabled reports whether the OTEL_* variables ask for spans to be exported.
func Enabled() bool {
	if strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	switch strings.ToLower(os.Getenv("OTEL_TRACES_EXPORTER")) {
	case "none":
		return false
	case "otlp":
		return true
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup installs the W3C trace-context propagator and, when Enabled, an
// OTLP/HTTP exporter (configured by the OTEL_EXPORTER_OTLP_* variables) with
// a batching tracer provider named by OTEL_SERVICE_NAME (default
// settlement-worker). The returned function flushes and stops it.
func Setup(ctx context.Context) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if !Enabled() {
		return func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_*: create the trace exporter: %w", err)
	}
	if os.Getenv("OTEL_SERVICE_NAME") == "" {
		os.Setenv("OTEL_SERVICE_NAME", "settlement-worker") // read by resource.WithFromEnv
	}
	res, err := resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithProcessPID())
	if err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// Metadata adapts a Watermill message's metadata (the AMQP headers) to a
// propagation carrier.
type Metadata message.Metadata

// Get returns the value of key.
func (m Metadata) Get(key string) string { return m[key] }

// Set sets key.
func (m Metadata) Set(key, value string) { m[key] = value }

// Keys lists the keys.
func (m Metadata) Keys() []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Extract returns ctx with the trace context carried by msg's headers.
func Extract(ctx context.Context, msg *message.Message) context.Context {
	return otel.GetTextMapPropagator().Extract(ctx, Metadata(msg.Metadata))
}

// Inject writes ctx's trace context into msg's headers (traceparent,
// tracestate, baggage).
func Inject(ctx context.Context, msg *message.Message) {
	otel.GetTextMapPropagator().Inject(ctx, Metadata(msg.Metadata))
}

// Start starts a span of the worker's tracer. The tracer is looked up on
// each call, so that a provider installed later (tests) is used.
func Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	return otel.Tracer(instrumentation).Start(ctx, name, opts...)
}

// End ends span, recording err (nil: success): its type, and its text
// with every card number masked (messages.MaskPANs) as the status
// description and the exception event's message. An error names the
// sender's ids (a requestId, a store id) and may quote what was refused,
// where a sender may have written one; spans leave the process.
func End(span trace.Span, err error) {
	if err != nil {
		msg := messages.MaskPANs(err.Error())
		span.AddEvent("exception", trace.WithAttributes(
			attribute.String("exception.type", errorType(err)), attribute.String("exception.message", msg)))
		span.SetStatus(codes.Error, msg)
	}
	span.End()
}

// errorType names err's type as span.RecordError does.
func errorType(err error) string {
	t := reflect.TypeOf(err)
	if t.PkgPath() == "" && t.Name() == "" {
		return t.String()
	}
	return t.PkgPath() + "." + t.Name()
}
