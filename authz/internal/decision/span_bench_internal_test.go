package decision

import (
	"context"
	"encoding/json"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/secureai-nexus/nexus/authz/internal/decisionlog"
)

type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }

// BenchmarkCheckSpan is what tracing adds to one Check, alone: the span's
// start under the sidecar's context, the decision's attributes when it is
// recorded, and its end into a batching exporter. BenchmarkCheckTelemetry
// measures the whole Check, where this is lost in the evaluation's noise.
func BenchmarkCheckSpan(b *testing.B) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	entry := decisionlog.Entry{DecisionID: "0123456789abcdef0123456789abcdef", Result: "allow", PolicyRevision: "sha256:5a5b70bdee8a9c16",
		EvalMicros: 120, Caller: "spiffe://nexus.local/ns/clinic/sa/frontdesk", Model: "triage", Version: "v2"}
	in := map[string]any{"nexus": map[string]any{"pii": map[string]any{
		"classes": []any{"EMAIL", "US_SSN"}, "counts": map[string]any{"EMAIL": json.Number("2"), "US_SSN": json.Number("1")},
	}}}
	for _, tc := range []struct {
		name  string
		flags trace.TraceFlags
	}{{"unsampled", 0}, {"sampled", trace.FlagsSampled}} {
		b.Run(tc.name, func(b *testing.B) {
			tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardSpans{}))
			defer tp.Shutdown(context.Background())
			tracer := tp.Tracer("bench")
			ctx := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: tid, SpanID: sid, TraceFlags: tc.flags, Remote: true,
			}))
			b.ReportAllocs()
			for b.Loop() {
				_, span := tracer.Start(ctx, SpanName, trace.WithSpanKind(trace.SpanKindServer))
				if span.IsRecording() {
					annotate(span, &entry, "", in, nil)
				}
				span.End()
			}
		})
	}
}
