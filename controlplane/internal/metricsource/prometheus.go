// Package metricsource reads a rollout's observations from a
// Prometheus-compatible query API, with query templates in Flagger's
// MetricTemplate shape ({{ model }}, {{ version }}, {{ interval }}).
package metricsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/rollout"
)

// Default query templates, over the metrics nexus-backend exports.
//
// A counter series appears with its first increment (an error type's first
// error, a new canary's first request), and increase() needs two samples
// in the window: while a new series has one, increase() alone has no
// value for it and the query answered 0 errors though Prometheus held
// them, so a canary that began failing just before an evaluation passed
// it. The counts take such a series' value when it did not exist at the
// window's start: all of it came in the window. (With two samples or
// more, increase() extrapolates a new series back to zero itself.)
const (
	RequestsQuery = `sum(increase(` + requestsSeries + `[{{ interval }}]) or (` + requestsSeries + ` unless ` + requestsSeries + ` offset {{ interval }})) or vector(0)`
	ErrorsQuery   = `sum(increase(` + errorsSeries + `[{{ interval }}]) or (` + errorsSeries + ` unless ` + errorsSeries + ` offset {{ interval }})) or vector(0)`
	// AnswersQuery and LeakedQuery count piiguard's scanned answers and
	// those holding personal data the caller did not send, by the version
	// that answered (the sidecars' piiguard_answers_* counters).
	AnswersQuery = `sum(increase(` + answersSeries + `[{{ interval }}]) or (` + answersSeries + ` unless ` + answersSeries + ` offset {{ interval }})) or vector(0)`
	LeakedQuery  = `sum(increase(` + leakedSeries + `[{{ interval }}]) or (` + leakedSeries + ` unless ` + leakedSeries + ` offset {{ interval }})) or vector(0)`
	LatencyQuery = `histogram_quantile({{ quantile }}, sum by (le) (rate(gen_ai_server_request_duration_seconds_bucket{gen_ai_request_model="{{ model }}",nexus_model_version="{{ version }}"}[{{ interval }}])))`
)

const (
	requestsSeries = `gen_ai_server_request_duration_seconds_count{gen_ai_request_model="{{ model }}",nexus_model_version="{{ version }}"}`
	errorsSeries   = `gen_ai_server_request_duration_seconds_count{gen_ai_request_model="{{ model }}",nexus_model_version="{{ version }}",error_type!=""}`
	answersSeries  = `piiguard_answers_scanned{model="{{ model }}",version="{{ version }}"}`
	leakedSeries   = `piiguard_answers_leaked{model="{{ model }}",version="{{ version }}"}`
)

// Vars are what a template may use.
type Vars struct {
	Model, Version string
	Interval       time.Duration
	Quantile       float64
}

// Render fills a query template.
func Render(tmpl string, v Vars) (string, error) {
	t, err := template.New("query").Option("missingkey=error").Funcs(template.FuncMap{
		"model":    func() string { return v.Model },
		"version":  func() string { return v.Version },
		"interval": func() string { return promDuration(v.Interval) },
		"quantile": func() string { return strconv.FormatFloat(v.Quantile, 'g', -1, 64) },
	}).Parse(tmpl)
	if err != nil {
		return "", fmt.Errorf("query template: %w", err)
	}
	var b strings.Builder
	if err := t.Execute(&b, nil); err != nil {
		return "", fmt.Errorf("query template: %w", err)
	}
	return b.String(), nil
}

// promDuration writes d as PromQL does: whole seconds.
func promDuration(d time.Duration) string {
	return strconv.FormatInt(max(int64(d/time.Second), 1), 10) + "s"
}

// Prometheus queries one Prometheus-compatible API.
type Prometheus struct {
	URL    string
	Client *http.Client
}

// Query runs an instant query and returns the sum of its samples; ok is
// false when it returned nothing.
func (p *Prometheus) Query(ctx context.Context, expr string, at time.Time) (v float64, ok bool, err error) {
	q := url.Values{"query": {expr}, "time": {strconv.FormatFloat(float64(at.UnixNano())/1e9, 'f', 3, 64)}}
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := p.get(ctx, "/api/v1/query", q, &data); err != nil {
		return 0, false, err
	}
	switch data.ResultType {
	case "scalar":
		var s [2]any
		if err := json.Unmarshal(data.Result, &s); err != nil {
			return 0, false, err
		}
		f, err := sampleValue(s[1])
		return f, err == nil && !math.IsNaN(f), err
	case "vector":
		var vec []struct {
			Value [2]any `json:"value"`
		}
		if err := json.Unmarshal(data.Result, &vec); err != nil {
			return 0, false, err
		}
		for _, s := range vec {
			f, err := sampleValue(s.Value[1])
			if err != nil {
				return 0, false, err
			}
			if !math.IsNaN(f) {
				v, ok = v+f, true
			}
		}
		return v, ok, nil
	}
	return 0, false, fmt.Errorf("query %q: want a vector or scalar, got %s", expr, data.ResultType)
}

