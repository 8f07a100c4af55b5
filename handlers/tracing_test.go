package handlers

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/tracing"
)

// A settlement attempt is one trace: it continues the trace context of the
// request's headers (the order system's), holds a span per provider call
// and store transition, and our status event carries it on.
func TestSettlementAttemptIsTraced(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() {
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
		_ = tp.Shutdown(context.Background())
	})

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	r := newRig(t, newScripted("acme", providers.Facts{Idempotent: true}))
	msg := requestMsg(t, "req-traced", messages.SettlementDebit, map[string]string{
		"traceparent": "00-" + traceID + "-" + parentID + "-01",
	})
	r.deliver(t, msg)

	spans := exp.GetSpans()
	byName := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		if s.SpanContext.TraceID().String() != traceID {
			t.Errorf("span %q is in trace %s, want the request's %s", s.Name, s.SpanContext.TraceID(), traceID)
		}
		byName[s.Name] = s
	}
	root, ok := byName["settle acme"]
	if !ok {
		t.Fatalf("no settle span; spans: %v", names(spans))
	}
	if root.Parent.SpanID().String() != parentID || root.SpanKind != trace.SpanKindConsumer {
		t.Errorf("settle span parent %s kind %v, want the request's span %s, consumer", root.Parent.SpanID(), root.SpanKind, parentID)
	}
	for _, want := range []string{"confirm_funds", "settle", "store.transition", "publish status"} {
		s, ok := byName[want]
		if !ok {
			t.Errorf("no %q span; spans: %v", want, names(spans))
			continue
		}
		if s.Parent.SpanID() != root.SpanContext.SpanID() {
			t.Errorf("%q is not a child of the settle span", want)
		}
	}
	for _, s := range spans {
		for _, a := range s.Attributes {
			if v := a.Value.Emit(); len(v) >= 12 && containsDigits(v, 12) {
				t.Errorf("span %q attribute %s=%q looks like card data", s.Name, a.Key, v)
			}
		}
	}

	status := only(t, r.pub.take(), statusQ)
	sc := trace.SpanContextFromContext(tracing.Extract(context.Background(), status))
	if sc.TraceID().String() != traceID {
		t.Errorf("status event traceparent %q: trace %s, want %s", status.Metadata.Get("traceparent"), sc.TraceID(), traceID)
	}
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

// containsDigits reports whether s has a run of n digits.
func containsDigits(s string, n int) bool {
	run := 0
	for _, c := range s {
		if c >= '0' && c <= '9' {
			run++
			if run >= n {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}
