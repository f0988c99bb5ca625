package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/authz/internal/server"
)

func httpDo(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: not JSON: %s", method, url, raw)
	}
	return resp.StatusCode, out
}

func TestOPAHealth(t *testing.T) {
	dir := t.TempDir()
	writePolicy(t, dir, "package envoy.authz\nallow if {\n") // broken: nothing serves
	s := start(t, server.Config{Policies: dir})
	for _, q := range []string{"", "?bundles", "?plugins"} {
		if code, body := httpDo(t, "GET", s.http+"/health"+q, ""); code != 500 || body["error"] == "" {
			t.Errorf("health%s with no set = %d %v, want 500 with an error", q, code, body)
		}
	}
	writePolicy(t, dir, "package envoy.authz\nallow := true\n")
	waitReady(t, s)
	for _, q := range []string{"", "?bundles", "?plugins", "?plugins&exclude-plugin=bundle", "?bundles=true"} {
		if code, body := httpDo(t, "GET", s.http+"/health"+q, ""); code != 200 || len(body) != 0 {
			t.Errorf("health%s = %d %v, want 200 {}", q, code, body)
		}
	}
}

func TestOPAData(t *testing.T) {
	dir := t.TempDir()
	writePolicy(t, dir, `package envoy.authz

default allow := false

allow if input.attributes.request.http.method == "GET"

n := to_number(input.n)
`)
	s := start(t, server.Config{Policies: dir})
	waitReady(t, s)
	base := s.http + "/v1/data"
	tests := []struct {
		method, path, body string
		code               int
		result             any
		errCode            string
	}{
		{"POST", "/envoy/authz/allow", `{"input": {"attributes": {"request": {"http": {"method": "GET"}}}}}`, 200, true, ""},
		{"POST", "/envoy/authz/allow", `{"input": {}}`, 200, false, ""},
		{"POST", "/envoy/authz/allow", ``, 200, false, ""},
		{"GET", "/envoy/authz/allow", ``, 200, false, ""},
		// Undefined: 200 without a result, as OPA answers.
		{"POST", "/envoy/authz/nothing", `{"input": {}}`, 200, nil, ""},
		// A failing builtin is undefined (non-strict, as OPA).
		{"POST", "/envoy/authz/n", `{"input": {"n": "abc"}}`, 200, nil, ""},
		{"POST", "/envoy/authz/n", `{"input": {"n": "12"}}`, 200, json.Number("12"), ""},
		{"POST", "/envoy/authz/allow", `{"input": `, 400, nil, "invalid_parameter"},
		{"POST", "/envoy/authz/allow", `[1]`, 400, nil, "invalid_parameter"},
		{"PUT", "/envoy/authz/allow", `{}`, 405, nil, "invalid_parameter"},
		{"POST", "/envoy/authz/allow", `{"input": "` + strings.Repeat("x", 2<<20) + `"}`, 413, nil, "invalid_parameter"},
	}
	for _, tt := range tests {
		code, body := httpDo(t, tt.method, base+tt.path, tt.body)
		if code != tt.code {
			t.Errorf("%s %s %.40s: %d %v, want %d", tt.method, tt.path, tt.body, code, body, tt.code)
			continue
		}
		if tt.errCode != "" {
			if body["code"] != tt.errCode || body["message"] == "" {
				t.Errorf("%s %s: error body %v", tt.method, tt.path, body)
			}
			continue
		}
		if body["decision_id"] == "" {
			t.Errorf("%s %s: no decision_id", tt.method, tt.path)
		}
		got, has := body["result"]
		want := tt.result
		if n, ok := want.(json.Number); ok {
			f, _ := n.Float64()
			want = f
		}
		if (want == nil) == has || (has && got != want) {
			t.Errorf("%s %s %.40s: result %v (present %v), want %v", tt.method, tt.path, tt.body, got, has, tt.result)
		}
	}
}

// waitReady polls /readyz until a policy set serves.
func waitReady(t *testing.T, s *running) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.http + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no policy set became ready")
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestRuntimeAndPrint: opa.runtime() has the environment and labels, as in
// OPA, and print() does not break a decision.
func TestRuntimeAndPrint(t *testing.T) {
	t.Setenv("NEXUS_TEST_REALM", "clinic")
	dir := t.TempDir()
	writePolicy(t, dir, "package envoy.authz\nimport rego.v1\nallow if {\n\tprint(\"checking\", input.parsed_path)\n\topa.runtime().env.NEXUS_TEST_REALM == \"clinic\"\n\topa.runtime().config.labels.app == \"x\"\n}\n")
	s := start(t, server.Config{Policies: dir, Labels: map[string]string{"app": "x"}})
	if !allowed(check(t, s, modelCall("spiffe://nexus.local/a", nil, ""))) {
		t.Fatal("opa.runtime() did not carry the environment and labels")
	}
}
