// Package telemetry sets up OpenTelemetry traces and metrics for a Nexus
// binary from the standard OTEL_* environment variables, and serves the
// same metrics in Prometheus's text format on /metrics.
//
// Off is the default and costs nothing: with no OTLP endpoint and no
// OTEL_TRACES_EXPORTER, the tracer provider is OpenTelemetry's no-op one,
// so spans are never allocated. Metrics are always kept, because /metrics
// serves them; they go over OTLP only when an endpoint or
// OTEL_METRICS_EXPORTER=otlp says so.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	prombridge "go.opentelemetry.io/contrib/bridges/prometheus"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Options name the binary; everything else comes from the environment.
type Options struct {
	// ServiceName is service.name unless OTEL_SERVICE_NAME or
	// OTEL_RESOURCE_ATTRIBUTES name it.
	ServiceName    string
	ServiceVersion string
	// Gatherer holds the metrics the service keeps with the Prometheus
	// client library. They are served on /metrics beside the OpenTelemetry
	// instruments and, when metrics go over OTLP, exported there too.
	Gatherer promclient.Gatherer
	// Getenv reads the environment (nil: os.Getenv). The OTLP exporters
	// read their own variables (endpoint, headers, TLS) from the process
	// environment.
	Getenv func(string) string
}

// Telemetry is one binary's providers. Its zero value is not usable; a
// Telemetry from Setup always is, traces on or off.
type Telemetry struct {
	// TracerProvider is the SDK's when traces are exported, else no-op.
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	// Propagator reads and writes W3C trace context and baggage
	// (OTEL_PROPAGATORS may narrow it to one or none).
	Propagator propagation.TextMapPropagator
	// Tracing says whether spans are recorded and exported.
	Tracing bool

	own       *gatherers // the service's Prometheus-client metrics and the process's
	metrics   promclient.Gatherers
	shutdowns []func(context.Context) error
}

// gatherers is a list that grows after Setup: a service creates its
// registry once it knows its configuration.
type gatherers struct {
	mu   sync.Mutex
	list promclient.Gatherers
}

func (g *gatherers) add(x promclient.Gatherer) {
	g.mu.Lock()
	g.list = append(g.list, x)
	g.mu.Unlock()
}

func (g *gatherers) Gather() ([]*dto.MetricFamily, error) {
	g.mu.Lock()
	list := append(promclient.Gatherers(nil), g.list...)
	g.mu.Unlock()
	return list.Gather()
}

// AddGatherer serves g's metrics on /metrics too and, when metrics go over
// OTLP, exports them there.
func (t *Telemetry) AddGatherer(g promclient.Gatherer) { t.own.add(g) }

// Setup builds the providers. An unknown value in an OTEL_* variable is
// an error naming it, so a typo does not silently turn telemetry off.
func Setup(ctx context.Context, opts Options) (*Telemetry, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	t := &Telemetry{TracerProvider: noop.NewTracerProvider()}
	prop, err := propagators(getenv("OTEL_PROPAGATORS"))
	if err != nil {
		return nil, err
	}
	t.Propagator = prop
	disabled := strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true")

	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(opts.ServiceName), semconv.ServiceVersion(opts.ServiceVersion)),
		resource.WithTelemetrySDK(),
		// Last, so the operator's OTEL_SERVICE_NAME and
		// OTEL_RESOURCE_ATTRIBUTES win over the built-in name.
		resource.WithFromEnv(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}

	// Metrics: the OpenTelemetry instruments through the Prometheus
	// exporter, the process's own CPU, memory and Go runtime, and the
	// service's Prometheus-client metrics, all on one /metrics.
	process := promclient.NewRegistry()
	process.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	instruments := promclient.NewRegistry()
	promExporter, err := otelprom.New(otelprom.WithRegisterer(instruments), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	own := &gatherers{list: promclient.Gatherers{process}}
	if opts.Gatherer != nil {
		own.add(opts.Gatherer)
	}
	t.own = own
	t.metrics = promclient.Gatherers{own, instruments}
	mopts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(promExporter)}
	if !disabled {
		exp, err := metricExporter(ctx, getenv)
		if err != nil {
			return nil, err
		}
		if exp != nil {
			// The Prometheus-client metrics reach OTLP through the bridge;
			// the instruments reach it directly.
			reader := sdkmetric.NewPeriodicReader(exp, sdkmetric.WithProducer(prombridge.NewMetricProducer(prombridge.WithGatherer(own))))
			mopts = append(mopts, sdkmetric.WithReader(reader))
		}
	}
	mp := sdkmetric.NewMeterProvider(mopts...)
	t.MeterProvider = mp
	t.shutdowns = append(t.shutdowns, mp.Shutdown)

	if disabled {
		return t, nil
	}
	exps, err := spanExporters(ctx, getenv)
	if err != nil {
		_ = t.Shutdown(ctx)
		return nil, err
	}
	if len(exps) == 0 {
		return t, nil
	}
	// The sampler is the SDK's reading of OTEL_TRACES_SAMPLER and
	// OTEL_TRACES_SAMPLER_ARG; its default, parentbased_always_on,
	// follows the sidecar's sampling decision.
	topts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	for _, e := range exps {
		topts = append(topts, sdktrace.WithBatcher(e))
	}
	tp := sdktrace.NewTracerProvider(topts...)
	t.TracerProvider = tp
	t.Tracing = true
	t.shutdowns = append(t.shutdowns, tp.Shutdown)
	return t, nil
}

