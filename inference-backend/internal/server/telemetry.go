package server

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/secureai-nexus/nexus/inference-backend/internal/model"
)

// Instruments are the backend's spans and GenAI metrics.
type Instruments struct {
	Tracer     trace.Tracer
	Propagator propagation.TextMapPropagator
	// CaptureContent records the prompt and the completion on the span
	// (gen_ai.input.messages, gen_ai.output.messages). Off by default;
	// behind Nexus the prompt has been tokenized by piiguard before it
	// reaches the backend, so only tokens can appear.
	CaptureContent bool

	duration metric.Float64Histogram
	ttft     metric.Float64Histogram
	tpot     metric.Float64Histogram
	tokens   metric.Int64Histogram
}

// ProviderName is gen_ai.provider.name for the built-in model. Adapters to
// real engines name theirs (vllm, tgi, …).
const ProviderName = "nexus"

// NewInstruments creates the GenAI semantic conventions' server metrics,
// with the conventions' bucket boundaries.
func NewInstruments(tp trace.TracerProvider, mp metric.MeterProvider, prop propagation.TextMapPropagator) (*Instruments, error) {
	m := mp.Meter("github.com/secureai-nexus/nexus/inference-backend")
	in := &Instruments{Tracer: tp.Tracer("github.com/secureai-nexus/nexus/inference-backend"), Propagator: prop}
	var err error
	if in.duration, err = m.Float64Histogram("gen_ai.server.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Generative AI server request duration such as time-to-last byte or last output token."),
		metric.WithExplicitBucketBoundaries(0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)); err != nil {
		return nil, err
	}
	if in.ttft, err = m.Float64Histogram("gen_ai.server.time_to_first_token", metric.WithUnit("s"),
		metric.WithDescription("Time to generate first token for successful responses."),
		metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)); err != nil {
		return nil, err
	}
	if in.tpot, err = m.Float64Histogram("gen_ai.server.time_per_output_token", metric.WithUnit("s"),
		metric.WithDescription("Time per output token generated after the first token for successful responses."),
		metric.WithExplicitBucketBoundaries(0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)); err != nil {
		return nil, err
	}
	if in.tokens, err = m.Int64Histogram("gen_ai.client.token.usage", metric.WithUnit("{token}"),
		metric.WithDescription("Number of input and output tokens used, recorded where the request is answered."),
		metric.WithExplicitBucketBoundaries(1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)); err != nil {
		return nil, err
	}
	return in, nil
}

func noInstruments() *Instruments {
	in, _ := NewInstruments(noop.NewTracerProvider(), metricnoop.NewMeterProvider(), propagation.NewCompositeTextMapPropagator())
	return in
}

// call is one request's span and measurements.
type call struct {
	in      *Instruments
	labels  *labels
	span    trace.Span
	start   time.Time
	first   time.Time // first output token written
	errType string
	input   int
	output  int
}

// labels are one operation's metric attributes, built once: every request
// of a backend has the same model, version and provider, and a request's
// cost should not include sorting them into a set again.
type labels struct {
	kv          []attribute.KeyValue
	ok, in, out metric.MeasurementOption
	mu          sync.Mutex
	failed      map[string]metric.MeasurementOption
}

// maxErrorTypes bounds the error label values kept: error types are a
// fixed set of codes, but the bound keeps a bug from growing the map.
const maxErrorTypes = 32

func newLabels(m model.Model, operation string) *labels {
	kv := []attribute.KeyValue{
		attribute.String("gen_ai.operation.name", operation),
		attribute.String("gen_ai.provider.name", ProviderName),
		attribute.String("gen_ai.request.model", m.Name),
		attribute.String("gen_ai.response.model", m.Name+"/"+m.Version),
		attribute.String("nexus.model.version", m.Version),
	}
	set := func(extra ...attribute.KeyValue) metric.MeasurementOption {
		return metric.WithAttributeSet(attribute.NewSet(append(slices.Clone(kv), extra...)...))
	}
	return &labels{kv: kv, ok: set(), in: set(attribute.String("gen_ai.token.type", "input")),
		out: set(attribute.String("gen_ai.token.type", "output")), failed: map[string]metric.MeasurementOption{}}
}

