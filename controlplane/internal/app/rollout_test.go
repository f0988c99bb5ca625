package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/app"
)

// queryAPI answers Prometheus's query API for the rollout gates' default
// queries from per-version figures the test sets. (Real Prometheus
// scraping real backends is e2e's TestRolloutEndToEnd.)
type queryAPI struct {
	mu       sync.Mutex
	requests map[string]float64
	errors   map[string]float64
	latency  map[string]float64
}

var versionLabel = regexp.MustCompile(`nexus_model_version="([^"]+)"`)

func (q *queryAPI) set(version string, requests, errs, latency float64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.requests[version], q.errors[version], q.latency[version] = requests, errs, latency
}

func (q *queryAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q.mu.Lock()
	defer q.mu.Unlock()
	expr := r.URL.Query().Get("query")
	m := versionLabel.FindStringSubmatch(expr)
	if m == nil {
		http.Error(w, `{"status":"error","error":"no version"}`, 400)
		return
	}
	v := m[1]
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/api/v1/query":
		n := q.requests[v]
		if strings.Contains(expr, "error_type") {
			n = q.errors[v]
		}
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[%d,"%g"]}]}}`, time.Now().Unix(), n)
	case "/api/v1/query_range":
		var pts []string
		for i := range 6 {
			pts = append(pts, fmt.Sprintf(`[%d,"%g"]`, time.Now().Unix()-int64(6-i), q.latency[v]*(1+0.01*float64(i%3))))
		}
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[%s]}]}}`, strings.Join(pts, ","))
	}
}

type cp struct {
	addr, token string
	ready       app.Ready
	stop        func()
}

// startApp runs the control plane with cfg on free loopback ports, the
// example mesh unless cfg names another, until the test ends.
func startApp(t *testing.T, cfg app.Config) cp {
	t.Helper()
	if cfg.MeshFile == "" {
		cfg.MeshFile = exampleMesh
	}
	cfg.XDSAddr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan app.Ready, 1)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), cfg, ready) }()
	var r app.Ready
	select {
	case r = <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("control plane did not start")
	}
	tok, _ := os.ReadFile(r.AdminTokenPath)
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(stop)
	return cp{addr: "http://" + r.AdminAddr, token: strings.TrimSpace(string(tok)), ready: r, stop: stop}
}

func startCP(t *testing.T, dir, prom string) cp {
	t.Helper()
	return startApp(t, app.Config{DataDir: dir, PrometheusURL: prom, RolloutTick: 20 * time.Millisecond})
}

func (c cp) call(t *testing.T, method, path, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, c.addr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		_ = json.Unmarshal(b, out)
	}
	return resp.StatusCode
}

// text GETs path and returns the body as it came.
func (c cp) text(t *testing.T, path string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", c.addr+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return b
}

func itoa(i int) string { return fmt.Sprint(i) }

type rolloutView struct {
	Phase, Canary, Reason string
	Weight                int
	Gates                 []struct{ Name, Verdict, Detail string }
	History               []struct{ Type string }
}

