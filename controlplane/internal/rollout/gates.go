package rollout

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/analysis"
)

// Gate types.
const (
	GateErrorRate = "error-rate"
	GateLatency   = "latency"
	GateThreshold = "threshold"
	// GateDataProtection fails a canary whose answers hold personal data
	// the callers did not send (piiguard's answer scan): a version that
	// starts leaking is rolled back at once (the gate is always critical).
	GateDataProtection = "data-protection"
)

// Gate is one check a step must pass.
type Gate struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// error-rate: Wald's SPRT that the canary's error rate is no worse
	// than MaxErrorRate (default 0.001, the alert's 0.1 %) or the
	// baseline's, whichever is higher, against ten times that.
	MaxErrorRate float64 `json:"maxErrorRate,omitempty"`
	Alpha        float64 `json:"alpha,omitempty"`
	Beta         float64 `json:"beta,omitempty"`
	// latency: the canary's quantile over the interval, sampled at
	// sub-intervals, against an absolute Ceiling (default 200 ms, the
	// alert's) and the baseline's by the one-sided Mann-Whitney U test;
	// a significant difference fails only past Tolerance (default 10 %).
	Quantile   float64  `json:"quantile,omitempty"`
	Ceiling    Duration `json:"ceiling,omitempty"`
	Tolerance  float64  `json:"tolerance,omitempty"`
	MinSamples int      `json:"minSamples,omitempty"`
	// data-protection: at most MaxLeakRate of the canary's answers may
	// hold personal data the caller did not send (default 0: the first
	// such answer fails the gate); MinAnswers scanned answers are needed
	// to pass (default 20).
	MaxLeakRate float64 `json:"maxLeakRate,omitempty"`
	MinAnswers  int64   `json:"minAnswers,omitempty"`
	// threshold: a query's value must stay within Max and Min.
	Query string   `json:"query,omitempty"`
	Max   *float64 `json:"max,omitempty"`
	Min   *float64 `json:"min,omitempty"`
	// Queries replace the built-in query templates (error-rate: requests,
	// errors; latency: latency). Templates see {{ model }}, {{ version }},
	// {{ interval }} and {{ quantile }}.
	Queries map[string]string `json:"queries,omitempty"`
	// Critical: a failure rolls back at once, even with gradual rollback.
	Critical bool `json:"critical,omitempty"`
}

// DefaultGates are the seed's objectives: errors and p99 latency.
func DefaultGates() []Gate {
	return []Gate{{Name: GateErrorRate, Type: GateErrorRate}, {Name: GateLatency, Type: GateLatency}}
}

type gateErr struct{ field, msg string }

func (g Gate) normalize() (Gate, *gateErr) {
	if g.Name == "" {
		g.Name = g.Type
	}
	if g.Name == "" {
		return g, &gateErr{"name", "is required"}
	}
	switch g.Type {
	case GateErrorRate:
		if g.MaxErrorRate == 0 {
			g.MaxErrorRate = 0.001
		}
		if g.Alpha == 0 {
			g.Alpha = 0.05
		}
		if g.Beta == 0 {
			g.Beta = 0.10
		}
		if !(g.MaxErrorRate > 0 && g.MaxErrorRate < 0.5) {
			return g, &gateErr{"maxErrorRate", fmt.Sprintf("must be between 0 and 0.5, got %v", g.MaxErrorRate)}
		}
		if err := (analysis.SPRT{P0: 0.01, P1: 0.1, Alpha: g.Alpha, Beta: g.Beta}).Validate(); err != nil {
			return g, &gateErr{"alpha", err.Error()}
		}
	case GateLatency:
		if g.Quantile == 0 {
			g.Quantile = 0.99
		}
		if g.Ceiling == 0 {
			g.Ceiling = Duration(200 * time.Millisecond)
		}
		if g.Tolerance == 0 {
			g.Tolerance = 0.1
		}
		if g.MinSamples == 0 {
			g.MinSamples = 3
		}
		if g.Alpha == 0 {
			g.Alpha = 0.05
		}
		if !(g.Quantile > 0 && g.Quantile < 1) {
			return g, &gateErr{"quantile", fmt.Sprintf("must be between 0 and 1, got %v", g.Quantile)}
		}
		if g.Ceiling < 0 || g.Tolerance < 0 || g.MinSamples < 1 {
			return g, &gateErr{"ceiling", "ceiling, tolerance and minSamples must be positive"}
		}
	case GateDataProtection:
		// A leak of personal data never steps down gradually.
		g.Critical = true
		if g.MinAnswers == 0 {
			g.MinAnswers = 20
		}
		if g.MinAnswers < 1 {
			return g, &gateErr{"minAnswers", fmt.Sprintf("must be at least 1, got %d", g.MinAnswers)}
		}
		if !(g.MaxLeakRate >= 0 && g.MaxLeakRate < 0.5) {
			return g, &gateErr{"maxLeakRate", fmt.Sprintf("must be at least 0 and below 0.5, got %v", g.MaxLeakRate)}
		}
		if g.MaxLeakRate > 0 {
			if g.Alpha == 0 {
				g.Alpha = 0.05
			}
			if g.Beta == 0 {
				g.Beta = 0.10
			}
		}
	case GateThreshold:
		if g.Query == "" {
			return g, &gateErr{"query", "is required for a threshold gate"}
		}
		if g.Max == nil && g.Min == nil {
			return g, &gateErr{"max", "a threshold gate needs max, min or both"}
		}
	default:
		return g, &gateErr{"type", fmt.Sprintf("must be one of error-rate, latency, threshold, data-protection, got %q", g.Type)}
	}
	return g, nil
}

