// Package metrics holds nexus-authz's Prometheus metrics on a registry of
// its own (no global state).
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the service's instruments.
type Metrics struct {
	Registry    *prometheus.Registry
	decisions   *prometheus.CounterVec
	evalSeconds prometheus.Histogram
	loads       *prometheus.CounterVec
	revision    *prometheus.GaugeVec
	logDropped  prometheus.Counter
	logErrors   prometheus.Counter
	cache       *prometheus.CounterVec
	breakGlass  *prometheus.CounterVec

	// opa-envoy-plugin's enable-performance-metrics instruments, nil
	// unless EnablePerformanceMetrics was called.
	checkSeconds *prometheus.HistogramVec
	errorCount   *prometheus.CounterVec
}

// EnablePerformanceMetrics adds opa-envoy-plugin's
// grpc_request_duration_seconds{handler="check"} histogram with these
// buckets and its error_counter{reason}, so dashboards built for it keep
// working.
func (m *Metrics) EnablePerformanceMetrics(buckets []float64) {
	m.checkSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "grpc_request_duration_seconds", Help: "A histogram of duration for grpc authz requests.", Buckets: buckets,
	}, []string{"handler"})
	m.errorCount = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "error_counter", Help: "A counter for errors",
	}, []string{"reason"})
	m.Registry.MustRegister(m.checkSeconds, m.errorCount)
}

// New registers the metrics on a fresh registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nexus_authz_decisions_total", Help: "Decisions by result (allow, deny by policy, error: denied because of a failure) and reason (policy, or the failure's code).",
		}, []string{"result", "reason"}),
		evalSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "nexus_authz_decision_duration_seconds", Help: "Time to decide one CheckRequest, input building included.",
			Buckets: []float64{50e-6, 100e-6, 200e-6, 400e-6, 800e-6, 1.6e-3, 3.2e-3, 6.4e-3, 12.8e-3, 25.6e-3, 0.1, 0.5},
		}),
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nexus_authz_policy_loads_total", Help: "Policy set load attempts by outcome (ok, failed).",
		}, []string{"outcome"}),
		revision: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "nexus_authz_policy_revision_info", Help: "1 for the serving policy revision.",
		}, []string{"revision"}),
		logDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "nexus_authz_decision_log_dropped_total", Help: "Decision log lines dropped because the writer fell behind.",
		}),
		logErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "nexus_authz_decision_log_errors_total", Help: "Decision log lines that could not be written.",
		}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nexus_authz_decision_cache_total", Help: "Decisions answered from the decision cache (hit) or evaluated and remembered (miss).",
		}, []string{"result"}),
		breakGlass: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nexus_authz_break_glass_decisions_total", Help: "Decisions a break-glass (emergency access) grant touched, by grant id and result (allow, deny); each is to be reviewed.",
		}, []string{"grant", "result"}),
	}
	// The process's CPU, memory and Go runtime metrics come from the
	// telemetry package, beside these on the same /metrics.
	m.Registry.MustRegister(m.cache, m.breakGlass, m.decisions, m.evalSeconds, m.loads, m.revision, m.logDropped, m.logErrors)
	return m
}

// Decision implements decision.Metrics. errCode is the failure's code
// (request_parse_error, policy_error, …) when the decision failed.
func (m *Metrics) Decision(result, errCode string, d time.Duration) {
	reason := errCode
	if reason == "" {
		reason = "policy"
	}
	m.decisions.WithLabelValues(result, reason).Inc()
	m.evalSeconds.Observe(d.Seconds())
	if m.checkSeconds != nil {
		m.checkSeconds.WithLabelValues("check").Observe(d.Seconds())
		if errCode != "" {
			m.errorCount.WithLabelValues(errCode).Inc()
		}
	}
}

// CacheLookup implements decision.Metrics.
func (m *Metrics) CacheLookup(hit bool) {
	if hit {
		m.cache.WithLabelValues("hit").Inc()
		return
	}
	m.cache.WithLabelValues("miss").Inc()
}

// PolicyLoad records a load attempt.
func (m *Metrics) PolicyLoad(ok bool, revision string) {
	if !ok {
		m.loads.WithLabelValues("failed").Inc()
		return
	}
	m.loads.WithLabelValues("ok").Inc()
	m.revision.Reset()
	m.revision.WithLabelValues(revision).Set(1)
}

// LogDropped implements decisionlog.Metrics.
func (m *Metrics) LogDropped() { m.logDropped.Inc() }

// LogWriteError implements decisionlog.Metrics.
func (m *Metrics) LogWriteError() { m.logErrors.Inc() }

// BreakGlass counts a decision a break-glass grant touched. Grant ids are
// few (each is issued by hand, for hours), so the label stays bounded.
func (m *Metrics) BreakGlass(grant, result string) {
	m.breakGlass.WithLabelValues(grant, result).Inc()
}

// ConsentFresh reports, as nexus_authz_consent_data_fresh, whether the
// consent data is being served (1) or has been dropped as stale or
// missing (0).
func (m *Metrics) ConsentFresh(fresh func() bool) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "nexus_authz_consent_data_fresh", Help: "1 while the control plane's consent data is served; 0 once it is stale or missing and calls that need consent are denied.",
	}, func() float64 {
		if fresh() {
			return 1
		}
		return 0
	}))
}
