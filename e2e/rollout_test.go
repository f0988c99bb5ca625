package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	sotw "github.com/envoyproxy/go-control-plane/pkg/client/sotw/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
)

// rolloutInterval is every rollout's evaluation interval here: the
// shortest the control plane accepts is 1s, and 2s gives Prometheus,
// scraping every second, two samples of each counter per window.
const rolloutInterval = 2 * time.Second

// TestRolloutEndToEnd runs gradual rollouts with real processes: two
// nexus-backend versions, a real Prometheus scraping both, and the control
// plane reading its gates from that Prometheus. A load driver splits
// steady traffic between the versions by the weights a go-control-plane
// ADS client receives over RDS, as a sidecar's weighted_clusters would, so
// the gates judge the traffic the rollout itself routed:
//   - a healthy v2, started with nexusctl, is promoted to 100 % with no
//     request failing, every step audited;
//   - a v2 that starts failing is rolled back, and the figures of how fast
//     (first injected failure to v1=100 at the ADS client) and how many
//     requests v2 failed meanwhile are logged;
//   - a v2 that gets no traffic holds at its first step, inconclusive;
//   - a rollout survives kill -9 of the control plane and finishes from
//     the step it had reached.
func TestRolloutEndToEnd(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus is not installed (apt-get install prometheus; .ci/run installs it)")
	}
	var envs [4]*rolloutEnv
	for i := range envs {
		envs[i] = newRolloutEnv(t, promBin)
	}
	bin := binaries(t)

	t.Run("healthy canary promoted", func(t *testing.T) {
		t.Parallel() // each scenario has its own processes and Prometheus; they wait on the clock, not the CPU
		e := envs[0]
		e.open(t, bin)
		e.startBackend(t, "v2")
		e.startControlPlane(t)
		w := e.watchRoutes(t)
		w.wait(t, map[string]uint32{"v1": 100, "v2": 0}, time.Time{})
		d := e.drive(t, w)
		d.waitSent(t, "v1", 200)

		out := e.nexusctl(t, "rollout", "start", "triage", "v2", "--steps", "20,60", "--interval", "2s")
		if !strings.Contains(out, "PROGRESSING") || !progressBar.MatchString(out) {
			t.Errorf("nexusctl rollout start printed:\n%s", out)
		}
		w.wait(t, map[string]uint32{"v1": 80, "v2": 20}, time.Time{})
		out = e.nexusctl(t, "rollout", "status", "triage")
		if !regexp.MustCompile(`triage: v1 → v2  (PROGRESSING|PROMOTED)`).MatchString(out) || !progressBar.MatchString(out) {
			t.Errorf("nexusctl rollout status printed:\n%s", out)
		}
		st := e.waitPhase(t, "promoted", 30*time.Second)
		w.wait(t, map[string]uint32{"v1": 0, "v2": 100}, time.Time{})
		d.waitSent(t, "v2", d.count("v2")+100)
		d.stop()

		if got := w.canaryWeights("v2"); !slices.Equal(got, []uint32{0, 20, 60, 100}) {
			t.Errorf("v2's weights over xDS went %v, want 0, 20, 60, 100", got)
		}
		sent, failed := d.totals()
		t.Logf("promoted in %s: %v requests, %v failed", st.LastEvaluated.Sub(st.Started).Round(time.Millisecond), sent, failed)
		if failed["v1"]+failed["v2"] != 0 {
			t.Errorf("requests failed across the switch: %v of %v, the last with %v", failed, sent, d.lastErrors())
		}
		if got := historyTypes(st); got != "started,advanced,advanced,promoted" {
			t.Errorf("history %s", got)
		}
		if got := e.rolloutAudit(t); got != "rollout.started,rollout.advanced,rollout.advanced,rollout.promoted" {
			t.Errorf("audited %s", got)
		}
		out = e.nexusctl(t, "rollout", "status", "triage")
		if !strings.Contains(out, "PROMOTED") || !strings.Contains(out, "[########################################] 100%") {
			t.Errorf("nexusctl rollout status after promotion printed:\n%s", out)
		}
	})

	t.Run("failing canary rolled back", func(t *testing.T) {
		t.Parallel() // each scenario has its own processes and Prometheus; they wait on the clock, not the CPU
		// The faults begin just before the second evaluation, the case a
		// gate's query must not miss: the error series has a single sample
		// in the window when that evaluation reads it.
		const faultAfter = 3 * time.Second
		e := envs[1]
		e.open(t, bin)
		e.startControlPlane(t)
		w := e.watchRoutes(t)
		w.wait(t, map[string]uint32{"v1": 100, "v2": 0}, time.Time{})
		d := e.drive(t, w)
		d.waitSent(t, "v1", 200)

		// v2 comes up healthy and fails every fifth request from
		// faultAfter on: while the rollout is under way.
		faultsBegin := time.Now().Add(faultAfter)
		e.startBackend(t, "v2", "--fault-error-rate", "0.2", "--fault-after", faultAfter.String())
		started := time.Now()
		if code := api(t, "POST", e.admin+"/api/v1/admin/models/triage/rollouts", e.token, `{"version":"v2","steps":[20,60],"interval":"2s"}`, nil); code != 201 {
			t.Fatalf("start: %d", code)
		}
		st := e.waitPhase(t, "rolled_back", 30*time.Second)
		back := w.wait(t, map[string]uint32{"v1": 100, "v2": 0}, started)
		d.waitSent(t, "v1", d.count("v1")+100)
		d.stop()
		sent, failed := d.totals()
		firstFail := d.firstFailure("v2")
		if n := d.failedSince("v2", back); n != 0 {
			t.Errorf("v2 failed %d requests sent after the rollback reached the ADS client", n)
		}

		if firstFail.IsZero() {
			t.Fatalf("rolled back before v2 failed a request: %s; gates %+v", st.Reason, st.Gates)
		}
		if !strings.Contains(st.Reason, "error-rate") {
			t.Errorf("rolled back for %q, want the error-rate gate", st.Reason)
		}
		if failed["v1"] != 0 {
			t.Errorf("v1 failed %d requests, the last with %v", failed["v1"], d.lastErrors()["v1"])
		}
		// The bound: the first failure is in Prometheus at its next scrape
		// (≤ 1s), the evaluation after that comes at most an interval
		// later, then a 100ms tick and the xDS push: ~3.1s at worst. One
		// more interval is slack for a loaded machine.
		bound := time.Second + 2*rolloutInterval
		took := back.Sub(firstFail)
		t.Logf("rollback figures: first injected failure seen %s after the faults began (fault-after %s); weights v1=100 reached the ADS client %s after the first failure (%s after the faults began, %s after the rollout started); v2 failed %d of its %d requests before the rollback, v1 %d requests; reason: %s",
			firstFail.Sub(faultsBegin).Round(time.Millisecond), faultAfter, took.Round(time.Millisecond), back.Sub(faultsBegin).Round(time.Millisecond),
			back.Sub(started).Round(time.Millisecond), failed["v2"], sent["v2"], sent["v1"], st.Reason)
		if took > bound {
			t.Errorf("the rollback reached the ADS client %s after v2's first failure, want within %s", took, bound)
		}
		if got := historyTypes(st); !strings.HasPrefix(got, "started,") || !strings.HasSuffix(got, ",rolled_back") {
			t.Errorf("history %s", got)
		}
		// No step passes once Prometheus holds a failure.
		scraped := firstSample(t, e.prom, `gen_ai_server_request_duration_seconds_count{nexus_model_version="v2",error_type!=""}`)
		t.Logf("v2's first failure was scraped %s after the driver saw it", scraped.Sub(firstFail).Round(time.Millisecond))
		for _, h := range st.History {
			if h.Type == "advanced" && h.Time.After(scraped.Add(100*time.Millisecond)) {
				t.Errorf("advanced to %d%% at %s, %s after Prometheus scraped v2's first failure: %s", h.Weight, h.Time.Format("15:04:05.000"), h.Time.Sub(scraped).Round(time.Millisecond), h.Message)
			}
		}
		if got := e.rolloutAudit(t); !strings.HasPrefix(got, "rollout.started,") || !strings.HasSuffix(got, ",rollout.rolled_back") {
			t.Errorf("audited %s", got)
		}
	})

	t.Run("idle canary holds", func(t *testing.T) {
		t.Parallel() // each scenario has its own processes and Prometheus; they wait on the clock, not the CPU
		e := envs[2]
		e.open(t, bin)
		e.startBackend(t, "v2")
		e.startControlPlane(t)
		w := e.watchRoutes(t)
		w.wait(t, map[string]uint32{"v1": 100, "v2": 0}, time.Time{})
		// No driver: neither version gets a request.
		if code := api(t, "POST", e.admin+"/api/v1/admin/models/triage/rollouts", e.token, `{"version":"v2","steps":[20,60],"interval":"2s"}`, nil); code != 201 {
			t.Fatalf("start: %d", code)
		}
		const evaluations = 3
		var st rolloutState
		deadline := time.Now().Add(evaluations*rolloutInterval + 10*time.Second)
		for {
			st = e.current(t)
			if st.Phase != "progressing" {
				t.Fatalf("an idle canary went %s: %s; gates %+v", st.Phase, st.Reason, st.Gates)
			}
			if st.LastEvaluated.Sub(st.Started) >= evaluations*rolloutInterval {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("not evaluated %d times: %+v", evaluations, st)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if st.Step != 0 || st.Weight != 20 {
			t.Errorf("an idle canary moved to step %d, %d%%", st.Step, st.Weight)
		}
		if len(st.Gates) == 0 {
			t.Fatal("no gate verdicts")
		}
		for _, g := range st.Gates {
			if g.Verdict != "inconclusive" {
				t.Errorf("gate %s: %s (%s), want inconclusive", g.Name, g.Verdict, g.Detail)
			}
		}
		if got := historyTypes(st); got != "started" {
			t.Errorf("history %s", got)
		}
		if got := w.latest(); got["v2"] != 20 || got["v1"] != 80 {
			t.Errorf("weights over xDS %v, want v1=80 v2=20", got)
		}
		t.Logf("idle after %s: %s", st.LastEvaluated.Sub(st.Started).Round(time.Millisecond), gateSummary(st))
	})

	t.Run("kill -9 mid-rollout resumes", func(t *testing.T) {
		t.Parallel() // each scenario has its own processes and Prometheus; they wait on the clock, not the CPU
		e := envs[3]
		e.open(t, bin)
		e.startBackend(t, "v2")
		e.startControlPlane(t)
		w := e.watchRoutes(t)
		w.wait(t, map[string]uint32{"v1": 100, "v2": 0}, time.Time{})
		d := e.drive(t, w)
		d.waitSent(t, "v1", 200)
		if code := api(t, "POST", e.admin+"/api/v1/admin/models/triage/rollouts", e.token, `{"version":"v2","steps":[20,40,60],"interval":"2s"}`, nil); code != 201 {
			t.Fatalf("start: %d", code)
		}
		var before rolloutState
		deadline := time.Now().Add(20 * time.Second)
		for {
			before = e.current(t)
			if before.Phase != "progressing" {
				t.Fatalf("rollout %s before the kill: %s; gates %+v", before.Phase, before.Reason, before.Gates)
			}
			if before.Step >= 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("never advanced a step: %+v", before)
			}
			time.Sleep(20 * time.Millisecond)
		}
		// The next evaluation is an interval away: kill now.
		_ = e.cp.cmd.Process.Kill()
		_ = e.cp.cmd.Wait()
		killed := time.Now()
		e.startControlPlane(t)
		after := e.current(t)
		t.Logf("killed at step %d (%d%%); restarted in %s at step %d (%d%%), %s", before.Step, before.Weight,
			time.Since(killed).Round(time.Millisecond), after.Step, after.Weight, after.Phase)
		if after.Phase != "progressing" || after.Step != before.Step || after.Weight != before.Weight || !after.Started.Equal(before.Started) || len(after.History) != len(before.History) {
			t.Fatalf("after kill -9: %s at step %d (%d%%) with %d events, want progressing at step %d (%d%%) with %d",
				after.Phase, after.Step, after.Weight, len(after.History), before.Step, before.Weight, len(before.History))
		}
		if !strings.Contains(e.cp.log.String(), "rollout resumed") {
			t.Error("the restarted control plane did not log the rollout it resumed")
		}
		reconnected := w.wait(t, map[string]uint32{"v1": uint32(100 - before.Weight), "v2": uint32(before.Weight)}, killed)
		t.Logf("the ADS client had the resumed weights again %s after the kill", reconnected.Sub(killed).Round(time.Millisecond))
		st := e.waitPhase(t, "promoted", 30*time.Second)
		w.wait(t, map[string]uint32{"v1": 0, "v2": 100}, time.Time{})
		d.stop()
		if got := historyTypes(st); got != "started,advanced,advanced,advanced,promoted" {
			t.Errorf("history %s", got)
		}
		if got := e.rolloutAudit(t); got != "rollout.started,rollout.advanced,rollout.advanced,rollout.advanced,rollout.promoted" {
			t.Errorf("audited %s", got)
		}
		if got := w.canaryWeights("v2"); !slices.Equal(got, []uint32{0, 20, 40, 60, 100}) {
			t.Errorf("v2's weights over xDS went %v", got)
		}
		sent, failed := d.totals()
		if failed["v1"]+failed["v2"] != 0 {
			t.Errorf("requests failed: %v of %v, the last with %v", failed, sent, d.lastErrors())
		}
		var verify struct {
			OK bool `json:"ok"`
		}
		api(t, "GET", e.admin+"/api/v1/admin/audit/verify", e.token, "", &verify)
		if !verify.OK {
			t.Error("the audit chain does not verify after kill -9")
		}
	})
}