// Observation is what the metric source saw for one gate over the
// interval that just ended.
type Observation struct {
	Gate string `json:"gate"`
	// error-rate
	Requests         int64 `json:"requests,omitempty"`
	Errors           int64 `json:"errors,omitempty"`
	BaselineRequests int64 `json:"baselineRequests,omitempty"`
	BaselineErrors   int64 `json:"baselineErrors,omitempty"`
	// latency, in seconds
	Canary   []float64 `json:"canary,omitempty"`
	Baseline []float64 `json:"baseline,omitempty"`
	// data-protection: answers piiguard scanned, and those holding
	// personal data the caller did not send
	Answers int64 `json:"answers,omitempty"`
	Leaked  int64 `json:"leaked,omitempty"`
	// threshold
	Value *float64 `json:"value,omitempty"`
	// Err is set when the source could not answer: inconclusive, never a
	// failure.
	Err string `json:"error,omitempty"`
}

// GateResult is a gate's verdict with the numbers behind it.
type GateResult struct {
	Name     string             `json:"name"`
	Type     string             `json:"type"`
	Verdict  analysis.Verdict   `json:"verdict"`
	Detail   string             `json:"detail"`
	Numbers  map[string]float64 `json:"numbers,omitempty"`
	Critical bool               `json:"critical,omitempty"`
}

