// Package otlptest is an in-process OTLP receiver for tests: the
// collector's trace and metrics services over gRPC and over HTTP
// (protobuf), on loopback, keeping every export it is sent.
package otlptest

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	collmetric "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	colltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// Span is one received span with the service that sent it.
type Span struct {
	Service string
	*tracepb.Span
}

// Attr returns the span attribute's value as a string ("" when absent).
func (s Span) Attr(key string) string {
	return AttrString(s.Attributes, key)
}

// AttrString finds key among attributes and renders its value.
func AttrString(attrs []*commonpb.KeyValue, key string) string {
	for _, kv := range attrs {
		if kv.Key == key {
			return ValueString(kv.Value)
		}
	}
	return ""
}

// Receiver keeps what it is sent.
type Receiver struct {
	GRPCAddr string // host:port
	HTTPURL  string // http://host:port

	mu      sync.Mutex
	spans   []Span
	metrics []*metricpb.ResourceMetrics
	raw     [][]byte
	changed chan struct{}
}

// Start serves on two free loopback ports until the test ends.
func Start(t testing.TB) *Receiver {
	t.Helper()
	r := &Receiver{changed: make(chan struct{}, 1)}
	glis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	colltrace.RegisterTraceServiceServer(gs, traceService{r: r})
	collmetric.RegisterMetricsServiceServer(gs, metricsService{r: r})
	go func() { _ = gs.Serve(glis) }()
	hlis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, req *http.Request) {
		var m colltrace.ExportTraceServiceRequest
		if !r.readHTTP(w, req, &m) {
			return
		}
		r.addTraces(&m)
		writeHTTP(w, &colltrace.ExportTraceServiceResponse{})
	})
	mux.HandleFunc("POST /v1/metrics", func(w http.ResponseWriter, req *http.Request) {
		var m collmetric.ExportMetricsServiceRequest
		if !r.readHTTP(w, req, &m) {
			return
		}
		r.addMetrics(&m)
		writeHTTP(w, &collmetric.ExportMetricsServiceResponse{})
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(hlis) }()
	r.GRPCAddr = glis.Addr().String()
	r.HTTPURL = "http://" + hlis.Addr().String()
	t.Cleanup(func() {
		gs.Stop()
		_ = hs.Close()
	})
	return r
}

// Env is the environment that points an OTLP exporter at the receiver,
// over "grpc" or "http/protobuf".
func (r *Receiver) Env(protocol string) map[string]string {
	env := map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": protocol}
	if protocol == "grpc" {
		env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://" + r.GRPCAddr
		env["OTEL_EXPORTER_OTLP_INSECURE"] = "true"
	} else {
		env["OTEL_EXPORTER_OTLP_ENDPOINT"] = r.HTTPURL
	}
	return env
}

// Use points this process's OTLP exporters at the receiver for the rest
// of the test (the exporters read the process environment).
func (r *Receiver) Use(t testing.TB, protocol string) {
	t.Helper()
	for k, v := range r.Env(protocol) {
		t.Setenv(k, v)
	}
}

// Spans returns what has been received so far.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// Metrics returns the received metric exports.
func (r *Receiver) Metrics() []*metricpb.ResourceMetrics {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*metricpb.ResourceMetrics(nil), r.metrics...)
}

// Raw returns every export request body as received on the wire, for
// tests that look for bytes that must never be exported.
func (r *Receiver) Raw() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.raw...)
}

// WaitSpans waits until match holds for the spans received, or fails the
// test after the timeout.
func (r *Receiver) WaitSpans(t testing.TB, timeout time.Duration, match func([]Span) bool) []Span {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if s := r.Spans(); match(s) {
			return s
		}
		select {
		case <-r.changed:
		case <-deadline:
			t.Fatalf("spans not received within %s; have %d: %v", timeout, len(r.Spans()), Names(r.Spans()))
			return nil
		}
	}
}

// Names lists the spans' names, for failure messages.
func Names(spans []Span) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Service + ": " + s.Name
	}
	return out
}

func (r *Receiver) addTraces(m *colltrace.ExportTraceServiceRequest) {
	b, _ := proto.Marshal(m)
	r.mu.Lock()
	r.raw = append(r.raw, b)
	for _, rs := range m.ResourceSpans {
		svc := AttrString(rs.GetResource().GetAttributes(), "service.name")
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				r.spans = append(r.spans, Span{Service: svc, Span: s})
			}
		}
	}
	r.mu.Unlock()
	r.notify()
}

func (r *Receiver) addMetrics(m *collmetric.ExportMetricsServiceRequest) {
	b, _ := proto.Marshal(m)
	r.mu.Lock()
	r.raw = append(r.raw, b)
	r.metrics = append(r.metrics, m.ResourceMetrics...)
	r.mu.Unlock()
	r.notify()
}

func (r *Receiver) notify() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *Receiver) readHTTP(w http.ResponseWriter, req *http.Request, m proto.Message) bool {
	b, err := io.ReadAll(io.LimitReader(req.Body, 64<<20))
	if err == nil {
		err = proto.Unmarshal(b, m)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func writeHTTP(w http.ResponseWriter, m proto.Message) {
	b, _ := proto.Marshal(m)
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(b)
}

type traceService struct {
	colltrace.UnimplementedTraceServiceServer
	r *Receiver
}

func (s traceService) Export(_ context.Context, m *colltrace.ExportTraceServiceRequest) (*colltrace.ExportTraceServiceResponse, error) {
	s.r.addTraces(m)
	return &colltrace.ExportTraceServiceResponse{}, nil
}

type metricsService struct {
	collmetric.UnimplementedMetricsServiceServer
	r *Receiver
}

func (s metricsService) Export(_ context.Context, m *collmetric.ExportMetricsServiceRequest) (*collmetric.ExportMetricsServiceResponse, error) {
	s.r.addMetrics(m)
	return &collmetric.ExportMetricsServiceResponse{}, nil
}

// ValueString renders an attribute value.
func ValueString(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_BoolValue:
		if x.BoolValue {
			return "true"
		}
		return "false"
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_ArrayValue:
		s := ""
		for i, e := range x.ArrayValue.Values {
			if i > 0 {
				s += ","
			}
			s += ValueString(e)
		}
		return s
	}
	return ""
}