// Range runs a range query and returns the first series' values, NaN
// dropped.
func (p *Prometheus) Range(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]float64, error) {
	q := url.Values{"query": {expr}, "start": {unix(start)}, "end": {unix(end)}, "step": {strconv.FormatFloat(step.Seconds(), 'f', 3, 64)}}
	var data struct {
		Result []struct {
			Values [][2]any `json:"values"`
		} `json:"result"`
	}
	if err := p.get(ctx, "/api/v1/query_range", q, &data); err != nil {
		return nil, err
	}
	var out []float64
	if len(data.Result) > 0 {
		for _, s := range data.Result[0].Values {
			f, err := sampleValue(s[1])
			if err != nil {
				return nil, err
			}
			if !math.IsNaN(f) && !math.IsInf(f, 0) {
				out = append(out, f)
			}
		}
	}
	return out, nil
}

func unix(t time.Time) string { return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', 3, 64) }

func sampleValue(v any) (float64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("sample value %v is not a string", v)
	}
	return strconv.ParseFloat(s, 64)
}

func (p *Prometheus) get(ctx context.Context, path string, q url.Values, data any) error {
	client := p.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimRight(p.URL, "/")+path+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("prometheus: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("prometheus: %w", err)
	}
	var r struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("prometheus %s: %d, not a query API answer", path, resp.StatusCode)
	}
	if r.Status != "success" {
		return fmt.Errorf("prometheus: %s", r.Error)
	}
	return json.Unmarshal(r.Data, data)
}

// Observer turns a rollout's gates into observations over the interval
// that ends now.
type Observer struct {
	Source *Prometheus
}

// Observe queries every gate of st.
func (o *Observer) Observe(ctx context.Context, st rollout.State, now time.Time) []rollout.Observation {
	interval := time.Duration(st.Spec.Interval)
	out := make([]rollout.Observation, 0, len(st.Spec.Gates))
	for _, g := range st.Spec.Gates {
		obs := rollout.Observation{Gate: g.Name}
		if err := o.observe(ctx, g, st, interval, now, &obs); err != nil {
			obs.Err = err.Error()
		}
		out = append(out, obs)
	}
	return out
}

func (o *Observer) observe(ctx context.Context, g rollout.Gate, st rollout.State, interval time.Duration, now time.Time, obs *rollout.Observation) error {
	tmpl := func(name, def string) string {
		if q := g.Queries[name]; q != "" {
			return q
		}
		return def
	}
	vars := func(version string, window time.Duration) Vars {
		return Vars{Model: st.Model, Version: version, Interval: window, Quantile: g.Quantile}
	}
	count := func(tmplText, version string) (int64, error) {
		q, err := Render(tmplText, vars(version, interval))
		if err != nil {
			return 0, err
		}
		v, _, err := o.Source.Query(ctx, q, now)
		return int64(math.Round(v)), err
	}
	switch g.Type {
	case rollout.GateErrorRate:
		var err error
		if obs.Requests, err = count(tmpl("requests", RequestsQuery), st.Canary); err != nil {
			return err
		}
		if obs.Errors, err = count(tmpl("errors", ErrorsQuery), st.Canary); err != nil {
			return err
		}
		if obs.BaselineRequests, err = count(tmpl("requests", RequestsQuery), st.Baseline); err != nil {
			return err
		}
		obs.BaselineErrors, err = count(tmpl("errors", ErrorsQuery), st.Baseline)
		obs.Errors, obs.BaselineErrors = min(obs.Errors, obs.Requests), min(obs.BaselineErrors, obs.BaselineRequests)
		return err
	case rollout.GateLatency:
		// The quantile at sub-intervals: the samples the Mann-Whitney test
		// compares, over the window each rate needs.
		step := max(interval/6, time.Second)
		window := max(2*step, 5*time.Second)
		for _, side := range []struct {
			version string
			into    *[]float64
		}{{st.Canary, &obs.Canary}, {st.Baseline, &obs.Baseline}} {
			q, err := Render(tmpl("latency", LatencyQuery), vars(side.version, window))
			if err != nil {
				return err
			}
			if *side.into, err = o.Source.Range(ctx, q, now.Add(-interval), now, step); err != nil {
				return err
			}
		}
		return nil
	case rollout.GateDataProtection:
		var err error
		if obs.Answers, err = count(tmpl("answers", AnswersQuery), st.Canary); err != nil {
			return err
		}
		obs.Leaked, err = count(tmpl("leaked", LeakedQuery), st.Canary)
		return err
	case rollout.GateThreshold:
		q, err := Render(g.Query, vars(st.Canary, interval))
		if err != nil {
			return err
		}
		v, ok, err := o.Source.Query(ctx, q, now)
		if err != nil {
			return err
		}
		if ok {
			obs.Value = &v
		}
		return nil
	}
	return errors.New("unknown gate type " + g.Type)
}
