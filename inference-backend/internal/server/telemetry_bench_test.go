package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

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
