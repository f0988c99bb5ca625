package runner

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/rollout"
)

type traffic struct {
	m     *mesh.Mesh
	calls []string
}

func (f *traffic) Mesh() *mesh.Mesh { return f.m }

func (f *traffic) SetTraffic(_ context.Context, actor, model string, weights map[string]int64) (mesh.Model, audit.Record, error) {
	valid, err := f.m.ValidateWeights(model, weights)
	if err != nil {
		return mesh.Model{}, audit.Record{}, err
	}
	f.m = f.m.WithWeights(model, valid)
	f.calls = append(f.calls, actor)
	md, _ := f.m.Model(model)
	return *md, audit.Record{}, nil
}

type store struct{ states map[string][]byte }

func (s *store) Rollouts(context.Context) (map[string][]byte, error) { return s.states, nil }

func (s *store) SaveRollout(_ context.Context, model string, state []byte, _ time.Time, _ *audit.Entry) error {
	s.states[model] = state
	return nil
}

func testMesh(t *testing.T) *mesh.Mesh {
	t.Helper()
	m, err := mesh.Parse([]byte(`trustDomain: nexus.local
controlPlane: {address: 127.0.0.1:18000}
piiGuard: {wasm: piiguard.wasm}
models:
  - name: triage
    hosts: [triage.models.nexus.local]
    sidecar: 127.0.0.1:10000
    policy: nexus.models.triage
    versions:
      - {name: v1, weight: 100, endpoints: ["127.0.0.1:8001"]}
      - {name: v2, weight: 0, endpoints: ["127.0.0.1:8002"]}
`), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestLoadRestoresAnUnrecordedStep: a control plane stopped between
// pushing a step's weights and storing the step resumes the stored step
// and serves its weights again; one whose weights match, or whose rollout
// is over, changes nothing.
func TestLoadRestoresAnUnrecordedStep(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	started, _, err := rollout.Start("triage", rollout.Spec{Version: "v2", Steps: []int{20, 60}}, map[string]uint32{"v1": 100, "v2": 0}, now)
	if err != nil {
		t.Fatal(err)
	}
	promoted, _, err := rollout.Promote(started, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		st      rollout.State
		serving map[string]int64
		want    map[string]uint32
		pushes  int
	}{
		{"the next step was pushed, not recorded", started, map[string]int64{"v1": 40, "v2": 60}, map[string]uint32{"v1": 80, "v2": 20}, 1},
		{"the stored step is served", started, map[string]int64{"v1": 80, "v2": 20}, map[string]uint32{"v1": 80, "v2": 20}, 0},
		{"the rollout is over", promoted, map[string]int64{"v1": 50, "v2": 50}, map[string]uint32{"v1": 50, "v2": 50}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := &traffic{m: testMesh(t)}
			if _, _, err := tr.SetTraffic(context.Background(), "test", "triage", c.serving); err != nil {
				t.Fatal(err)
			}
			tr.calls = nil
			raw, _ := json.Marshal(c.st)
			r := &Runner{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Traffic: tr, Store: &store{states: map[string][]byte{"triage": raw}}, Now: func() time.Time { return now }}
			if err := r.Load(context.Background()); err != nil {
				t.Fatal(err)
			}
			md, _ := tr.m.Model("triage")
			if got := md.Weights(); got["v1"] != c.want["v1"] || got["v2"] != c.want["v2"] {
				t.Errorf("serving %v after Load, want %v", got, c.want)
			}
			if len(tr.calls) != c.pushes || (c.pushes > 0 && tr.calls[0] != "rollout:triage") {
				t.Errorf("pushes %v, want %d by rollout:triage", tr.calls, c.pushes)
			}
			if st, _ := r.Current("triage"); st.Weight != c.st.Weight || st.Phase != c.st.Phase {
				t.Errorf("resumed %s at %d%%, want %s at %d%%", st.Phase, st.Weight, c.st.Phase, c.st.Weight)
			}
		})
	}
}
