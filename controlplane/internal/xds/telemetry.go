package xds

import (
	"context"
	"sync"
	"time"

	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// observer follows each push to the ACK or NACK of every sidecar: a span
// per push (a child of the change that caused it), a span per answer
// under it from the push to the answer, and their metrics.
type observer struct {
	tracer    trace.Tracer
	push      metric.Float64Histogram
	ack       metric.Float64Histogram
	responses metric.Int64Counter

	mu sync.Mutex
	// pending maps what each node has been sent and not yet answered to
	// the push that sent it; a newer push of the type replaces it.
	pending map[pendingKey]pendingPush
}

type pendingKey struct{ node, typ string }

type pendingPush struct {
	version string
	span    trace.SpanContext
	at      time.Time
}

// Instrument records pushes and answers with tp and mp.
func (s *Server) Instrument(tp trace.TracerProvider, mp metric.MeterProvider) error {
	m := mp.Meter("github.com/secureai-nexus/nexus/controlplane/xds")
	o := &observer{tracer: tp.Tracer("github.com/secureai-nexus/nexus/controlplane/xds"), pending: map[pendingKey]pendingPush{}}
	var err error
	if o.push, err = m.Float64Histogram("nexus.xds.push.duration", metric.WithUnit("s"),
		metric.WithDescription("Time to set every node's snapshot for one mesh change."),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)); err != nil {
		return err
	}
	if o.ack, err = m.Float64Histogram("nexus.xds.push.ack.duration", metric.WithUnit("s"),
		metric.WithDescription("Time from a push to a sidecar's ACK or NACK of it, by resource type."),
		metric.WithExplicitBucketBoundaries(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)); err != nil {
		return err
	}
	if o.responses, err = m.Int64Counter("nexus.xds.responses", metric.WithUnit("{response}"),
		metric.WithDescription("Sidecars' answers to pushed configuration, by resource type and result (ack, nack).")); err != nil {
		return err
	}
	if _, err = m.Int64ObservableGauge("nexus.xds.connected_sidecars", metric.WithUnit("{sidecar}"),
		metric.WithDescription("Sidecars with at least one open ADS stream."),
		metric.WithInt64Callback(func(_ context.Context, obs metric.Int64Observer) error {
			obs.Observe(int64(s.status.connected()))
			return nil
		})); err != nil {
		return err
	}
	s.status.mu.Lock()
	s.status.obs = o
	s.status.mu.Unlock()
	s.obs = o
	return nil
}

// pushed starts the push's span and remembers, for each node and type
// whose version changed, what the answer will be matched to.
func (o *observer) pushed(ctx context.Context, prev func(node string) *cachev3.Snapshot, snaps map[string]*cachev3.Snapshot) (context.Context, func(error)) {
	if o == nil {
		return ctx, func(error) {}
	}
	start := time.Now()
	ctx, span := o.tracer.Start(ctx, "xds.push", trace.WithTimestamp(start), trace.WithAttributes(attribute.Int("nexus.xds.nodes", len(snaps))))
	sc := span.SpanContext()
	changed := 0
	o.mu.Lock()
	for node, snap := range snaps {
		old := prev(node)
		for _, typ := range []string{typeListener, typeRoute, typeCluster, typeEndpoint, typeSecret} {
			v := snap.GetVersion(typ)
			if v == "" || (old != nil && old.GetVersion(typ) == v) {
				continue
			}
			changed++
			o.pending[pendingKey{node, TypeName(typ)}] = pendingPush{version: v, span: sc, at: start}
		}
	}
	o.mu.Unlock()
	span.SetAttributes(attribute.Int("nexus.xds.changed_resources", changed))
	return ctx, func(err error) {
		o.push.Record(ctx, time.Since(start).Seconds())
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// answered records a node's ACK (nack empty) or NACK of version.
func (o *observer) answered(node, typ, version, nack string) {
	if o == nil {
		return
	}
	result := "ack"
	if nack != "" {
		result = "nack"
	}
	attrs := metric.WithAttributes(attribute.String("type", typ), attribute.String("result", result))
	o.responses.Add(context.Background(), 1, attrs)
	o.mu.Lock()
	p, ok := o.pending[pendingKey{node, typ}]
	if ok && p.version == version {
		delete(o.pending, pendingKey{node, typ})
	}
	o.mu.Unlock()
	if !ok || p.version != version {
		return
	}
	now := time.Now()
	o.ack.Record(context.Background(), now.Sub(p.at).Seconds(), attrs)
	if !p.span.IsSampled() {
		return
	}
	ctx := trace.ContextWithSpanContext(context.Background(), p.span)
	_, span := o.tracer.Start(ctx, "xds."+result, trace.WithTimestamp(p.at), trace.WithAttributes(
		attribute.String("nexus.xds.node", node), attribute.String("nexus.xds.type", typ), attribute.String("nexus.xds.version", version)))
	if nack != "" {
		// Envoy's message names the resource and field, never request data.
		span.SetStatus(codes.Error, nack)
	}
	span.End(trace.WithTimestamp(now))
}