func (l *labels) failure(errType string) metric.MeasurementOption {
	l.mu.Lock()
	defer l.mu.Unlock()
	if o, ok := l.failed[errType]; ok {
		return o
	}
	if len(l.failed) >= maxErrorTypes {
		errType = "other"
	}
	o := metric.WithAttributeSet(attribute.NewSet(append(slices.Clone(l.kv), attribute.String("error.type", errType))...))
	l.failed[errType] = o
	return o
}

func (s *Server) begin(r *http.Request, operation string) (context.Context, *call) {
	in := s.instruments()
	ctx := in.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	s.labelsOnce.Do(func() {
		s.labels = map[string]*labels{"chat": newLabels(s.Model, "chat"), "text_completion": newLabels(s.Model, "text_completion")}
	})
	c := &call{in: in, start: s.Now(), labels: s.labels[operation]}
	ctx, c.span = in.Tracer.Start(ctx, operation+" "+s.Model.Name, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", routeOf(r))))
	if id := peerSPIFFEID(r); id != "" && c.span.IsRecording() {
		// From the verified mTLS peer certificate, never from a header.
		c.span.SetAttributes(attribute.String("nexus.peer.spiffe_id", id))
	}
	return ctx, c
}

// firstToken marks the moment the first output token left.
func (c *call) firstToken(now time.Time) {
	if c.first.IsZero() {
		c.first = now
		c.span.AddEvent("gen_ai.first_token")
	}
}

func (c *call) fail(errType string) { c.errType = errType }

func (c *call) end(ctx context.Context, now time.Time, status int) {
	set := c.labels.ok
	if c.errType != "" {
		set = c.labels.failure(c.errType)
	}
	elapsed := now.Sub(c.start).Seconds()
	c.in.duration.Record(ctx, elapsed, set)
	if c.errType == "" {
		ttft := elapsed
		if !c.first.IsZero() {
			ttft = c.first.Sub(c.start).Seconds()
		}
		c.in.ttft.Record(ctx, ttft, set)
		if c.output > 1 {
			c.in.tpot.Record(ctx, (elapsed-ttft)/float64(c.output-1), set)
		}
		c.in.tokens.Record(ctx, int64(c.input), c.labels.in)
		c.in.tokens.Record(ctx, int64(c.output), c.labels.out)
	}
	if c.span.IsRecording() {
		attrs := make([]attribute.KeyValue, 0, len(c.labels.kv)+5)
		attrs = append(append(attrs, c.labels.kv...), attribute.Int("http.response.status_code", status))
		if c.errType != "" {
			attrs = append(attrs, attribute.String("error.type", c.errType))
		} else {
			attrs = append(attrs, attribute.Int("gen_ai.usage.input_tokens", c.input), attribute.Int("gen_ai.usage.output_tokens", c.output))
			if !c.first.IsZero() {
				attrs = append(attrs, attribute.Float64("gen_ai.server.time_to_first_token", c.first.Sub(c.start).Seconds()))
			}
		}
		c.span.SetAttributes(attrs...)
		if status >= 500 {
			c.span.SetStatus(codes.Error, c.errType)
		}
	}
	c.span.End()
}

// capture records the conversation on the span when content capture is on.
func (c *call) capture(key, value string) {
	if c.in.CaptureContent && c.span.IsRecording() {
		c.span.SetAttributes(attribute.String(key, value))
	}
}

func (s *Server) instruments() *Instruments {
	if s.Instruments != nil {
		return s.Instruments
	}
	return s.none
}

// routeOf is the route pattern, not the path: a path can carry an
// identifier.
func routeOf(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return r.URL.Path
}

func peerSPIFFEID(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return ""
	}
	for _, u := range r.TLS.PeerCertificates[0].URIs {
		if u.Scheme == "spiffe" {
			return u.String()
		}
	}
	return ""
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