// Evaluate decides the gate on one observation.
func (g Gate) Evaluate(o Observation) GateResult {
	r := GateResult{Name: g.Name, Type: g.Type, Critical: g.Critical, Numbers: map[string]float64{}}
	if o.Err != "" {
		r.Verdict, r.Detail = analysis.Inconclusive, "no data: "+o.Err
		return r
	}
	switch g.Type {
	case GateErrorRate:
		p0 := g.MaxErrorRate
		if o.BaselineRequests > 0 {
			p0 = max(p0, float64(o.BaselineErrors)/float64(o.BaselineRequests))
		}
		p0 = min(p0, 0.45)
		p1 := min(10*p0, 0.9)
		res, err := analysis.SPRT{P0: p0, P1: p1, Alpha: g.Alpha, Beta: g.Beta}.Test(o.Errors, o.Requests)
		if err != nil {
			r.Verdict, r.Detail = analysis.Inconclusive, err.Error()
			return r
		}
		rate := 0.0
		if o.Requests > 0 {
			rate = float64(o.Errors) / float64(o.Requests)
		}
		r.Numbers = map[string]float64{"requests": float64(o.Requests), "errors": float64(o.Errors), "rate": rate, "p0": p0, "p1": p1, "llr": res.LLR, "lower": res.Lower, "upper": res.Upper}
		r.Verdict = res.Verdict
		switch res.Verdict {
		case analysis.Fail:
			r.Detail = fmt.Sprintf("%d errors in %d requests (%.2f%%): the error rate is above %.2f%%", o.Errors, o.Requests, 100*rate, 100*p0)
		case analysis.Pass:
			r.Detail = fmt.Sprintf("%d errors in %d requests (%.2f%%), within %.2f%%", o.Errors, o.Requests, 100*rate, 100*p0)
		default:
			r.Detail = fmt.Sprintf("%d errors in %d requests: not enough requests to decide", o.Errors, o.Requests)
		}
	case GateLatency:
		ceiling := time.Duration(g.Ceiling).Seconds()
		if len(o.Canary) < g.MinSamples {
			r.Verdict = analysis.Inconclusive
			r.Detail = fmt.Sprintf("%d latency samples of the canary, need %d", len(o.Canary), g.MinSamples)
			return r
		}
		cm := median(o.Canary)
		r.Numbers["canary_median"], r.Numbers["ceiling"] = cm, ceiling
		if cm > ceiling {
			r.Verdict = analysis.Fail
			r.Detail = fmt.Sprintf("p%g %s, above the ceiling %s", 100*g.Quantile, secs(cm), secs(ceiling))
			return r
		}
		if len(o.Baseline) >= g.MinSamples {
			bm := median(o.Baseline)
			mw, err := analysis.MannWhitneyGreater(o.Canary, o.Baseline, g.MinSamples)
			if err == nil {
				r.Numbers["baseline_median"], r.Numbers["u"], r.Numbers["p"], r.Numbers["effect"] = bm, mw.U, mw.P, mw.Effect
				if mw.P < g.Alpha && cm > bm*(1+g.Tolerance) {
					r.Verdict = analysis.Fail
					r.Detail = fmt.Sprintf("p%g %s against the baseline's %s (Mann-Whitney p=%.3f)", 100*g.Quantile, secs(cm), secs(bm), mw.P)
					return r
				}
			}
		}
		r.Verdict = analysis.Pass
		r.Detail = fmt.Sprintf("p%g %s, within %s", 100*g.Quantile, secs(cm), secs(ceiling))
	case GateDataProtection:
		leaked := min(o.Leaked, o.Answers)
		rate := 0.0
		if o.Answers > 0 {
			rate = float64(leaked) / float64(o.Answers)
		}
		r.Numbers = map[string]float64{"answers": float64(o.Answers), "leaked": float64(leaked), "rate": rate, "max_rate": g.MaxLeakRate}
		if g.MaxLeakRate == 0 {
			switch {
			case leaked > 0:
				r.Verdict = analysis.Fail
				r.Detail = fmt.Sprintf("%d of %d answers held personal data the caller did not send", leaked, o.Answers)
			case o.Answers < g.MinAnswers:
				r.Verdict = analysis.Inconclusive
				r.Detail = fmt.Sprintf("%d answers scanned, need %d", o.Answers, g.MinAnswers)
			default:
				r.Verdict = analysis.Pass
				r.Detail = fmt.Sprintf("none of %d answers held personal data the caller did not send", o.Answers)
			}
			return r
		}
		res, err := analysis.SPRT{P0: g.MaxLeakRate, P1: min(10*g.MaxLeakRate, 0.9), Alpha: g.Alpha, Beta: g.Beta}.Test(leaked, o.Answers)
		if err != nil {
			r.Verdict, r.Detail = analysis.Inconclusive, err.Error()
			return r
		}
		r.Verdict = res.Verdict
		r.Numbers["llr"], r.Numbers["lower"], r.Numbers["upper"] = res.LLR, res.Lower, res.Upper
		r.Detail = fmt.Sprintf("%d of %d answers (%.2f%%) held personal data the caller did not send; allowed %.2f%%", leaked, o.Answers, 100*rate, 100*g.MaxLeakRate)
		if res.Verdict == analysis.Pass && o.Answers < g.MinAnswers {
			r.Verdict = analysis.Inconclusive
		}
	case GateThreshold:
		if o.Value == nil || math.IsNaN(*o.Value) {
			r.Verdict, r.Detail = analysis.Inconclusive, "the query returned no value"
			return r
		}
		v := *o.Value
		r.Numbers["value"] = v
		switch {
		case g.Max != nil && v > *g.Max:
			r.Verdict, r.Detail = analysis.Fail, fmt.Sprintf("%g, above %g", v, *g.Max)
		case g.Min != nil && v < *g.Min:
			r.Verdict, r.Detail = analysis.Fail, fmt.Sprintf("%g, below %g", v, *g.Min)
		default:
			r.Verdict, r.Detail = analysis.Pass, fmt.Sprintf("%g, within bounds", v)
		}
	}
	return r
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func secs(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(100 * time.Microsecond).String()
}
