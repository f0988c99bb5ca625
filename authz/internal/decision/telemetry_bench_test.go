package decision_test

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// discardSpans is an exporter that drops what it is sent, so the
// benchmark measures the span's cost in the service, not a collector's.
type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }

// BenchmarkCheckTelemetry is BenchmarkEngineCheck's decision with tracing
// off (OpenTelemetry's no-op tracer, the default), with the SDK under a
// sidecar that did not sample the trace, and under one that did (the span
// recorded with its attributes and batched to an exporter).
func BenchmarkCheckTelemetry(b *testing.B) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	for _, tc := range []struct {
		name    string
		tracing bool
		flags   trace.TraceFlags
	}{{"off", false, 0}, {"unsampled", true, 0}, {"sampled", true, trace.FlagsSampled}} {
		b.Run(tc.name, func(b *testing.B) {
			e := shippedEngine(b)
			ctx := context.Background()
			if tc.tracing {
				tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardSpans{}))
				defer tp.Shutdown(context.Background())
				e.Tracer = tp.Tracer("bench")
				ctx = trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
					TraceID: tid, SpanID: sid, TraceFlags: tc.flags, Remote: true,
				}))
			}
			req := benchRequest()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Check(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