// Shutdown flushes and stops the exporters.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for i := len(t.shutdowns) - 1; i >= 0; i-- {
		errs = append(errs, t.shutdowns[i](ctx))
	}
	t.shutdowns = nil
	return errors.Join(errs...)
}

// MetricsHandler serves every metric in Prometheus's text format.
func (t *Telemetry) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(t.metrics, promhttp.HandlerOpts{})
}

// Gatherer is what MetricsHandler serves (for tests and other handlers).
func (t *Telemetry) Gatherer() promclient.Gatherer { return t.metrics }

// Describe says where telemetry goes, for the binary's start-up log line.
func Describe(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	ep := firstSet(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), getenv("OTEL_EXPORTER_OTLP_ENDPOINT"))
	switch {
	case strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true"):
		return "off (OTEL_SDK_DISABLED)"
	case ep != "":
		return "OTLP " + tracesProtocol(getenv) + " to " + ep
	case getenv("OTEL_TRACES_EXPORTER") != "":
		return "OTEL_TRACES_EXPORTER=" + getenv("OTEL_TRACES_EXPORTER")
	}
	return "traces off (set OTEL_EXPORTER_OTLP_ENDPOINT); metrics on /metrics"
}

func spanExporters(ctx context.Context, getenv func(string) string) ([]sdktrace.SpanExporter, error) {
	names := getenv("OTEL_TRACES_EXPORTER")
	if strings.TrimSpace(names) == "" {
		// The specification's default is otlp; Nexus's is off until an
		// endpoint is named, so a laptop run does not retry a collector
		// that is not there.
		if firstSet(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), getenv("OTEL_EXPORTER_OTLP_ENDPOINT")) == "" {
			return nil, nil
		}
		names = "otlp"
	}
	var out []sdktrace.SpanExporter
	for _, name := range strings.Split(names, ",") {
		var (
			exp sdktrace.SpanExporter
			err error
		)
		switch strings.TrimSpace(name) {
		case "none":
			return nil, nil
		case "otlp":
			switch p, from := protocol(getenv, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"); p {
			case "grpc":
				exp, err = otlptracegrpc.New(ctx)
			case "http/protobuf":
				exp, err = otlptracehttp.New(ctx)
			default:
				return nil, fmt.Errorf("%s=%q: not one of grpc, http/protobuf", from, p)
			}
		case "console":
			exp, err = stdouttrace.New(stdouttrace.WithWriter(os.Stderr))
		default:
			return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: %q is not one of otlp, console, none", names, strings.TrimSpace(name))
		}
		if err != nil {
			return nil, fmt.Errorf("traces exporter %s: %w", name, err)
		}
		out = append(out, exp)
	}
	return out, nil
}

func metricExporter(ctx context.Context, getenv func(string) string) (sdkmetric.Exporter, error) {
	name := strings.TrimSpace(getenv("OTEL_METRICS_EXPORTER"))
	if name == "" {
		if firstSet(getenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"), getenv("OTEL_EXPORTER_OTLP_ENDPOINT")) == "" {
			return nil, nil
		}
		name = "otlp"
	}
	switch name {
	case "none", "prometheus":
		// /metrics is always served; "prometheus" asks for nothing more.
		return nil, nil
	case "otlp":
	default:
		return nil, fmt.Errorf("OTEL_METRICS_EXPORTER=%q: not one of otlp, prometheus, none", name)
	}
	p, from := protocol(getenv, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")
	var (
		exp sdkmetric.Exporter
		err error
	)
	switch p {
	case "grpc":
		exp, err = otlpmetricgrpc.New(ctx)
	case "http/protobuf":
		exp, err = otlpmetrichttp.New(ctx)
	default:
		return nil, fmt.Errorf("%s=%q: not one of grpc, http/protobuf", from, p)
	}
	if err != nil {
		return nil, fmt.Errorf("metrics exporter: %w", err)
	}
	return exp, nil
}

func tracesProtocol(getenv func(string) string) string {
	p, _ := protocol(getenv, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	return p
}

// protocol is the signal's OTLP protocol and the variable that set it;
// the specification's default is http/protobuf.
func protocol(getenv func(string) string, signalVar string) (string, string) {
	for _, name := range []string{signalVar, "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v, name
		}
	}
	return "http/protobuf", ""
}

func propagators(v string) (propagation.TextMapPropagator, error) {
	if strings.TrimSpace(v) == "" {
		return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}), nil
	}
	var ps []propagation.TextMapPropagator
	for _, name := range strings.Split(v, ",") {
		switch strings.TrimSpace(name) {
		case "tracecontext":
			ps = append(ps, propagation.TraceContext{})
		case "baggage":
			ps = append(ps, propagation.Baggage{})
		case "none":
			return propagation.NewCompositeTextMapPropagator(), nil
		default:
			return nil, fmt.Errorf("OTEL_PROPAGATORS=%q: %q is not one of tracecontext, baggage, none", v, strings.TrimSpace(name))
		}
	}
	return propagation.NewCompositeTextMapPropagator(ps...), nil
}

func firstSet(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