var progressBar = regexp.MustCompile(`\[#*\.*\]\s+\d+%  step \d of \d`)

// rolloutEnv is one scenario's processes: the backends, a Prometheus
// scraping them and the control plane reading it.
type rolloutEnv struct {
	m                mesh
	bin, prom, admin string
	token            string
	cp               *proc
	addr, health     map[string]string
}

// newRolloutEnv lays out a scenario and starts its Prometheus at once:
// Prometheus scrapes a target first ~5s after it starts (its discovery and
// scrape managers apply new targets every 5s), so every scenario's is
// started before the binaries are built and is scraping by its turn.
func newRolloutEnv(t *testing.T, promBin string) *rolloutEnv {
	t.Helper()
	m := writeMesh(t)
	e := &rolloutEnv{m: m, admin: "http://" + m.admin,
		addr:   map[string]string{"v1": m.backend1, "v2": m.backend2},
		health: map[string]string{"v1": "127.0.0.1:" + itoa(freePort(t)), "v2": "127.0.0.1:" + itoa(freePort(t))}}
	// Each backend serves /metrics on its health address too.
	promAddr := "127.0.0.1:" + itoa(freePort(t))
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: nexus-backend
    static_configs: [{targets: [%q, %q]}]
`, e.health["v1"], e.health["v2"])
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	start(t, promBin, "--config.file", filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path", filepath.Join(dir, "data"),
		"--web.listen-address", promAddr, "--log.level", "warn")
	e.prom = "http://" + promAddr
	return e
}

// open waits for the scenario's Prometheus to scrape both targets (up or
// not) and starts v1.
func (e *rolloutEnv) open(t *testing.T, bin string) {
	t.Helper()
	e.bin = bin
	waitHTTP(t, e.prom+"/-/ready")
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := promQuery(strings.TrimPrefix(e.prom, "http://"), "up")
		if err == nil && n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus never scraped its targets: %d, %v", n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.startBackend(t, "v1")
}

func (e *rolloutEnv) startBackend(t *testing.T, version string, extra ...string) {
	t.Helper()
	start(t, filepath.Join(e.bin, "nexus-backend"), append([]string{"--model", "triage", "--version", version,
		"--addr", e.addr[version], "--health-addr", e.health[version]}, extra...)...)
	waitHTTP(t, "http://"+e.health[version]+"/readyz")
}

// startControlPlane starts (or restarts, on the same data directory) the
// control plane; the first start moves every request to v1, so a
// rollback's weights are v1=100.
func (e *rolloutEnv) startControlPlane(t *testing.T) {
	t.Helper()
	first := e.cp == nil
	e.cp, e.token = e.m.startControlPlane(t, e.bin, "--prometheus-url", e.prom, "--rollout-tick", "100ms")
	if first {
		if code := api(t, "PUT", e.admin+"/api/v1/admin/models/triage/traffic", e.token, `{"weights":{"v1":100,"v2":0}}`, nil); code != 200 {
			t.Fatalf("traffic PUT = %d", code)
		}
	}
}

func (e *rolloutEnv) nexusctl(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(e.bin, "nexusctl"), append([]string{"--server", e.admin}, args...)...)
	cmd.Env = append(os.Environ(), "NEXUS_TOKEN="+e.token)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("nexusctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

type rolloutState struct {
	Phase, Canary, Reason string
	Step, Weight          int
	Started               time.Time
	LastEvaluated         time.Time
	Gates                 []struct{ Name, Verdict, Detail string }
	History               []struct {
		Time    time.Time
		Type    string
		Weight  int
		Message string
	}
}

func (e *rolloutEnv) current(t *testing.T) rolloutState {
	t.Helper()
	var st rolloutState
	if code := api(t, "GET", e.admin+"/api/v1/admin/models/triage/rollouts/current", e.token, "", &st); code != 200 {
		t.Fatalf("GET current rollout = %d", code)
	}
	return st
}

// waitPhase polls the rollout until it is in phase, failing at once if it
// ends otherwise.
func (e *rolloutEnv) waitPhase(t *testing.T, phase string, timeout time.Duration) rolloutState {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last time.Time
	for {
		st := e.current(t)
		if !st.LastEvaluated.Equal(last) {
			last = st.LastEvaluated
			if last.After(st.Started) {
				t.Logf("evaluated at +%s: %s at %d%%; %s", last.Sub(st.Started).Round(10*time.Millisecond), st.Phase, st.Weight, gateSummary(st))
			}
		}
		if st.Phase == phase {
			return st
		}
		if terminal := st.Phase == "promoted" || st.Phase == "rolled_back" || st.Phase == "aborted" || st.Phase == "paused"; terminal || time.Now().After(deadline) {
			t.Fatalf("rollout is %s at %d%% (%s), want %s; gates: %s", st.Phase, st.Weight, st.Reason, phase, gateSummary(st))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *rolloutEnv) rolloutAudit(t *testing.T) string {
	t.Helper()
	var audit struct {
		Records []struct{ Action string }
	}
	api(t, "GET", e.admin+"/api/v1/admin/audit?limit=1000", e.token, "", &audit)
	var actions []string
	for _, r := range audit.Records {
		if strings.HasPrefix(r.Action, "rollout.") {
			actions = append(actions, r.Action)
		}
	}
	return strings.Join(actions, ",")
}

// firstSample returns when Prometheus first scraped a series of selector.
func firstSample(t *testing.T, prom, selector string) time.Time {
	t.Helper()
	resp, err := http.Get(prom + "/api/v1/query?query=" + url.QueryEscape(selector+"[5m]"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []struct{ Values [][2]any }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	var first float64
	for _, s := range r.Data.Result {
		if len(s.Values) > 0 {
			if ts, ok := s.Values[0][0].(float64); ok && (first == 0 || ts < first) {
				first = ts
			}
		}
	}
	if first == 0 {
		t.Fatalf("Prometheus holds no sample of %s", selector)
	}
	return time.UnixMilli(int64(first * 1000))
}

func historyTypes(st rolloutState) string {
	var types []string
	for _, h := range st.History {
		types = append(types, h.Type)
	}
	return strings.Join(types, ",")
}

func gateSummary(st rolloutState) string {
	var parts []string
	for _, g := range st.Gates {
		parts = append(parts, g.Name+" "+g.Verdict+" ("+g.Detail+")")
	}
	return strings.Join(parts, "; ")
}

// routeWatch is a sidecar's view of the model's routes: a go-control-plane
// ADS client on RDS that reconnects when the control plane goes away.
type routeWatch struct {
	mu      sync.Mutex
	cur     map[string]uint32
	updates []routeUpdate
	onPush  func(map[string]uint32)
}

type routeUpdate struct {
	at      time.Time
	weights map[string]uint32
}

func (e *rolloutEnv) watchRoutes(t *testing.T) *routeWatch {
	t.Helper()
	conn := e.m.xdsConn(t, "model~triage")
	ctx, cancel := context.WithCancel(context.Background())
	w := &routeWatch{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			ads := sotw.NewADSClient(ctx, &core.Node{Id: "model~triage", Cluster: "nexus"}, resourcev3.RouteType)
			// WaitForReady: while the control plane is down, wait for it as
			// Envoy does, on the weights it has.
			if err := ads.InitConnect(conn, grpc.WaitForReady(true)); err != nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			for {
				r, err := ads.Fetch()
				if err != nil {
					break
				}
				weights, err := versionWeights(r)
				if err != nil {
					_ = ads.Nack(err.Error())
					continue
				}
				w.push(weights)
				if err := ads.Ack(); err != nil {
					break
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return w
}

// versionWeights reads the weighted clusters of the model's route, keyed by
// version.
func versionWeights(r *sotw.Response) (map[string]uint32, error) {
	if len(r.Resources) == 0 {
		return nil, fmt.Errorf("no route configuration")
	}
	rc := &route.RouteConfiguration{}
	if err := r.Resources[0].UnmarshalTo(rc); err != nil {
		return nil, err
	}
	got := map[string]uint32{}
	for _, vh := range rc.GetVirtualHosts() {
		for _, rt := range vh.GetRoutes() {
			for _, c := range rt.GetRoute().GetWeightedClusters().GetClusters() {
				got[strings.TrimPrefix(c.GetName(), "model|triage|")] = c.GetWeight().GetValue()
			}
		}
	}
	if len(got) == 0 {
		return nil, fmt.Errorf("no weighted clusters in %s", rc.GetName())
	}
	return got, nil
}

func (w *routeWatch) push(weights map[string]uint32) {
	w.mu.Lock()
	w.cur = weights
	w.updates = append(w.updates, routeUpdate{time.Now(), weights})
	on := w.onPush
	w.mu.Unlock()
	if on != nil {
		on(weights)
	}
}

func (w *routeWatch) latest() map[string]uint32 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cur
}

// wait returns when the first update since since carrying want arrived.
func (w *routeWatch) wait(t *testing.T, want map[string]uint32, since time.Time) time.Time {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		w.mu.Lock()
		for _, u := range w.updates {
			if !u.at.Before(since) && sameWeights(u.weights, want) {
				w.mu.Unlock()
				return u.at
			}
		}
		var seen []string
		for _, u := range w.updates {
			seen = append(seen, fmt.Sprintf("%s %v", u.at.Format("15:04:05.000"), u.weights))
		}
		w.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("the ADS client never received weights %v after %s; it received %s", want, since.Format("15:04:05.000"), strings.Join(seen, ", "))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func sameWeights(got, want map[string]uint32) bool {
	for v, x := range want {
		if got[v] != x {
			return false
		}
	}
	return true
}

// canaryWeights lists the distinct successive weights version received.
func (w *routeWatch) canaryWeights(version string) []uint32 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []uint32
	for _, u := range w.updates {
		if x := u.weights[version]; len(out) == 0 || out[len(out)-1] != x {
			out = append(out, x)
		}
	}
	return out
}

// driver is steady load split between the versions by the weights the
// ADS client holds, by smooth weighted round robin (nginx's; Envoy's
// weighted_clusters pick at random by the same weights).
type driver struct {
	mu        sync.Mutex
	weights   map[string]uint32
	current   map[string]int64
	sent      map[string]int
	failed    map[string]int
	firstFail map[string]time.Time
	lastErr   map[string]string
	// failSent holds when each failed request was sent.
	failSent map[string][]time.Time

	quit      chan struct{}
	wg        sync.WaitGroup
	once      sync.Once
	closeIdle func()
}

// Load: driverWorkers each send a request every driverPace, ~1000 req/s
// in all. The default error-rate gate's SPRT (p0 0.1 %, p1 1 %, α 5 %,
// β 10 %) passes only after ~250 requests without an error in one
// interval, so a canary at 20 % needs ~125 req/s of its own over 2s.
const (
	driverWorkers = 4
	driverPace    = 4 * time.Millisecond
)

func (e *rolloutEnv) drive(t *testing.T, w *routeWatch) *driver {
	t.Helper()
	d := &driver{weights: map[string]uint32{}, current: map[string]int64{}, sent: map[string]int{}, failed: map[string]int{},
		firstFail: map[string]time.Time{}, lastErr: map[string]string{}, failSent: map[string][]time.Time{}, quit: make(chan struct{})}
	w.mu.Lock()
	d.setWeights(w.cur)
	w.onPush = d.setWeights
	w.mu.Unlock()
	transport := &http.Transport{MaxIdleConnsPerHost: driverWorkers}
	d.closeIdle = transport.CloseIdleConnections
	client := &http.Client{Timeout: 5 * time.Second, Transport: transport}
	body := `{"model":"triage","messages":[{"role":"user","content":"fever"}]}`
	for range driverWorkers {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			tick := time.NewTicker(driverPace)
			defer tick.Stop()
			for {
				select {
				case <-d.quit:
					return
				case <-tick.C:
				}
				v, at := d.pick()
				if v == "" {
					continue
				}
				resp, err := client.Post("http://"+e.addr[v]+"/v1/chat/completions", "application/json", strings.NewReader(body))
				ok := err == nil && resp.StatusCode == 200 && resp.Header.Get("x-nexus-model-version") == v
				msg := ""
				if err != nil {
					msg = err.Error()
				} else {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					msg = resp.Status
				}
				if !ok {
					d.fail(v, msg, at)
				}
			}
		}()
	}
	t.Cleanup(d.stop)
	return d
}

func (d *driver) setWeights(w map[string]uint32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.weights = w
	d.current = map[string]int64{}
}

// pick chooses the next request's version and counts it as sent now.
func (d *driver) pick() (string, time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	versions := make([]string, 0, len(d.weights))
	var total int64
	for v, w := range d.weights {
		if w > 0 {
			versions = append(versions, v)
			total += int64(w)
		}
	}
	if total == 0 {
		return "", time.Time{}
	}
	sort.Strings(versions)
	best := ""
	for _, v := range versions {
		d.current[v] += int64(d.weights[v])
		if best == "" || d.current[v] > d.current[best] {
			best = v
		}
	}
	d.current[best] -= total
	d.sent[best]++
	return best, time.Now()
}

func (d *driver) fail(v, msg string, sent time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failed[v]++
	d.failSent[v] = append(d.failSent[v], sent)
	d.lastErr[v] = msg
	if d.firstFail[v].IsZero() {
		d.firstFail[v] = time.Now()
	}
}

func (d *driver) stop() {
	d.once.Do(func() {
		close(d.quit)
		d.wg.Wait()
		// A connection the transport dialed but never used is new to the
		// backend, which waits for it for up to 5s when it shuts down.
		d.closeIdle()
	})
}

func (d *driver) count(v string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sent[v]
}

func (d *driver) totals() (sent, failed map[string]int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	sent, failed = map[string]int{}, map[string]int{}
	for v, n := range d.sent {
		sent[v] = n
	}
	for v, n := range d.failed {
		failed[v] = n
	}
	return sent, failed
}

func (d *driver) lastErrors() map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]string{}
	for v, msg := range d.lastErr {
		out[v] = msg
	}
	return out
}

func (d *driver) firstFailure(v string) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.firstFail[v]
}

// failedSince counts version's failed requests sent at or after at.
func (d *driver) failedSince(v string, at time.Time) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, s := range d.failSent[v] {
		if !s.Before(at) {
			n++
		}
	}
	return n
}

// waitSent returns once n requests have gone to version.
func (d *driver) waitSent(t *testing.T, version string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for d.count(version) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests went to %s in 10s, want %d", d.count(version), version, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
