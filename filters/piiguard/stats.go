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
	MetricScanned      = "piiguard.requests.scanned"
	MetricBlocked      = "piiguard.requests.blocked"
	MetricOversize     = "piiguard.requests.oversize"
	MetricFailed       = "piiguard.requests.failed"
	MetricFindingsBy   = "piiguard.findings.class."
	MetricActionsBy    = "piiguard.actions.mode."
	maxDefinedMetrics  = 256
	statsUnavailableID = ^uint32(0)
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
