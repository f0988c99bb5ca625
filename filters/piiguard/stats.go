package piiguard

import (
	"github.com/secureai-nexus/nexus/filters/proxywasm"
	"github.com/secureai-nexus/nexus/filters/scan"
	"github.com/secureai-nexus/nexus/filters/transform"
)

// Metric names, as the proxy's own stats. Envoy keeps them under
// wasmcustom.; the generated bootstrap's stats tags turn the last segment
// into a label, so Prometheus sees piiguard_findings{class="EMAIL"}.
// Counts and classes only: a metric never carries a value.
const (
	MetricScanned    = "piiguard.requests.scanned"
	MetricBlocked    = "piiguard.requests.blocked"
	MetricOversize   = "piiguard.requests.oversize"
	MetricFailed     = "piiguard.requests.failed"
	MetricFindingsBy = "piiguard.findings.class."
	MetricActionsBy  = "piiguard.actions.mode."
	// Answers scanned and answers holding personal data the caller did
	// not send, as piiguard.answers.scanned.model.<m>.version.<v>: the
	// bootstrap's stats tags make them piiguard_answers_leaked{model,
	// version}, the data-protection gate's series.
	MetricAnswersScanned  = "piiguard.answers.scanned"
	MetricAnswersLeaked   = "piiguard.answers.leaked"
	MetricAnswerFindingBy = "piiguard.answers.findings.class."
	maxDefinedMetrics     = 256
	statsUnavailableID    = ^uint32(0)
)

// stats defines each metric on first use and remembers its id; a host
// without the metric ABI (or one that refuses a definition) records none.
type stats struct {
	host proxywasm.Stats
	ids  map[string]uint32
}

func newStats(host proxywasm.Host) *stats {
	s, _ := host.(proxywasm.Stats)
	return &stats{host: s, ids: map[string]uint32{}}
}

func (s *stats) add(name string, n int) {
	if s.host == nil || n == 0 {
		return
	}
	id, ok := s.ids[name]
	if !ok {
		if len(s.ids) >= maxDefinedMetrics {
			return
		}
		var err error
		if id, err = s.host.DefineMetric(proxywasm.MetricCounter, name); err != nil {
			id = statsUnavailableID
		}
		s.ids[name] = id
	}
	if id != statsUnavailableID {
		_ = s.host.IncrementMetric(id, int64(n))
	}
}

// findings counts a scanned body's findings by class and by the mode that
// acted on them.
func (s *stats) findings(p *transform.Policy, counts map[scan.Class]int) {
	if s.host == nil {
		return
	}
	s.add(MetricScanned, 1)
	for class, n := range counts {
		s.add(MetricFindingsBy+string(class), n)
		mode, ok := p.Modes[class]
		if !ok {
			mode = transform.Report
		}
		s.add(MetricActionsBy+string(mode), n)
	}
}

// answer counts one scanned answer and what leaked in it.
func (s *stats) answer(model, version string, a transform.Answer) {
	if s.host == nil {
		return
	}
	suffix := ".model." + statName(model, false) + ".version." + statName(version, true)
	s.add(MetricAnswersScanned+suffix, 1)
	if len(a.Leaks) == 0 {
		return
	}
	s.add(MetricAnswersLeaked+suffix, 1)
	for class, n := range a.Leaks {
		s.add(MetricAnswerFindingBy+string(class), n)
	}
}

// statName keeps a model or version name as the mesh allows it ([a-z0-9-]
// for models, and . _ too for versions); anything else — a missing
// header, an upstream's odd value — is "unknown", so a stat name never
// carries free text.
func statName(s string, version bool) string {
	if s == "" || len(s) > 63 {
		return "unknown"
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
		case version && (r >= 'A' && r <= 'Z' || r == '.' || r == '_'):
		default:
			return "unknown"
		}
	}
	return s
}