func (c cp) waitPhase(t *testing.T, phase string) rolloutView {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var v rolloutView
		c.call(t, "GET", "/api/v1/admin/models/triage/rollouts/current", "", &v)
		if v.Phase == phase {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("rollout is %s at %d%% (%s), never %s; gates %+v", v.Phase, v.Weight, v.Reason, phase, v.Gates)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

func (c cp) weights(t *testing.T) map[string]float64 {
	t.Helper()
	var m struct {
		Versions []struct {
			Name   string
			Weight float64
		}
	}
	c.call(t, "GET", "/api/v1/admin/models/triage", "", &m)
	out := map[string]float64{}
	for _, v := range m.Versions {
		out[v.Name] = v.Weight
	}
	return out
}

// TestRolloutThroughTheAdminAPI runs rollouts through the real admin API,
// controller, store and runner against a Prometheus query API: a healthy
// canary is promoted, a failing one rolled back, manual traffic changes
// are refused while a rollout holds the weights, and a rollout survives a
// control-plane restart.
func TestRolloutThroughTheAdminAPI(t *testing.T) {
	q := &queryAPI{requests: map[string]float64{}, errors: map[string]float64{}, latency: map[string]float64{}}
	q.set("v1", 5000, 1, 0.05)
	q.set("v2", 2000, 0, 0.05)
	prom := httptest.NewServer(q)
	defer prom.Close()
	dir := filepath.Join(t.TempDir(), "data")
	c := startCP(t, dir, prom.URL)

	// Refused with the field named.
	for body, field := range map[string]string{
		`{"version":"v9"}`:                        "version",
		`{"version":"v2","steps":[50,20]}`:        "steps[1]",
		`{"version":"v2","interval":"soon"}`:      "",
		`{"version":"v2","gates":[{"type":"x"}]}`: "gates[0].type",
	} {
		var e struct {
			Error struct{ Field, Message string }
		}
		if code := c.call(t, "POST", "/api/v1/admin/models/triage/rollouts", body, &e); code != 400 || (field != "" && e.Error.Field != field) {
			t.Errorf("%s: %d %+v, want 400 naming %q", body, code, e, field)
		}
	}

	// 1. Healthy: promoted through every step.
	if code := c.call(t, "POST", "/api/v1/admin/models/triage/rollouts", `{"version":"v2","steps":[20,60],"interval":"1s"}`, nil); code != 201 {
		t.Fatalf("start: %d", code)
	}
	if code := c.call(t, "POST", "/api/v1/admin/models/triage/rollouts", `{"version":"v2"}`, nil); code != 409 {
		t.Errorf("a second rollout: %d, want 409", code)
	}
	if code := c.call(t, "PUT", "/api/v1/admin/models/triage/traffic", `{"weights":{"v1":50,"v2":50}}`, nil); code != 409 {
		t.Errorf("manual traffic change under a rollout: %d, want 409", code)
	}
	v := c.waitPhase(t, "promoted")
	if w := c.weights(t); w["v2"] != 100 || w["v1"] != 0 {
		t.Fatalf("promoted, weights %v", w)
	}
	var types []string
	for _, h := range v.History {
		types = append(types, h.Type)
	}
	if strings.Join(types, ",") != "started,advanced,advanced,promoted" {
		t.Errorf("history %v", types)
	}
	var audit struct {
		Records []struct{ Action, Actor string }
	}
	c.call(t, "GET", "/api/v1/admin/audit", "", &audit)
	var actions []string
	for _, r := range audit.Records {
		if strings.HasPrefix(r.Action, "rollout.") {
			actions = append(actions, r.Action)
		}
	}
	if strings.Join(actions, ",") != "rollout.started,rollout.advanced,rollout.advanced,rollout.promoted" {
		t.Errorf("audited %v", actions)
	}

	// 2. Failing: v1 back as the canary, failing 10 %: rolled back.
	q.set("v1", 1000, 100, 0.05)
	if code := c.call(t, "POST", "/api/v1/admin/models/triage/rollouts", `{"version":"v1","steps":[20,60],"interval":"1s"}`, nil); code != 201 {
		t.Fatalf("start v1: %d", code)
	}
	v = c.waitPhase(t, "rolled_back")
	if w := c.weights(t); w["v2"] != 100 || w["v1"] != 0 {
		t.Fatalf("rolled back, weights %v", w)
	}
	if !strings.Contains(v.Reason, "error-rate") {
		t.Errorf("reason %q", v.Reason)
	}

	// 3. Idle, then a restart: the rollout holds and resumes where it was.
	q.set("v1", 2, 0, 0.05)
	if code := c.call(t, "POST", "/api/v1/admin/models/triage/rollouts", `{"version":"v1","steps":[30,100],"interval":"1s"}`, nil); code != 201 {
		t.Fatalf("start idle: %d", code)
	}
	time.Sleep(1500 * time.Millisecond)
	v = c.waitPhase(t, "progressing")
	if v.Weight != 30 || len(v.Gates) == 0 || v.Gates[0].Verdict != "inconclusive" {
		t.Fatalf("idle canary: %d%% %+v", v.Weight, v.Gates)
	}
	c.stop()
	c = startCP(t, dir, prom.URL)
	if v := c.waitPhase(t, "progressing"); v.Weight != 30 || v.Canary != "v1" {
		t.Fatalf("after the restart: %+v", v)
	}
	if w := c.weights(t); w["v1"] != 30 {
		t.Fatalf("after the restart, weights %v", w)
	}
	q.set("v1", 3000, 0, 0.05)
	c.waitPhase(t, "promoted")

	// 4. Flagger-style webhooks: confirm-rollout holds the canary at 0
	// until it answers 2xx; every event and the end reach their hooks
	// with Flagger's payload.
	var hookMu sync.Mutex
	confirm := false
	calls := map[string][]map[string]any{}
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p map[string]any
		_ = json.NewDecoder(r.Body).Decode(&p)
		hookMu.Lock()
		defer hookMu.Unlock()
		calls[r.URL.Path] = append(calls[r.URL.Path], p)
		if r.URL.Path == "/confirm" && !confirm {
			http.Error(w, "not yet", http.StatusForbidden)
		}
	}))
	defer hooks.Close()
	q.set("v2", 3000, 0, 0.05)
	spec := fmt.Sprintf(`{"version":"v2","steps":[50,100],"interval":"1s","webhooks":[
		{"name":"gate","type":"confirm-rollout","url":"%[1]s/confirm"},
		{"name":"load","type":"rollout","url":"%[1]s/load","metadata":{"cmd":"hey -z 1m http://triage/"}},
		{"name":"events","type":"event","url":"%[1]s/events"},
		{"name":"done","type":"post-rollout","url":"%[1]s/done"}]}`, hooks.URL)
	if code := c.call(t, "POST", "/api/v1/admin/models/triage/rollouts", spec, nil); code != 201 {
		t.Fatalf("start with webhooks: %d", code)
	}
	time.Sleep(1200 * time.Millisecond)
	if v := c.waitPhase(t, "waiting"); v.Weight != 0 {
		t.Fatalf("unconfirmed canary has %d%%", v.Weight)
	}
	hookMu.Lock()
	confirm = true
	hookMu.Unlock()
	c.waitPhase(t, "promoted")
	deadline := time.Now().Add(5 * time.Second)
	for {
		hookMu.Lock()
		n := len(calls["/done"])
		hookMu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	hookMu.Lock()
	if len(calls["/load"]) == 0 || len(calls["/done"]) != 1 || len(calls["/events"]) < 3 {
		t.Errorf("webhook calls: load %d, done %d, events %d", len(calls["/load"]), len(calls["/done"]), len(calls["/events"]))
	}
	if p := calls["/load"]; len(p) > 0 {
		meta, _ := p[0]["metadata"].(map[string]any)
		if p[0]["name"] != "triage" || p[0]["phase"] != "Progressing" || meta["cmd"] != "hey -z 1m http://triage/" {
			t.Errorf("rollout webhook payload %v", p[0])
		}
	}
	if p := calls["/done"]; len(p) > 0 && p[0]["phase"] != "Succeeded" {
		t.Errorf("post-rollout payload %v", p[0])
	}
	hookMu.Unlock()

	// 5. Operator verbs: abort restores the weights before the rollout.
	if code := c.call(t, "POST", "/api/v1/admin/models/triage/rollouts", `{"version":"v1","interval":"1h"}`, nil); code != 201 {
		t.Fatalf("start: %d", code)
	}
	if code := c.call(t, "POST", "/api/v1/admin/models/triage/rollouts/current/pause", "", nil); code != 200 {
		t.Errorf("pause: %d", code)
	}
	if code := c.call(t, "POST", "/api/v1/admin/models/triage/rollouts/current/pause", "", nil); code != 409 {
		t.Errorf("pause twice: %d, want 409", code)
	}
	if code := c.call(t, "POST", "/api/v1/admin/models/triage/rollouts/current/launch", "", nil); code != 404 {
		t.Errorf("unknown verb: %d, want 404", code)
	}
	if code := c.call(t, "POST", "/api/v1/admin/models/triage/rollouts/current/abort", "", nil); code != 200 {
		t.Errorf("abort: %d", code)
	}
	if w := c.weights(t); w["v2"] != 100 || w["v1"] != 0 {
		t.Errorf("aborted, weights %v", w)
	}
}
