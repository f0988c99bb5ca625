package app_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	metricsv3 "github.com/envoyproxy/go-control-plane/envoy/service/metrics/v3"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/secureai-nexus/nexus/controlplane/internal/app"
)

// TestFastRollbackFromSidecarStats streams stats to the control plane as a
// model sidecar's Envoy does (envoy.service.metrics.v3 over the xDS port,
// with its node credential, every 100 ms here): a canary whose 5xx start
// under a rollout whose next evaluation is an hour away is rolled back
// within seconds of the first failing flush.
func TestFastRollbackFromSidecarStats(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c := startApp(t, app.Config{DataDir: dir, RolloutTick: 50 * time.Millisecond})
	conn := sidecarConn(t, dir, c.ready.XDSAddr, "model~triage")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := metricsv3.NewMetricsServiceClient(conn).StreamMetrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	counter := func(name string, v float64) *dto.MetricFamily {
		return &dto.MetricFamily{Name: proto.String(name), Type: dto.MetricType_COUNTER.Enum(),
			Metric: []*dto.Metric{{Counter: &dto.Counter{Value: proto.Float64(v)}}}}
	}
	var v1, v2, v2fail float64
	failing := false
	send := func(first bool) {
		msg := &metricsv3.StreamMetricsMessage{EnvoyMetrics: []*dto.MetricFamily{
			counter("cluster.model|triage|v1.upstream_rq_completed", v1), counter("cluster.model|triage|v1.upstream_rq_5xx", 0),
			counter("cluster.model|triage|v2.upstream_rq_completed", v2), counter("cluster.model|triage|v2.upstream_rq_5xx", v2fail),
			counter("server.uptime", 3),
		}}
		if first {
			msg.Identifier = &metricsv3.StreamMetricsMessage_Identifier{Node: &core.Node{Id: "model~triage"}}
		}
		if err := stream.Send(msg); err != nil {
			t.Fatal(err)
		}
	}
	if code := c.call(t, "POST", "/api/v1/admin/models/triage/rollouts", `{"version":"v2","steps":[20,60],"interval":"1h"}`, nil); code != 201 {
		t.Fatalf("start: %d", code)
	}
	send(true)
	var breach time.Time
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; ; i++ {
		v1 += 80
		v2 += 20
		if i == 10 {
			failing, breach = true, time.Now()
		}
		if failing {
			v2fail += 5 // a quarter of the canary's requests fail
		}
		send(false)
		var st rolloutView
		c.call(t, "GET", "/api/v1/admin/models/triage/rollouts/current", "", &st)
		if st.Phase == "rolled_back" {
			if !failing {
				t.Fatalf("rolled back before any failure: %q", st.Reason)
			}
			took := time.Since(breach)
			t.Logf("breach to rollback: %s (%s)", took.Round(time.Millisecond), st.Reason)
			// Back to the example mesh's split from before the rollout.
			if w := c.weights(t); w["v2"] != 10 || w["v1"] != 90 {
				t.Errorf("weights after the fast rollback: %v", w)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rollback within 15 s of the breach: %s at %d%% (%s)", st.Phase, st.Weight, st.Reason)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDataProtectionRollback: a canary whose answers start holding
// personal data the callers did not send (piiguard's answer counters on
// the sidecars' stats stream) is rolled back between evaluations, though
// its error rate is clean.
func TestDataProtectionRollback(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c := startApp(t, app.Config{DataDir: dir, RolloutTick: 50 * time.Millisecond})
	conn := sidecarConn(t, dir, c.ready.XDSAddr, "model~triage")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := metricsv3.NewMetricsServiceClient(conn).StreamMetrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	counter := func(name string, v float64) *dto.MetricFamily {
		return &dto.MetricFamily{Name: proto.String(name), Type: dto.MetricType_COUNTER.Enum(),
			Metric: []*dto.Metric{{Counter: &dto.Counter{Value: proto.Float64(v)}}}}
	}
	var answers, leaked float64
	send := func(first bool) {
		msg := &metricsv3.StreamMetricsMessage{EnvoyMetrics: []*dto.MetricFamily{
			counter("cluster.model|triage|v2.upstream_rq_completed", answers), counter("cluster.model|triage|v2.upstream_rq_5xx", 0),
			counter("wasmcustom.piiguard.answers.scanned.model.triage.version.v2", answers),
			counter("wasmcustom.piiguard.answers.leaked.model.triage.version.v2", leaked),
		}}
		if first {
			msg.Identifier = &metricsv3.StreamMetricsMessage_Identifier{Node: &core.Node{Id: "model~triage"}}
		}
		if err := stream.Send(msg); err != nil {
			t.Fatal(err)
		}
	}
	if code := c.call(t, "POST", "/api/v1/admin/models/triage/rollouts",
		`{"version":"v2","steps":[20,60],"interval":"1h","gates":[{"type":"error-rate"},{"type":"data-protection"}]}`, nil); code != 201 {
		t.Fatalf("start: %d", code)
	}
	send(true)
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; ; i++ {
		answers += 20
		if i == 10 {
			leaked++ // one answer held someone else's data
		}
		send(false)
		var st rolloutView
		c.call(t, "GET", "/api/v1/admin/models/triage/rollouts/current", "", &st)
		if st.Phase == "rolled_back" {
			if leaked == 0 {
				t.Fatalf("rolled back before any leak: %q", st.Reason)
			}
			if !strings.Contains(st.Reason, "personal data the caller did not send") {
				t.Fatalf("reason %q", st.Reason)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rollback within 15 s of the leak: %s at %d%% (%s)", st.Phase, st.Weight, st.Reason)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
