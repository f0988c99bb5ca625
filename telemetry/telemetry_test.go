package telemetry_test

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"

	"github.com/secureai-nexus/nexus/telemetry"
	"github.com/secureai-nexus/nexus/telemetry/otlptest"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestOffByDefault(t *testing.T) {
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{ServiceName: "nexus-test", Getenv: envOf(nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	if tel.Tracing {
		t.Fatal("tracing on with no OTEL_* set")
	}
	_, span := tel.TracerProvider.Tracer("t").Start(context.Background(), "x")
	if span.IsRecording() || span.SpanContext().IsValid() {
		t.Fatal("a span recorded with tracing off")
	}
	// Metrics are still kept for /metrics.
	c, _ := tel.MeterProvider.Meter("t").Int64Counter("nexus.test.calls")
	c.Add(context.Background(), 2, metric.WithAttributes(attribute.String("result", "ok")))
	fams := scrape(t, tel)
	if v := fams["nexus_test_calls_total"]; v == nil || v.Metric[0].GetCounter().GetValue() != 2 {
		t.Fatalf("nexus_test_calls_total not served: %v", v)
	}
	for _, name := range []string{"process_cpu_seconds_total", "process_resident_memory_bytes", "go_goroutines"} {
		if fams[name] == nil {
			t.Errorf("%s not served", name)
		}
	}
}

func TestExportsOverBothProtocols(t *testing.T) {
	for _, protocol := range []string{"grpc", "http/protobuf"} {
		t.Run(protocol, func(t *testing.T) {
			rcv := otlptest.Start(t)
			env := rcv.Env(protocol)
			env["OTEL_RESOURCE_ATTRIBUTES"] = "deployment.environment.name=test"
			env["OTEL_METRIC_EXPORT_INTERVAL"] = "100"
			for k, v := range env {
				t.Setenv(k, v) // the exporters read the process environment
			}
			ctx := context.Background()
			tel, err := telemetry.Setup(ctx, telemetry.Options{ServiceName: "nexus-test", ServiceVersion: "1.2.3"})
			if err != nil {
				t.Fatal(err)
			}
			if !tel.Tracing {
				t.Fatal("tracing off with an endpoint set")
			}
			// A parent from a sidecar's traceparent: the span joins its trace.
			carrier := propagation.MapCarrier{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
			pctx := tel.Propagator.Extract(ctx, carrier)
			_, span := tel.TracerProvider.Tracer("t").Start(pctx, "check")
			span.End()
			c, _ := tel.MeterProvider.Meter("t").Int64Counter("nexus.test.calls")
			c.Add(ctx, 1)
			if err := tel.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			spans := rcv.WaitSpans(t, 5*time.Second, func(s []otlptest.Span) bool { return len(s) == 1 })
			s := spans[0]
			if s.Service != "nexus-test" || s.Name != "check" {
				t.Fatalf("span %q from %q", s.Name, s.Service)
			}
			if got := hexOf(s.TraceId); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
				t.Errorf("trace id %s: not the sidecar's", got)
			}
			if got := hexOf(s.ParentSpanId); got != "00f067aa0ba902b7" {
				t.Errorf("parent %s: not the sidecar's span", got)
			}
			var found bool
			for _, rm := range rcv.Metrics() {
				for _, sm := range rm.ScopeMetrics {
					for _, m := range sm.Metrics {
						if m.Name == "nexus.test.calls" {
							found = true
						}
					}
				}
				if got := otlptest.AttrString(rm.GetResource().GetAttributes(), "deployment.environment.name"); got != "test" {
					t.Errorf("resource attribute from OTEL_RESOURCE_ATTRIBUTES: %q", got)
				}
			}
			if !found {
				t.Error("nexus.test.calls not exported over OTLP")
			}
		})
	}
}

func TestSampledOutParentIsNotRecorded(t *testing.T) {
	rcv := otlptest.Start(t)
	rcv.Use(t, "grpc")
	ctx := context.Background()
	tel, err := telemetry.Setup(ctx, telemetry.Options{ServiceName: "nexus-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(ctx)
	pctx := tel.Propagator.Extract(ctx, propagation.MapCarrier{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"})
	_, span := tel.TracerProvider.Tracer("t").Start(pctx, "check")
	if span.IsRecording() {
		t.Fatal("recorded a span whose sidecar did not sample the trace")
	}
}

func TestBadEnvironmentIsNamed(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, `OTEL_TRACES_EXPORTER="zipkin"`},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, `OTEL_EXPORTER_OTLP_PROTOCOL="http/json"`},
		{map[string]string{"OTEL_METRICS_EXPORTER": "statsd"}, `OTEL_METRICS_EXPORTER="statsd"`},
		{map[string]string{"OTEL_PROPAGATORS": "b3"}, `"b3" is not one of`},
	} {
		_, err := telemetry.Setup(context.Background(), telemetry.Options{ServiceName: "x", Getenv: envOf(tc.env)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want it to name %s", tc.env, err, tc.want)
		}
	}
}

func scrape(t *testing.T, tel *telemetry.Telemetry) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	return fams
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
