package controller_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/controller"
	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
	"github.com/secureai-nexus/nexus/controlplane/internal/xds"
)

const doc = `
trustDomain: nexus.local
piiGuard: {wasm: /opt/piiguard.wasm}
models:
  - name: triage
    hosts: [triage.models.nexus.local]
    sidecar: 127.0.0.1:10000
    policy: nexus.models.triage
    versions:
      - {name: v1, weight: 90, endpoints: [127.0.0.1:8001]}
      - {name: v2, weight: 10, endpoints: [127.0.0.1:8002]}
`

func setup(t *testing.T, dir, text string) (*controller.Controller, *store.SQLite) {
	t.Helper()
	m, err := mesh.Parse([]byte(text), "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := controller.New(context.Background(), log, m, st, xds.NewServer(log), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	return c, st
}

func TestNoOpChangeIsNotAudited(t *testing.T) {
	c, st := setup(t, t.TempDir(), doc)
	_, rec, err := c.SetTraffic(context.Background(), "alice", "triage", map[string]int64{"v1": 90, "v2": 10})
	if err != nil || rec.Seq != 0 {
		t.Fatalf("no-op change: rec %+v, err %v", rec, err)
	}
	if recs, _ := st.Audit(context.Background(), 0, 10); len(recs) != 0 {
		t.Errorf("a no-op was audited: %+v", recs)
	}
}

// TestStoredWeightsThatNoLongerFitAreDropped: the API moved traffic to v2,
// then the file removed v2; the file's weights apply.
func TestStoredWeightsThatNoLongerFitAreDropped(t *testing.T) {
	dir := t.TempDir()
	c, st := setup(t, dir, doc)
	if _, _, err := c.SetTraffic(context.Background(), "alice", "triage", map[string]int64{"v1": 0, "v2": 100}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	oneVersion := strings.Replace(strings.Replace(doc, "weight: 90", "weight: 100", 1), "      - {name: v2, weight: 10, endpoints: [127.0.0.1:8002]}\n", "", 1)
	c2, _ := setup(t, dir, oneVersion)
	md, _ := c2.Mesh().Model("triage")
	if len(md.Versions) != 1 || md.Versions[0].Weight != 100 {
		t.Errorf("versions = %+v", md.Versions)
	}
}

func TestReloadIsAuditedAndKeepsAPIWeights(t *testing.T) {
	c, st := setup(t, t.TempDir(), doc)
	ctx := context.Background()
	if _, _, err := c.SetTraffic(ctx, "alice", "triage", map[string]int64{"v1": 50, "v2": 50}); err != nil {
		t.Fatal(err)
	}
	withService := doc + "services:\n  - {name: frontdesk, appPort: 9000, inbound: 127.0.0.1:15006, outbound: 127.0.0.1:15001}\n"
	m, err := mesh.Parse([]byte(withService), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(ctx, m, "mesh.yaml"); err != nil {
		t.Fatal(err)
	}
	if len(c.Mesh().Services) != 1 {
		t.Error("reloaded mesh not served")
	}
	md, _ := c.Mesh().Model("triage")
	if md.Versions[0].Weight != 50 {
		t.Errorf("API weights lost on reload: %+v", md.Versions)
	}
	recs, _ := st.Audit(ctx, 0, 10)
	if len(recs) != 2 || recs[1].Action != "mesh.reload" || recs[1].Actor != "file:mesh.yaml" || !strings.Contains(string(recs[1].After), "frontdesk") {
		t.Errorf("audit = %+v", recs)
	}
}

func TestSetTrafficUnknownModel(t *testing.T) {
	c, _ := setup(t, t.TempDir(), doc)
	_, _, err := c.SetTraffic(context.Background(), "alice", "nope", map[string]int64{"v1": 100})
	if !errors.Is(err, mesh.ErrUnknownModel) {
		t.Errorf("err = %v", err)
	}
}

// flakyPublisher is the real xDS server with its pushes failing while
// fail is set, as a push fails when its context ends mid-way.
type flakyPublisher struct {
	*xds.Server
	fail bool
}

func (f *flakyPublisher) Prepare(m *mesh.Mesh) (func(context.Context) error, error) {
	commit, err := f.Server.Prepare(m)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		if f.fail {
			return context.Canceled
		}
		return commit(ctx)
	}, nil
}

// TestSameSplitAfterAFailedPushPushesAgain: a change stored but not pushed
// is pushed by the operator's retry, though the retry changes nothing.
func TestSameSplitAfterAFailedPushPushesAgain(t *testing.T) {
	m, err := mesh.Parse([]byte(doc), "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pub := &flakyPublisher{Server: xds.NewServer(log)}
	c, err := controller.New(context.Background(), log, m, st, pub, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	weights := map[string]int64{"v1": 50, "v2": 50}
	pub.fail = true
	if _, _, err := c.SetTraffic(ctx, "alice", "triage", weights); !errors.Is(err, controller.ErrNotPublished) {
		t.Fatalf("failed push: %v, want ErrNotPublished", err)
	}
	published := func() string {
		for _, r := range pub.Published()["model~triage"].Routes {
			for _, vh := range r.VirtualHosts {
				for _, rt := range vh.Routes {
					if wc := rt.GetRoute().GetWeightedClusters(); wc != nil {
						return wc.GetClusters()[0].GetWeight().String() + "/" + wc.GetClusters()[1].GetWeight().String()
					}
				}
			}
		}
		return ""
	}
	if got := published(); !strings.Contains(got, "90") {
		t.Fatalf("the failed push reached the snapshot: %s", got)
	}
	pub.fail = false
	if _, rec, err := c.SetTraffic(ctx, "alice", "triage", weights); err != nil || rec.Seq != 0 {
		t.Fatalf("retry: rec %+v, %v (it is stored already: no new record)", rec, err)
	}
	if got := published(); !strings.Contains(got, "50") || strings.Contains(got, "90") {
		t.Fatalf("after the retry the sidecars still have %s", got)
	}
	if recs, _ := st.Audit(ctx, 0, 10); len(recs) != 1 {
		t.Fatalf("%d audit records, want the one change", len(recs))
	}
}
