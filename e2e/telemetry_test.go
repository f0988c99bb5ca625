package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
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
	"syscall"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	sotw "github.com/envoyproxy/go-control-plane/pkg/client/sotw/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/prometheus/prometheus/promql/parser"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"
	"gopkg.in/yaml.v3"

	"github.com/secureai-nexus/nexus/telemetry/otlptest"
)

// envoyMetrics are what Envoy sidecars export on /stats/prometheus, which
// dashboards may use though no Envoy runs here: piiguard's counters, as
// piiguard defines them (filters/piiguard/stats.go) and the bootstrap's
// stats tags label them.
var envoyMetrics = []string{
	"piiguard_findings", "piiguard_actions", "piiguard_requests_scanned", "piiguard_requests_blocked",
	"piiguard_requests_oversize", "piiguard_requests_failed",
	"piiguard_answers_scanned", "piiguard_answers_leaked", "piiguard_answers_findings",
}

// consentMetrics are nexus-authz's consent and break-glass series: it
// exports them only when it reads a consent bundle (--consent-bundle), and
// the break-glass counter only once a grant touched a decision. The
// consent tests (controlplane/internal/admin, real nexus-authz) read them.
var consentMetrics = []string{"nexus_authz_consent_data_fresh", "nexus_authz_break_glass_decisions_total"}

