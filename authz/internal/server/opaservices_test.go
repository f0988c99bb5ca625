package server_test

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/authz/internal/opaconfig"
	"github.com/secureai-nexus/nexus/authz/internal/server"
)

// TestDecisionLogService: with decision_logs.service configured, every
// decision reaches the service in OPA's decision log schema, gzip'd, with
// the service's bearer token, carrying the decision id Envoy got.
func TestDecisionLogService(t *testing.T) {
	var mu sync.Mutex
	var events []map[string]any
	var auth string
	logs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/logs" || r.Header.Get("Content-Encoding") != "gzip" {
			http.Error(w, "bad request", 400)
			return
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		raw, _ := io.ReadAll(zr)
		var batch []map[string]any
		if err := json.Unmarshal(raw, &batch); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		mu.Lock()
		events = append(events, batch...)
		auth = r.Header.Get("Authorization")
		mu.Unlock()
	}))
	defer logs.Close()

	dir := t.TempDir()
	writePolicy(t, dir, "package envoy.authz\nimport rego.v1\nallow := input.attributes.request.http.method == \"GET\"\n")
	s := startOPAConfig(t, `
services:
  logs:
    url: `+logs.URL+`
    credentials:
      bearer:
        token: s3cret
plugins:
  envoy_ext_authz_grpc:
    addr: 127.0.0.1:0
decision_logs:
  service: logs
  reporting:
    min_delay_seconds: 1
    max_delay_seconds: 1
labels:
  app: clinic
`, []string{dir})
	req := modelCall("spiffe://nexus.local/a", nil, "")
	resp := check(t, s, req)
	id := resp.GetDynamicMetadata().GetFields()["decision_id"].GetStringValue()
	if id == "" {
		t.Fatalf("no decision_id: %v", resp)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		n := len(events)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no decision reached the log service")
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	e := events[0]
	labels, _ := e["labels"].(map[string]any)
	if e["decision_id"] != id || e["path"] != "envoy/authz/allow" || e["result"] != false || labels["app"] != "clinic" || labels["id"] == "" || auth != "Bearer s3cret" {
		t.Errorf("event = %v (auth %q)", e, auth)
	}
	if _, ok := e["input"].(map[string]any)["attributes"]; !ok {
		t.Errorf("event has no input: %v", e)
	}
	if e["hash"] == "" || e["prev_hash"] == "" {
		t.Errorf("event is not chained: %v", e)
	}
}

// TestMaskPolicy: the set's data.system.log.mask rule erases and upserts
// what it names in the logged input (OPA's semantics), before
// nexus-authz's own masks, and the event lists them.
func TestMaskPolicy(t *testing.T) {
	dir := t.TempDir()
	writePolicy(t, dir, `package envoy.authz
import rego.v1
allow := true
`)
	if err := os.MkdirAll(filepath.Join(dir, "system"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "system", "mask.rego"), []byte(`package system.log
import rego.v1
mask contains "/input/attributes/request/http/headers/x-api-token"
mask contains {"op": "upsert", "path": "/input/attributes/destination/principal", "value": "***"} if input.input.attributes.destination.principal
mask contains "/result/nothing_here"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, server.Config{Policies: dir, DecisionLogOPAFormat: true, Masks: []string{}})
	req := modelCall("spiffe://nexus.local/a", nil, "")
	req.Attributes.Request.Http.Headers["x-api-token"] = "tok-123456"
	if !allowed(check(t, s, req)) {
		t.Fatal("not allowed")
	}
	line := logLines(t, s.log, 1)[0]
	raw, _ := json.Marshal(line)
	if strings.Contains(string(raw), "tok-123456") || strings.Contains(string(raw), "spiffe://nexus.local/model/triage") {
		t.Fatalf("masked values logged: %s", raw)
	}
	erased, _ := line["erased"].([]any)
	masked, _ := line["masked"].([]any)
	if len(erased) != 1 || erased[0] != "/input/attributes/request/http/headers/x-api-token" || len(masked) != 1 || masked[0] != "/input/attributes/destination/principal" {
		t.Errorf("erased %v, masked %v", erased, masked)
	}
}

// startOPAConfig starts the server from an opa-envoy-plugin config file and
// policy paths, as `nexus-authz run --server` does.
func startOPAConfig(t *testing.T, yaml string, paths []string) *running {
	t.Helper()
	oc, err := opaconfig.Parse("config.yaml", []byte(yaml), opaconfig.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var cfg server.Config
	if err := server.ApplyOPAConfig(&cfg, oc, paths, false); err != nil {
		t.Fatal(err)
	}
	return start(t, cfg)
}
