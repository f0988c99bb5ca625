package metricsource

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"time"

	metricsv3 "github.com/envoyproxy/go-control-plane/envoy/service/metrics/v3"
	dto "github.com/prometheus/client_model/go"

	"github.com/secureai-nexus/nexus/controlplane/internal/rollout"
)

// StatsSink is Envoy's metrics service: every sidecar streams its stats
// each flush interval (1 s in the generated bootstrap), so a failing
// canary is seen within seconds instead of at Prometheus's next scrape
// and the next evaluation. It keeps, per sidecar and cluster, a short
// history of the request and 5xx counters.
type StatsSink struct {
	metricsv3.UnimplementedMetricsServiceServer
	Now func() time.Time
	// Keep bounds the history (default 10 minutes).
	Keep time.Duration

	mu    sync.Mutex
	nodes map[string]map[string][]counts // node → cluster → samples, oldest first
}

type counts struct {
	at              time.Time
	requests, fails float64
}

// Cluster counter names as Envoy's stats sink sends them (tags not
// extracted): cluster.<name>.upstream_rq_completed and …upstream_rq_5xx.
const (
	statCompleted = ".upstream_rq_completed"
	stat5xx       = ".upstream_rq_5xx"
	// piiguard's answer counters, by model and version:
	// wasmcustom.piiguard.answers.scanned.model.<m>.version.<v>.
	statAnswersScanned = "wasmcustom.piiguard.answers.scanned.model."
	statAnswersLeaked  = "wasmcustom.piiguard.answers.leaked.model."
)

// AnswersKey is the sink's key for a model version's answer counters.
func AnswersKey(model, version string) string { return "answers:" + model + "/" + version }

// StreamMetrics implements metricsv3.MetricsServiceServer. The node comes
// from the stream's first message, which the xDS listener's
// authentication has already bound to the caller's credential.
func (s *StatsSink) StreamMetrics(stream metricsv3.MetricsService_StreamMetricsServer) error {
	node := ""
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&metricsv3.StreamMetricsResponse{})
		}
		if err != nil {
			return err
		}
		if id := msg.GetIdentifier().GetNode().GetId(); id != "" {
			node = id
		}
		if node == "" {
			continue
		}
		s.record(node, msg.GetEnvoyMetrics())
	}
}

func (s *StatsSink) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *StatsSink) record(node string, fams []*dto.MetricFamily) {
	byCluster := map[string]*counts{}
	for _, f := range fams {
		name := f.GetName()
		var cluster string
		var fails bool
		switch {
		case strings.HasPrefix(name, statAnswersScanned), strings.HasPrefix(name, statAnswersLeaked):
			// Answers scanned count as requests, those that leaked as
			// failures, under the version's answers key.
			rest := strings.TrimPrefix(strings.TrimPrefix(name, statAnswersScanned), statAnswersLeaked)
			model, version, ok := strings.Cut(rest, ".version.")
			if !ok || model == "" || version == "" {
				continue
			}
			cluster, fails = AnswersKey(model, version), strings.HasPrefix(name, statAnswersLeaked)
		case !strings.HasPrefix(name, "cluster."):
			continue
		case strings.HasSuffix(name, statCompleted):
			cluster = strings.TrimSuffix(strings.TrimPrefix(name, "cluster."), statCompleted)
		case strings.HasSuffix(name, stat5xx):
			cluster, fails = strings.TrimSuffix(strings.TrimPrefix(name, "cluster."), stat5xx), true
		default:
			continue
		}
		var v float64
		for _, m := range f.GetMetric() {
			v += m.GetCounter().GetValue()
		}
		c := byCluster[cluster]
		if c == nil {
			c = &counts{}
			byCluster[cluster] = c
		}
		if fails {
			c.fails = v
		} else {
			c.requests = v
		}
	}
	if len(byCluster) == 0 {
		return
	}
	now := s.now()
	keep := s.Keep
	if keep <= 0 {
		keep = 10 * time.Minute
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nodes == nil {
		s.nodes = map[string]map[string][]counts{}
	}
	if s.nodes[node] == nil {
		s.nodes[node] = map[string][]counts{}
	}
	for cluster, c := range byCluster {
		c.at = now
		h := append(s.nodes[node][cluster], *c)
		for len(h) > 1 && now.Sub(h[0].at) > keep {
			h = h[1:]
		}
		s.nodes[node][cluster] = h
	}
}

// Window sums, over every sidecar, a cluster's requests and 5xx answers
// in the window ending now, and says whether any sidecar reported within
// it.
func (s *StatsSink) Window(cluster string, window time.Duration) (requests, fails int64, fresh bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, clusters := range s.nodes {
		h := clusters[cluster]
		if len(h) == 0 || now.Sub(h[len(h)-1].at) > window {
			continue
		}
		last := h[len(h)-1]
		base := h[0]
		for _, c := range h {
			if now.Sub(c.at) <= window {
				break
			}
			base = c
		}
		if len(h) == 1 || base.at.Equal(last.at) {
			continue
		}
		fresh = true
		// A counter that went down is a restarted sidecar: count from 0.
		if last.requests < base.requests || last.fails < base.fails {
			base = counts{}
		}
		requests += int64(last.requests - base.requests)
		fails += int64(last.fails - base.fails)
	}
	return requests, min(fails, requests), fresh
}

// ClusterName names a model version's cluster as the translation does.
type ClusterName func(model, version string) string

// FastObserver reads the error-rate gates from the stats stream over the
// part of the interval that has passed; its observations go to
// rollout.FastCheck between evaluations.
type FastObserver struct {
	Sink    *StatsSink
	Cluster ClusterName
}

// Observe implements the runner's fast observer.
func (o *FastObserver) Observe(_ context.Context, st rollout.State, now time.Time) []rollout.Observation {
	window := max(now.Sub(st.LastEvaluated), time.Second)
	var out []rollout.Observation
	for _, g := range st.Spec.Gates {
		if g.Type == rollout.GateDataProtection {
			obs := rollout.Observation{Gate: g.Name}
			var fresh bool
			obs.Answers, obs.Leaked, fresh = o.Sink.Window(AnswersKey(st.Model, st.Canary), window)
			if !fresh {
				obs.Err = "no piiguard answer stats for the canary in the last " + window.Round(time.Second).String()
			}
			out = append(out, obs)
			continue
		}
		if g.Type != rollout.GateErrorRate {
			continue
		}
		obs := rollout.Observation{Gate: g.Name}
		var fresh bool
		obs.Requests, obs.Errors, fresh = o.Sink.Window(o.Cluster(st.Model, st.Canary), window)
		obs.BaselineRequests, obs.BaselineErrors, _ = o.Sink.Window(o.Cluster(st.Model, st.Baseline), window)
		if !fresh {
			obs.Err = "no sidecar stats for the canary in the last " + window.Round(time.Second).String()
		}
		out = append(out, obs)
	}
	return out
}