// TestTelemetryEndToEnd runs every Nexus binary with OpenTelemetry on,
// exporting to an in-process OTLP receiver, and a real Prometheus scraping
// them with the shipped alert rules. It drives the labeled PII corpus
// through nexus-authz and both backend versions as a sidecar would, with
// one trace per call, shifts traffic with nexusctl, and checks:
//   - complete traces: the authz Check and the backend's GenAI span under
//     one trace id; nexusctl → admin change → xDS push;
//   - every dashboard query and alert expression parses with PromQL's own
//     parser, names only metrics the services export (or Envoy's), and
//     every dashboard query of a Nexus service returns data from the real
//     Prometheus;
//   - no labeled value from the corpus appears in any exported span,
//     metric, /metrics page or log line.
func TestTelemetryEndToEnd(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus is not installed (apt-get install prometheus; .ci/run installs it)")
	}
	rcv := otlptest.Start(t)
	rcv.Use(t, "grpc")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
	t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "500")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=e2e")

	bin := binaries(t)
	m := writeMesh(t)
	health1, health2 := "127.0.0.1:"+itoa(freePort(t)), "127.0.0.1:"+itoa(freePort(t))
	procs := map[string]*proc{
		"nexus-backend v1": start(t, filepath.Join(bin, "nexus-backend"), "--model", "triage", "--version", "v1", "--addr", m.backend1, "--health-addr", health1),
		"nexus-backend v2": start(t, filepath.Join(bin, "nexus-backend"), "--model", "triage", "--version", "v2", "--addr", m.backend2, "--health-addr", health2),
	}
	authzAddr, authzHTTP := "127.0.0.1:"+itoa(freePort(t)), "127.0.0.1:"+itoa(freePort(t))
	procs["nexus-authz"] = start(t, filepath.Join(bin, "nexus-authz"), "--policies", "../policies", "--addr", authzAddr, "--http-addr", authzHTTP)
	cp, token := m.startControlPlane(t, bin)
	procs["nexus-controlplane"] = cp
	waitHTTP(t, "http://"+health1+"/readyz")
	waitHTTP(t, "http://"+health2+"/readyz")
	waitHTTP(t, "http://"+authzHTTP+"/readyz")

	// A real Prometheus scrapes every service with the shipped rules.
	promAddr := "127.0.0.1:" + itoa(freePort(t))
	promDir := t.TempDir()
	tokenFile := filepath.Join(promDir, "admin.token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	rules, _ := filepath.Abs("../deploy/prometheus/alerts.yaml")
	promCfg := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
  - job_name: nexus-controlplane
    authorization: {credentials_file: %q}
    static_configs: [{targets: [%q]}]
  - job_name: nexus-authz
    static_configs: [{targets: [%q]}]
  - job_name: nexus-backend
    static_configs: [{targets: [%q, %q]}]
`, rules, tokenFile, m.admin, authzHTTP, health1, health2)
	if err := os.WriteFile(filepath.Join(promDir, "prometheus.yml"), []byte(promCfg), 0o600); err != nil {
		t.Fatal(err)
	}
	start(t, promBin, "--config.file", filepath.Join(promDir, "prometheus.yml"), "--storage.tsdb.path", filepath.Join(promDir, "data"),
		"--web.listen-address", promAddr, "--log.level", "warn")
	waitHTTP(t, "http://"+promAddr+"/-/ready")

	// The load: each corpus line once through nexus-authz (as the model
	// sidecar's ext_authz call) and a backend version (as its router), in
	// one trace.
	lines, values := corpus(t, 300)
	conn, err := grpc.NewClient(authzAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	authz := authv3.NewAuthorizationClient(conn)
	// call sends lines[i] through authz and a backend in a new trace and
	// returns the trace id. Every 20th Check carries a body that does not
	// parse (denied by error, not by the policy) and every 50th completion
	// is invalid, so error series exist.
	call := func(i int) (string, error) {
		text := lines[i%len(lines)]
		trace := randomHex(16)
		body, _ := json.Marshal(map[string]any{"model": "triage", "messages": []map[string]string{{"role": "user", "content": text}}})
		checkBody := string(body)
		if i%20 == 19 {
			checkBody = `{"model":`
		}
		md, _ := structpb.NewStruct(map[string]any{"findings": map[string]any{"EMAIL": 1}})
		ctx := metadata.AppendToOutgoingContext(context.Background(), "traceparent", "00-"+trace+"-"+randomHex(8)+"-01")
		caller := "spiffe://nexus.local/ns/clinic/sa/frontdesk"
		if i%7 == 0 {
			caller = "spiffe://nexus.local/ns/other/sa/x" // denied by the policy
		}
		if _, err := authz.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source: &authv3.AttributeContext_Peer{Principal: caller},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "POST", Path: "/v1/chat/completions", Host: "triage.models.nexus.local",
				Headers: map[string]string{"content-type": "application/json", "x-nexus-purpose": "treatment"},
				Body:    checkBody,
			}},
			ContextExtensions: map[string]string{"model": "triage", "policy": "nexus.models.triage"},
			MetadataContext:   &core.Metadata{FilterMetadata: map[string]*structpb.Struct{"piiguard": md}},
		}}); err != nil {
			return "", err
		}
		backend := m.backend1
		if i%3 == 0 {
			backend = m.backend2
		}
		if i%50 == 49 {
			body = []byte(`{"model":"triage","messages":[]}`)
		}
		req, _ := http.NewRequest("POST", "http://"+backend+"/v1/chat/completions", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", "00-"+trace+"-"+randomHex(8)+"-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return trace, nil
	}
	traces := make([]string, 0, len(lines))
	for i := range lines {
		trace, err := call(i)
		if err != nil {
			t.Fatal(err)
		}
		traces = append(traces, trace)
	}
	// The load goes on while Prometheus is queried, so rates are not zero.
	stopLoad := make(chan struct{})
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		for i := 0; ; i++ {
			select {
			case <-stopLoad:
				return
			case <-time.After(5 * time.Millisecond):
			}
			_, _ = call(i)
		}
	}()
	defer func() {
		select {
		case <-stopLoad:
		default:
			close(stopLoad)
		}
		<-loadDone
	}()

	// The model's sidecar follows its routes and ACKs, so the change below
	// reaches a sidecar and the answers are counted.
	xctx, xcancel := context.WithCancel(context.Background())
	defer xcancel()
	ads := sotw.NewADSClient(xctx, &core.Node{Id: "model~triage", Cluster: "nexus"}, resourcev3.RouteType)
	if err := ads.InitConnect(m.xdsConn(t, "model~triage")); err != nil {
		t.Fatal(err)
	}
	if _, err := ads.Fetch(); err != nil {
		t.Fatal(err)
	}
	if err := ads.Ack(); err != nil {
		t.Fatal(err)
	}

	// An operator shifts traffic with nexusctl, traced.
	ctl := exec.Command(filepath.Join(bin, "nexusctl"), "--server", "http://"+m.admin, "traffic", "triage", "v1=60", "v2=40")
	ctl.Env = append(os.Environ(), "NEXUS_TOKEN="+token)
	if out, err := ctl.CombinedOutput(); err != nil {
		t.Fatalf("nexusctl traffic: %v\n%s", err, out)
	}
	if _, err := ads.Fetch(); err != nil {
		t.Fatal(err)
	}
	if err := ads.Ack(); err != nil {
		t.Fatal(err)
	}
	// The ACK is counted when the control plane reads it.
	waitMetric(t, "http://"+m.admin+"/metrics", token, "nexus_xds_responses_total")
	// While Prometheus is queried, the sidecar keeps ACKing and the
	// weights keep moving, so push rates are not zero either.
	go func() {
		for xctx.Err() == nil {
			if _, err := ads.Fetch(); err != nil {
				return
			}
			_ = ads.Ack()
		}
	}()
	go func() {
		for i := 0; xctx.Err() == nil; i++ {
			w := 30 + i%2*20
			body := fmt.Sprintf(`{"weights":{"v1":%d,"v2":%d}}`, w, 100-w)
			req, _ := http.NewRequestWithContext(xctx, "PUT", "http://"+m.admin+"/api/v1/admin/models/triage/traffic", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			select {
			case <-xctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()

	// /metrics of every service, as Prometheus reads them.
	pages := map[string]string{
		"nexus-controlplane": get(t, "http://"+m.admin+"/metrics", token),
		"nexus-authz":        get(t, "http://"+authzHTTP+"/metrics", ""),
		"nexus-backend v1":   get(t, "http://"+health1+"/metrics", ""),
		"nexus-backend v2":   get(t, "http://"+health2+"/metrics", ""),
	}
	exported := map[string]bool{}
	for _, page := range pages {
		for _, name := range metricNames(page) {
			exported[name] = true
		}
	}

	// Dashboards and alerts: parse, name real metrics, return data.
	queries := dashboardQueries(t)
	for _, a := range alertExprs(t) {
		queries = append(queries, query{where: "alerts.yaml " + a.where, expr: a.expr, alert: true})
	}
	p := parser.NewParser(parser.Options{})
	deadline := time.Now().Add(30 * time.Second)
	for _, q := range queries {
		expr, err := p.ParseExpr(q.expr)
		if err != nil {
			t.Errorf("%s: %q does not parse: %v", q.where, q.expr, err)
			continue
		}
		envoy := false
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			vs, ok := n.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			switch {
			case slices.Contains(envoyMetrics, vs.Name), slices.Contains(consentMetrics, vs.Name):
				envoy = true
			case !exported[vs.Name]:
				t.Errorf("%s: %s is not exported by any Nexus service", q.where, vs.Name)
			}
			return nil
		})
		if envoy || q.alert {
			// Alerts are evaluated by Prometheus itself (checked below);
			// Envoy's metrics need a sidecar.
			continue
		}
		for {
			n, err := promQuery(promAddr, q.expr)
			if err != nil {
				t.Errorf("%s: Prometheus refused %q: %v", q.where, q.expr, err)
				break
			}
			if n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: %q returned no data from the real Prometheus", q.where, q.expr)
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	// Every shipped rule loaded and evaluated without error.
	var rulesResp struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name, Health, LastError string
				}
			}
		}
	}
	var shipped struct {
		Groups []struct {
			Rules []map[string]any `yaml:"rules"`
		} `yaml:"groups"`
	}
	rawRules, err := os.ReadFile("../deploy/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(rawRules, &shipped); err != nil {
		t.Fatal(err)
	}
	wantRules := 0
	for _, g := range shipped.Groups {
		wantRules += len(g.Rules)
	}
	for {
		rulesResp.Data.Groups = nil
		_ = json.Unmarshal([]byte(get(t, "http://"+promAddr+"/api/v1/rules", "")), &rulesResp)
		n, ok := 0, true
		for _, g := range rulesResp.Data.Groups {
			for _, r := range g.Rules {
				n++
				ok = ok && r.Health == "ok"
			}
		}
		if n == wantRules && ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alert rules not all healthy in Prometheus: %+v", rulesResp.Data.Groups)
		}
		time.Sleep(300 * time.Millisecond)
	}

	// Stop the load and then the services, so their exporters flush.
	close(stopLoad)
	<-loadDone
	xcancel()
	for _, pr := range procs {
		_ = pr.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, pr := range procs {
		_ = pr.cmd.Wait()
	}
	spans := rcv.WaitSpans(t, 10*time.Second, func(s []otlptest.Span) bool {
		svc := map[string]bool{}
		for _, sp := range s {
			svc[sp.Service] = true
		}
		return svc["nexus-authz"] && svc["nexus-backend"] && svc["nexus-controlplane"] && svc["nexusctl"]
	})
	byTrace := map[string]map[string]bool{}
	for _, sp := range spans {
		id := hex.EncodeToString(sp.TraceId)
		if byTrace[id] == nil {
			byTrace[id] = map[string]bool{}
		}
		byTrace[id][sp.Service+" "+sp.Name] = true
	}
	complete := 0
	for _, tr := range traces {
		if byTrace[tr]["nexus-authz envoy.service.auth.v3.Authorization/Check"] && byTrace[tr]["nexus-backend chat triage"] {
			complete++
		}
	}
	if complete != len(traces) {
		t.Errorf("%d of %d calls have their authz and backend spans under one trace", complete, len(traces))
	}
	operator := false
	for _, names := range byTrace {
		if names["nexusctl PUT /api/v1/admin/models/triage/traffic"] && names["nexus-controlplane PUT /api/v1/admin/models/{model}/traffic"] && names["nexus-controlplane xds.push"] {
			operator = true
		}
	}
	if !operator {
		t.Error("no trace runs from nexusctl through the admin change to its xDS push")
	}

	// No labeled value anywhere telemetry goes.
	var exports []string
	for _, b := range rcv.Raw() {
		exports = append(exports, string(b))
	}
	sinks := map[string][]string{"OTLP export": exports}
	for name, page := range pages {
		sinks[name+" /metrics"] = []string{page}
	}
	for name, pr := range procs {
		sinks[name+" log"] = []string{pr.log.String()}
	}
	leaks := 0
	for sink, texts := range sinks {
		for _, text := range texts {
			for _, v := range values {
				if containsToken(text, v) {
					leaks++
					if leaks <= 10 {
						t.Errorf("%s carries the labeled value %q", sink, v)
					}
				}
			}
		}
	}
	t.Logf("%d calls, %d spans, %d OTLP exports, %d labeled values checked in %d sinks", len(traces), len(spans), len(exports), len(values), len(sinks))
}

type query struct {
	where, expr string
	alert       bool
}

// dashboardQueries reads every panel target of the shipped dashboards,
// with the template variables given values.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	files, _ := filepath.Glob("../deploy/grafana/dashboards/*.json")
	if len(files) == 0 {
		t.Fatal("no dashboards in deploy/grafana/dashboards")
	}
	var out []query
	for _, f := range files {
		var d struct {
			Panels []struct {
				Title   string
				Targets []struct{ Expr string }
			}
		}
		b, err := os.ReadFile(f)
		if err == nil {
			err = json.Unmarshal(b, &d)
		}
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range d.Panels {
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", f, p.Title)
			}
			for _, tg := range p.Targets {
				out = append(out, query{where: filepath.Base(f) + " " + p.Title, expr: strings.ReplaceAll(tg.Expr, "$model", "triage")})
			}
		}
	}
	return out
}

type alertExpr struct{ where, expr string }

func alertExprs(t *testing.T) []alertExpr {
	t.Helper()
	b, err := os.ReadFile("../deploy/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert, Expr string
				Annotations map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	runbooks, err := os.ReadFile("../docs/runbooks.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []alertExpr
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			out = append(out, alertExpr{r.Alert, r.Expr})
			anchor := strings.TrimPrefix(r.Annotations["runbook_url"], "docs/runbooks.md#")
			if anchor == r.Annotations["runbook_url"] || !strings.Contains(string(runbooks), "## "+r.Alert) || anchor != strings.ToLower(r.Alert) {
				t.Errorf("alert %s: runbook_url %q does not lead to its section in docs/runbooks.md", r.Alert, r.Annotations["runbook_url"])
			}
		}
	}
	return out
}

// corpus returns up to n texts of the labeled corpora and every labeled
// value long enough to be looked for (shorter ones, like ages, occur in
// any number).
func corpus(t *testing.T, n int) (texts, values []string) {
	t.Helper()
	seen := map[string]bool{}
	for _, file := range []string{"../filters/testdata/corpus.jsonl", "../filters/testdata/clinical.jsonl"} {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for i := 0; sc.Scan() && i < n/2; i++ {
			var line struct {
				Text  string
				Spans []struct{ Value string }
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			texts = append(texts, line.Text)
			for _, s := range line.Spans {
				if len(s.Value) >= 6 && !seen[s.Value] {
					seen[s.Value] = true
					values = append(values, s.Value)
				}
			}
		}
		f.Close()
	}
	sort.Strings(values)
	return texts, values
}

// containsToken says whether v occurs in text as a token of its own, not
// inside a longer run of letters and digits (a random hex id holds any
// short number somewhere).
func containsToken(text, v string) bool {
	alnum := func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	for off := 0; ; {
		i := strings.Index(text[off:], v)
		if i < 0 {
			return false
		}
		i += off
		end := i + len(v)
		if (i == 0 || !alnum(text[i-1]) || !alnum(v[0])) && (end == len(text) || !alnum(text[end]) || !alnum(v[len(v)-1])) {
			return true
		}
		off = i + 1
	}
}

func waitMetric(t *testing.T, u, token, name string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(metricNames(get(t, u, token)), name) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never showed %s", u, name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func get(t *testing.T, u, token string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return string(b)
}

var sampleName = regexp.MustCompile(`(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]`)

// metricNames lists the series names on a /metrics page.
func metricNames(page string) []string {
	var out []string
	for _, m := range sampleName.FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

// promQuery runs an instant query and returns how many series it gave.
func promQuery(addr, expr string) (int, error) {
	resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Error  string
		Data   struct{ Result []json.RawMessage }
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, err
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("%s", r.Error)
	}
	// A NaN (a ratio of zero rates) is no data.
	n := 0
	for _, s := range r.Data.Result {
		if !strings.Contains(string(s), `"NaN"`) {
			n++
		}
	}
	return n, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestAlertRules runs Prometheus's own checks on the shipped files: the
// scrape configuration and rules load, and every alert's unit test (series
// that fire it and series that must not) passes.
func TestAlertRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed (apt-get install prometheus; .ci/run installs it)")
	}
	// The scrape configuration names the control plane's token file
	// relative to itself, as `make run` lays it out; promtool checks that
	// it exists, so the files are checked in that layout.
	root := t.TempDir()
	dir := filepath.Join(root, "deploy", "prometheus")
	if err := os.MkdirAll(filepath.Join(root, ".data", "controlplane"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, ".data", "controlplane", "admin.token"), []byte("test-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"prometheus.yml", "alerts.yaml", "alerts_test.yaml"} {
		b, err := os.ReadFile(filepath.Join("../deploy/prometheus", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"check", "config", "prometheus.yml"},
		{"check", "rules", "alerts.yaml"},
		{"test", "rules", "alerts_test.yaml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
