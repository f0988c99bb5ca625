package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	nexusmodel "github.com/secureai-nexus/nexus/inference-backend/internal/model"
	"github.com/secureai-nexus/nexus/inference-backend/internal/server"
)

type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }

// BenchmarkChatTelemetry is one chat completion through the handler with
// telemetry off (no instruments), and with the SDK's tracer and meter
// under a sidecar that did not sample the trace and under one that did.
// Metrics are recorded in both of the latter, as the binary always does.
func BenchmarkChatTelemetry(b *testing.B) {
	body := `{"model":"triage","messages":[{"role":"user","content":"patient [NAME_1] reports chest pain since [DATE_1], no fever"}]}`
	for _, tc := range []struct {
		name, traceparent string
		on                bool
	}{
		{"off", "", false},
		{"unsampled", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true},
		{"sampled", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := server.New(nexusmodel.Model{Name: "triage", Version: "v2"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if tc.on {
				tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardSpans{}))
				defer tp.Shutdown(context.Background())
				mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
				var err error
				if s.Instruments, err = server.NewInstruments(tp, mp, propagation.TraceContext{}); err != nil {
					b.Fatal(err)
				}
			}
			h := s.Handler()
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if tc.traceparent != "" {
					req.Header.Set("traceparent", tc.traceparent)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}

// BenchmarkTelemetryFloor is the least the OpenTelemetry SDK costs per
// call for what the GenAI conventions ask of a server, with nothing of
// Nexus's around it: the four histograms recorded (duration, time to
// first token, input and output tokens) with attribute sets built once,
// and a server span started and ended — not sampled, and sampled into a
// batch processor whose exporter drops what it gets. BenchmarkChatTelemetry
// measures the same in a whole call; this is the floor under it.
func BenchmarkTelemetryFloor(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	m := mp.Meter("floor")
	duration, _ := m.Float64Histogram("gen_ai.server.request.duration")
	ttft, _ := m.Float64Histogram("gen_ai.server.time_to_first_token")
	tokens, _ := m.Int64Histogram("gen_ai.client.token.usage")
	kv := []attribute.KeyValue{
		attribute.String("gen_ai.operation.name", "chat"), attribute.String("gen_ai.provider.name", "nexus"),
		attribute.String("gen_ai.request.model", "triage"), attribute.String("gen_ai.response.model", "triage/v2"),
	}
	set := metric.WithAttributeSet(attribute.NewSet(kv...))
	in := metric.WithAttributeSet(attribute.NewSet(append(kv, attribute.String("gen_ai.token.type", "input"))...))
	out := metric.WithAttributeSet(attribute.NewSet(append(kv, attribute.String("gen_ai.token.type", "output"))...))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardSpans{}))
	defer tp.Shutdown(context.Background())
	tracer := tp.Tracer("floor")
	ctx := context.Background()
	b.Run("metrics", func(b *testing.B) {
		for b.Loop() {
			duration.Record(ctx, 0.034, set)
			ttft.Record(ctx, 0.01, set)
			tokens.Record(ctx, 12, in)
			tokens.Record(ctx, 40, out)
		}
	})
	for _, sampled := range []bool{false, true} {
		flags := trace.TraceFlags(0)
		name := "span-unsampled"
		if sampled {
			flags, name = trace.FlagsSampled, "span-sampled"
		}
		parent := trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: flags, Remote: true}))
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				_, span := tracer.Start(parent, "chat triage", trace.WithSpanKind(trace.SpanKindServer))
				span.End()
			}
		})
	}
}
