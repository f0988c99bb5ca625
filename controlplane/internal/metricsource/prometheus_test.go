package metricsource

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestCountQueriesSeeNewSeries evaluates the default count templates with
// promtool, Prometheus's own engine, over series scraped every second: a
// healthy series all along, and an error series that appears with the
// canary's first failures at 10s. increase() needs two samples in the
// window, so while the error series had a single one the errors query
// answered 0.
func TestCountQueriesSeeNewSeries(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed (apt-get install prometheus; .ci/run installs it)")
	}
	series := []map[string]string{
		{"series": `gen_ai_server_request_duration_seconds_count{gen_ai_request_model="triage",nexus_model_version="v2",error_type=""}`, "values": "0+80x30"},
		{"series": `gen_ai_server_request_duration_seconds_count{gen_ai_request_model="triage",nexus_model_version="v2",error_type="server_error"}`, "values": "_x10 20+20x20"},
		{"series": `gen_ai_server_request_duration_seconds_count{gen_ai_request_model="triage",nexus_model_version="v1",error_type=""}`, "values": "0+400x30"},
		// piiguard's answer counters as the sidecars' Envoy exports them:
		// v2 starts leaking at 10s (the leaked series appears then).
		{"series": `piiguard_answers_scanned{model="triage",version="v2",envoy_node="model~triage"}`, "values": "0+50x30"},
		{"series": `piiguard_answers_leaked{model="triage",version="v2",envoy_node="model~triage"}`, "values": "_x10 1+1x20"},
	}
	for _, c := range []struct {
		name, tmpl, version string
		at                  int // seconds
		want                float64
	}{
		{"the first sample of a new error series", ErrorsQuery, "v2", 10, 20},
		{"two samples of a new error series", ErrorsQuery, "v2", 11, 40},
		{"errors of an established series", ErrorsQuery, "v2", 14, 40},
		{"before any error", ErrorsQuery, "v2", 8, 0},
		{"no series at all", ErrorsQuery, "v9", 14, 0},
		{"requests with a new error series", RequestsQuery, "v2", 10, 160 + 20},
		{"requests with two samples of a new error series", RequestsQuery, "v2", 11, 160 + 40},
		{"requests of an established series", RequestsQuery, "v1", 14, 800},
		{"no requests at all", RequestsQuery, "v9", 14, 0},
		{"answers scanned", AnswersQuery, "v2", 14, 100},
		{"the first leak, a new series", LeakedQuery, "v2", 10, 1},
		{"no leak yet", LeakedQuery, "v2", 8, 0},
		{"no answers of another version", AnswersQuery, "v9", 14, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, err := Render(c.tmpl, Vars{Model: "triage", Version: c.version, Interval: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			// JSON is YAML: promtool's rule unit test format.
			doc, _ := json.Marshal(map[string]any{
				"rule_files":          []string{},
				"evaluation_interval": "1s",
				"tests": []any{map[string]any{
					"interval":     "1s",
					"input_series": series,
					"promql_expr_test": []any{map[string]any{
						"expr": q, "eval_time": time.Duration(c.at * int(time.Second)).String(),
						"exp_samples": []any{map[string]any{"labels": "{}", "value": c.want}},
					}},
				}},
			})
			file := filepath.Join(t.TempDir(), "queries_test.yml")
			if err := os.WriteFile(file, doc, 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(promtool, "test", "rules", file).CombinedOutput(); err != nil {
				t.Errorf("at %ds, want %g: %v\n%s", c.at, c.want, err, out)
			}
		})
	}
}
