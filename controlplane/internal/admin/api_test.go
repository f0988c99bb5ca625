package admin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/admin"
	"github.com/secureai-nexus/nexus/controlplane/internal/controller"
	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
	"github.com/secureai-nexus/nexus/controlplane/internal/xds"
)

type stack struct {
	url   string
	token string
	xds   *xds.Server
	dir   string
	api   *admin.API
}

// swapAuth replaces the authenticator, as starting with --oidc-issuer would.
func (s *stack) swapAuth(t *testing.T, a admin.Authenticator) { s.api.Auth = a }

// newStack runs the API over the real controller, SQLite store and xDS
// server, as nexus-controlplane wires them.
func newStack(t testing.TB, dir string) *stack {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := mesh.LoadFile("../translate/testdata/canary.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	xs := xds.NewServer(log)
	ctrl, err := controller.New(ctx, log, m, st, xs, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := admin.LoadOrCreateToken(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	api := &admin.API{Log: log, Auth: auth, Ctrl: ctrl, Status: xs, Audit: st}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	return &stack{url: srv.URL, token: strings.TrimSpace(string(tok)), xds: xs, dir: dir, api: api}
}

func (s *stack) do(t testing.TB, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: response is not JSON: %v", method, path, err)
	}
	return resp.StatusCode, out
}

func weights(t *testing.T, s *stack) map[string]float64 {
	t.Helper()
	code, body := s.do(t, "GET", "/api/v1/admin/models", "")
	if code != 200 {
		t.Fatalf("list models: %d %v", code, body)
	}
	out := map[string]float64{}
	for _, v := range body["models"].([]any)[0].(map[string]any)["versions"].([]any) {
		vm := v.(map[string]any)
		out[vm["name"].(string)] = vm["weight"].(float64)
	}
	return out
}

func TestListModels(t *testing.T) {
	s := newStack(t, t.TempDir())
	code, body := s.do(t, "GET", "/api/v1/admin/models", "")
	if code != 200 {
		t.Fatal(code, body)
	}
	m := body["models"].([]any)[0].(map[string]any)
	if m["name"] != "triage" {
		t.Errorf("model = %v", m)
	}
	v2 := m["versions"].([]any)[1].(map[string]any)
	if v2["name"] != "v2" || v2["weight"].(float64) != 10 || len(v2["endpoints"].([]any)) != 2 || v2["endpoints"].([]any)[0] != "127.0.0.1:8002" {
		t.Errorf("v2 = %v", v2)
	}
}

func TestSetTraffic(t *testing.T) {
	s := newStack(t, t.TempDir())
	before := s.xds.Versions("model~triage")["routes"]
	code, body := s.do(t, "PUT", "/api/v1/admin/models/triage/traffic", `{"weights":{"v1":70,"v2":30}}`)
	if code != 200 {
		t.Fatal(code, body)
	}
	if body["audit_seq"].(float64) != 1 {
		t.Errorf("audit_seq = %v", body["audit_seq"])
	}
	if w := weights(t, s); w["v1"] != 70 || w["v2"] != 30 {
		t.Errorf("weights after PUT = %v", w)
	}
	if s.xds.Versions("model~triage")["routes"] == before {
		t.Error("the change was not published to the model sidecar")
	}
	code, body = s.do(t, "GET", "/api/v1/admin/audit", "")
	if code != 200 {
		t.Fatal(code, body)
	}
	rec := body["records"].([]any)[0].(map[string]any)
	if rec["actor"] != "token:local-admin" || rec["action"] != "traffic.set" || rec["target"] != "models/triage" {
		t.Errorf("audit record = %v", rec)
	}
	if b, _ := json.Marshal(rec["before"]); string(b) != `{"v1":90,"v2":10,"v3":0}` {
		t.Errorf("audit before = %s", b)
	}
	if a, _ := json.Marshal(rec["after"]); string(a) != `{"v1":70,"v2":30,"v3":0}` {
		t.Errorf("audit after = %s", a)
	}
	code, body = s.do(t, "GET", "/api/v1/admin/audit/verify", "")
	if code != 200 || body["ok"] != true || body["records"].(float64) != 1 {
		t.Errorf("verify = %d %v", code, body)
	}
}

// TestSetTrafficRejects pins the status, error code and field for each kind
// of bad request, and that the previous split keeps serving.
func TestSetTrafficRejects(t *testing.T) {
	s := newStack(t, t.TempDir())
	routes := s.xds.Versions("model~triage")["routes"]
	tests := []struct {
		name, model, body string
		status            int
		field, msg        string
	}{
		{"sum not 100", "triage", `{"weights":{"v1":50,"v2":40}}`, 400, "weights", "sum to 90; they must sum to 100"},
		{"unknown version", "triage", `{"weights":{"v1":50,"v9":50}}`, 400, "weights.v9", `model "triage" has no version "v9"`},
		{"version not validated", "triage", `{"weights":{"v1":50,"v3":50}}`, 409, "weights.v3", "version v3 of triage is registered: it may get traffic only once validated"},
		{"negative", "triage", `{"weights":{"v1":50,"v2":-10}}`, 400, "weights.v2", "must be 0..100, got -10"},
		{"fraction", "triage", `{"weights":{"v1":50.5,"v2":49.5}}`, 400, "weights.v1", "must be an integer 0..100, got 50.5"},
		{"string weight", "triage", `{"weights":{"v1":"90","v2":10}}`, 400, "weights.v1", `must be an integer 0..100, got "90"`},
		{"missing weights", "triage", `{}`, 400, "weights", "is required"},
		{"unknown field", "triage", `{"weights":{"v1":100},"weigths":{}}`, 400, "", `unknown field "weigths"`},
		{"not JSON", "triage", `{"weights":`, 400, "", "body is not valid JSON"},
		{"empty body", "triage", ``, 400, "", "body is empty"},
		{"trailing data", "triage", `{"weights":{"v1":100}} {}`, 400, "", "data after the JSON object"},
		{"unknown model", "nope", `{"weights":{"v1":100}}`, 404, "model", `no model named "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := s.do(t, "PUT", "/api/v1/admin/models/"+tt.model+"/traffic", tt.body)
			if code != tt.status {
				t.Fatalf("status = %d, want %d: %v", code, tt.status, body)
			}
			e := body["error"].(map[string]any)
			if tt.field != "" && e["field"] != tt.field {
				t.Errorf("field = %v, want %s", e["field"], tt.field)
			}
			if !strings.Contains(e["message"].(string), tt.msg) {
				t.Errorf("message = %q, want it to contain %q", e["message"], tt.msg)
			}
		})
	}
	if w := weights(t, s); w["v1"] != 90 || w["v2"] != 10 {
		t.Errorf("a rejected change altered the split: %v", w)
	}
	if s.xds.Versions("model~triage")["routes"] != routes {
		t.Error("a rejected change was pushed")
	}
	if code, body := s.do(t, "GET", "/api/v1/admin/audit", ""); code != 200 || len(body["records"].([]any)) != 0 {
		t.Errorf("rejected changes were audited: %v", body)
	}
}

func TestStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s := newStack(t, dir)
	if code, body := s.do(t, "PUT", "/api/v1/admin/models/triage/traffic", `{"weights":{"v1":0,"v2":100}}`); code != 200 {
		t.Fatal(code, body)
	}
	s2 := newStack(t, dir)
	if s2.token != s.token {
		t.Error("admin token changed across restarts")
	}
	if w := weights(t, s2); w["v1"] != 0 || w["v2"] != 100 {
		t.Errorf("weights after restart = %v", w)
	}
}

func TestNodes(t *testing.T) {
	s := newStack(t, t.TempDir())
	code, body := s.do(t, "GET", "/api/v1/admin/nodes", "")
	if code != 200 {
		t.Fatal(code, body)
	}
	nodes := body["nodes"].([]any)
	if len(nodes) != 2 {
		t.Fatalf("nodes = %v", nodes)
	}
	n := nodes[0].(map[string]any)
	if n["id"] != "model~triage" || n["role"] != "model" || n["connected"] != false || n["synced"] != false {
		t.Errorf("node = %v", n)
	}
	if n["published"].(map[string]any)["routes"] == "" {
		t.Errorf("no published routes version: %v", n)
	}
	if nodes[1].(map[string]any)["role"] != "service" {
		t.Errorf("second node = %v", nodes[1])
	}
}

func TestAuthRequired(t *testing.T) {
	s := newStack(t, t.TempDir())
	for _, tok := range []string{"", "Bearer wrong", "Basic abc", "Bearer " + s.token + "x"} {
		req, _ := http.NewRequest("GET", s.url+"/api/v1/admin/models", nil)
		if tok != "" {
			req.Header.Set("Authorization", tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: status %d", tok, resp.StatusCode)
		}
	}
	st, err := os.Stat(filepath.Join(s.dir, "admin.token"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("admin.token mode = %v, %v", st.Mode().Perm(), err)
	}
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	s := newStack(t, t.TempDir())
	resp, err := http.Get(s.url + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi = %q", doc.OpenAPI)
	}
	for _, r := range []struct{ method, path string }{
		{"get", "/api/v1/admin/models"}, {"get", "/api/v1/admin/models/{model}"},
		{"put", "/api/v1/admin/models/{model}/traffic"}, {"get", "/api/v1/admin/nodes"},
		{"get", "/api/v1/admin/audit"}, {"get", "/api/v1/admin/audit/verify"},
		{"post", "/api/v1/admin/identity/join-tokens"}, {"post", "/api/v1/admin/identity/join-tokens/revoke"},
		{"post", "/api/v1/admin/identity/rotate-root"}, {"get", "/api/v1/admin/identity/bundle"},
		{"get", "/api/v1/admin/compliance/report"},
		{"get", "/api/v1/admin/keys"}, {"post", "/api/v1/admin/keys/rotate"},
		{"get", "/api/v1/admin/keys/legal-holds"}, {"post", "/api/v1/admin/keys/legal-holds"},
		{"delete", "/api/v1/admin/keys/legal-holds/{id}"}, {"post", "/api/v1/admin/keys/leases"}, {"get", "/api/v1/admin/keys/leases/{id}"},
	} {
		if _, ok := doc.Paths[r.path][r.method]; !ok {
			t.Errorf("%s %s is not documented", r.method, r.path)
		}
	}
}

// FuzzSetTraffic sends arbitrary bodies: never a 5xx, and a rejected body
// never changes the split.
func FuzzSetTraffic(f *testing.F) {
	f.Add(`{"weights":{"v1":90,"v2":10}}`)
	f.Add(`{"weights":{"v1":1e2}}`)
	f.Add(`{"weights":null}`)
	f.Add(`[]`)
	s := newStack(f, f.TempDir())
	f.Fuzz(func(t *testing.T, body string) {
		code, out := s.do(t, "PUT", "/api/v1/admin/models/triage/traffic", body)
		if code >= 500 {
			t.Fatalf("status %d for %q: %v", code, body, out)
		}
		if code != 200 {
			if _, ok := out["error"]; !ok {
				t.Fatalf("status %d without an error object", code)
			}
		}
	})
}

// TestRequestErrors: status codes as HTTP means them — 405 with Allow,
// 413 for an oversized body, 415 for a body that is not declared JSON —
// and the field and wording of a body of the wrong JSON shape.
func TestRequestErrors(t *testing.T) {
	s := newStack(t, t.TempDir())
	withAuthority(t, s)
	send := func(method, path, ctype, body string) (int, http.Header, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+s.token)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, resp.Header, out
	}
	field := func(out map[string]any) (string, string) {
		e, _ := out["error"].(map[string]any)
		f, _ := e["field"].(string)
		m, _ := e["message"].(string)
		return f, m
	}
	if code, h, _ := send("DELETE", "/api/v1/admin/models/triage/traffic", "", ""); code != 405 || h.Get("Allow") != "PUT" {
		t.Errorf("DELETE on traffic: %d, Allow %q; want 405 and PUT", code, h.Get("Allow"))
	}
	if code, h, _ := send("POST", "/api/v1/admin/models", "application/json", "{}"); code != 405 || h.Get("Allow") != "GET" {
		t.Errorf("POST on models: %d, Allow %q; want 405 and GET", code, h.Get("Allow"))
	}
	if code, _, _ := send("GET", "/api/v1/admin/nope", "", ""); code != 404 {
		t.Errorf("unknown path: %d, want 404", code)
	}
	// Errors about the request as a whole say so with field "", present.
	wholeRequest := func(out map[string]any, code string) bool {
		e, _ := out["error"].(map[string]any)
		f, has := e["field"]
		return e["code"] == code && has && f == ""
	}
	big := `{"weights":{"v1":100},"x":"` + strings.Repeat("a", 64<<10) + `"}`
	if code, _, out := send("PUT", "/api/v1/admin/models/triage/traffic", "application/json", big); code != 413 || !wholeRequest(out, "body_too_large") {
		t.Errorf("oversized body: %d %v, want 413 body_too_large", code, out)
	}
	for _, ct := range []string{"", "text/plain"} {
		if code, _, out := send("PUT", "/api/v1/admin/models/triage/traffic", ct, `{"weights":{"v1":100}}`); code != 415 || !wholeRequest(out, "unsupported_media_type") {
			t.Errorf("content type %q: %d %v, want 415 unsupported_media_type", ct, code, out)
		}
	}
	// The join-token revocation reports its body's problems as they are,
	// not as a missing token.
	revoke := "/api/v1/admin/identity/join-tokens/revoke"
	if code, _, out := send("POST", revoke, "application/json", `{"token":"`+strings.Repeat("a", 64<<10)+`"}`); code != 413 || !wholeRequest(out, "body_too_large") {
		t.Errorf("revoke, oversized body: %d %v", code, out)
	}
	if code, _, out := send("POST", revoke, "text/plain", `{"token":"nxjt_x"}`); code != 415 || !wholeRequest(out, "unsupported_media_type") {
		t.Errorf("revoke, text/plain: %d %v", code, out)
	}
	if code, _, out := send("POST", revoke, "application/json", `{"tokn":"nxjt_x"}`); code != 400 {
		t.Errorf("revoke, unknown field: %d %v", code, out)
	} else if f, _ := field(out); f != "tokn" {
		t.Errorf("revoke, unknown field: field %q, want tokn", f)
	}
	if code, _, out := send("POST", revoke, "application/json", `{}`); code != 400 {
		t.Errorf("revoke, no token: %d %v", code, out)
	} else if f, _ := field(out); f != "token" {
		t.Errorf("revoke, no token: field %q, want token", f)
	}
	code, _, out := send("PUT", "/api/v1/admin/models/triage/traffic", "application/json", `[{"weights":{"v1":100}}]`)
	if f, m := field(out); code != 400 || !strings.Contains(m, "must be a JSON object, got a JSON array") || strings.Contains(m, "admin.") {
		t.Errorf("array body: %d field %q %q", code, f, m)
	}
	code, _, out = send("PUT", "/api/v1/admin/models/triage/traffic", "application/json", `{"weights":{"v1":100},"wieghts":{}}`)
	if f, _ := field(out); code != 400 || f != "wieghts" {
		t.Errorf("unknown field: %d field %q, want 400 and wieghts", code, f)
	}
}

// TestHalfClosedPUT: a client that half-closes its connection after
// sending a PUT still gets its change applied and answered, never a 500
// from a commit cut off by the request's cancellation.
func TestHalfClosedPUT(t *testing.T) {
	s := newStack(t, t.TempDir())
	addr := strings.TrimPrefix(s.url, "http://")
	for i := 0; i < 20; i++ {
		v1 := 10 + i
		body := fmt.Sprintf(`{"weights":{"v1":%d,"v2":%d}}`, v1, 100-v1)
		code, got := halfClosed(t, addr, fmt.Sprintf("PUT /api/v1/admin/models/triage/traffic HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
			addr, s.token, len(body), body))
		if code != 200 {
			t.Fatalf("PUT %d after a half-close: %d %s", i, code, got)
		}
		if w := weights(t, s); w["v1"] != float64(v1) {
			t.Fatalf("PUT %d answered 200 but the split is %v", i, w)
		}
	}
	// The audit reads run under the same guard: a half-closed GET of the
	// chain's verification is answered, not cut off.
	for i := 0; i < 10; i++ {
		code, got := halfClosed(t, addr, fmt.Sprintf("GET /api/v1/admin/audit/verify HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n", addr, s.token))
		if code != 200 || !strings.Contains(string(got), `"ok": true`) {
			t.Fatalf("GET audit/verify %d after a half-close: %d %s", i, code, got)
		}
	}
}

// halfClosed sends a raw HTTP request, closes its side of the connection
// at once, and returns the answer's status and body.
func halfClosed(t *testing.T, addr, request string) (int, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, got
}
