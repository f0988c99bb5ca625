package server_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/secureai-nexus/nexus/authz/internal/decision"
	"github.com/secureai-nexus/nexus/authz/internal/decisionlog"
	"github.com/secureai-nexus/nexus/authz/internal/server"
)

type running struct {
	client authv3.AuthorizationClient
	conn   *grpc.ClientConn
	http   string
	log    string
}

func start(t testing.TB, cfg server.Config) *running {
	t.Helper()
	if cfg.Query == "" {
		cfg.Query = "data.envoy.authz.allow"
	}
	if cfg.DecisionTimeout == 0 {
		cfg.DecisionTimeout = time.Second
	}
	if cfg.MaxInputBytes == 0 {
		cfg.MaxInputBytes = 1 << 20
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	cfg.HTTPAddr = "127.0.0.1:0"
	if cfg.DecisionIDHeader == "" {
		cfg.DecisionIDHeader = "x-nexus-decision-id"
	}
	if cfg.DecisionLog == "" {
		cfg.DecisionLog = filepath.Join(t.TempDir(), "decisions.log")
	}
	if cfg.Masks == nil {
		cfg.Masks = decisionlog.DefaultMasks()
	}
	if cfg.ReloadInterval == 0 {
		cfg.ReloadInterval = 20 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan server.Ready, 1)
	done := make(chan error, 1)
	go func() { done <- server.Run(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), cfg, ready) }()
	var r server.Ready
	select {
	case r = <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(r.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return &running{client: authv3.NewAuthorizationClient(conn), conn: conn, http: "http://" + r.HTTPAddr, log: cfg.DecisionLog}
}

// modelCall is a CheckRequest as a Nexus model sidecar's Envoy sends it.
func modelCall(caller string, pii map[string]float64, purpose string) *authv3.CheckRequest {
	findings := map[string]any{}
	for k, v := range pii {
		findings[k] = v
	}
	md, _ := structpb.NewStruct(map[string]any{"findings": findings})
	body := `{"model":"triage","messages":[{"role":"user","content":"patient reports chest pain"}]}`
	headers := map[string]string{
		":authority": "triage.models.nexus.local", ":method": "POST", ":path": "/v1/chat/completions",
		"content-type": "application/json", "content-length": fmt.Sprint(len(body)),
		"authorization": "Bearer end-user-token", "x-nexus-model": "triage",
	}
	if purpose != "" {
		headers["x-nexus-purpose"] = purpose
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{
			Address:   &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: "127.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 50000}}}},
			Principal: caller,
		},
		Destination: &authv3.AttributeContext_Peer{Principal: "spiffe://nexus.local/model/triage"},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "POST", Path: "/v1/chat/completions", Host: "triage.models.nexus.local", Protocol: "HTTP/2",
			Headers: headers, Body: body, Size: int64(len(body)),
		}},
		ContextExtensions: map[string]string{"model": "triage", "policy": "nexus.models.triage"},
		MetadataContext:   &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"piiguard": md}},
	}}
}

func header(hs []*corev3.HeaderValueOption, name string) string {
	for _, h := range hs {
		if h.GetHeader().GetKey() == name {
			return h.GetHeader().GetValue()
		}
	}
	return ""
}

func logLines(t *testing.T, path string, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(b) > 0 && len(lines) >= n {
			var out []map[string]any
			for _, l := range lines {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("log line is not JSON: %v\n%s", err, l)
				}
				out = append(out, m)
			}
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("decision log has %d lines, want %d", len(lines), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestShippedPolicyOverGRPC sends Envoy-shaped CheckRequests to the real
// gRPC service running the shipped policies.
func TestShippedPolicyOverGRPC(t *testing.T) {
	s := start(t, server.Config{Policies: "../../../policies"})
	ctx := context.Background()
	clinic := "spiffe://nexus.local/ns/clinic/sa/frontdesk"

	tests := []struct {
		name     string
		req      *authv3.CheckRequest
		allowed  bool
		status   int32
		bodyHas  string
		reasonOf string
	}{
		{"granted caller", modelCall(clinic, nil, ""), true, 0, "", ""},
		{"caller without grant", modelCall("spiffe://nexus.local/ns/marketing/sa/x", nil, ""), false, 403, "has no grant for model triage", ""},
		{"no client certificate", modelCall("", nil, ""), false, 403, "no SPIFFE identity", ""},
		{"blocked PII class", modelCall(clinic, map[string]float64{"CREDIT_CARD": 1, "EMAIL": 1}, ""), false, 403, `"blocked_classes":["CREDIT_CARD"]`, ""},
		{"PHI without purpose", modelCall(clinic, map[string]float64{"MEDICAL_RECORD_NUMBER": 2}, ""), false, 403, "declare a purpose", ""},
		{"PHI with purpose", modelCall(clinic, map[string]float64{"MEDICAL_RECORD_NUMBER": 2}, "treatment"), true, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := s.client.Check(ctx, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.GetStatus().GetCode() == int32(code.Code_OK); got != tt.allowed {
				t.Fatalf("allowed = %v, want %v: %v", got, tt.allowed, resp)
			}
			if tt.allowed {
				ok := resp.GetOkResponse()
				if header(ok.GetHeaders(), "x-nexus-caller") != clinic || len(header(ok.GetHeaders(), "x-nexus-decision-id")) != 32 {
					t.Errorf("ok headers = %v", ok.GetHeaders())
				}
				return
			}
			d := resp.GetDeniedResponse()
			if int32(d.GetStatus().GetCode()) != tt.status || !strings.Contains(d.GetBody(), tt.bodyHas) {
				t.Errorf("denied %d %q, want %d with %q", d.GetStatus().GetCode(), d.GetBody(), tt.status, tt.bodyHas)
			}
			if header(d.GetHeaders(), "content-type") != "application/json" || header(d.GetHeaders(), "x-nexus-decision-id") == "" {
				t.Errorf("denied headers = %v", d.GetHeaders())
			}
			if !json.Valid([]byte(d.GetBody())) {
				t.Errorf("body is not JSON: %s", d.GetBody())
			}
		})
	}

	// The decision log: one line per decision, masked, hash-chained.
	lines := logLines(t, s.log, len(tests))
	first := lines[0]
	if first["result"] != "allow" || first["caller"] != clinic || first["model"] != "triage" || first["policy_revision"] == "" || len(first["decision_id"].(string)) != 32 {
		t.Errorf("first line = %v", first)
	}
	hdrs := first["input"].(map[string]any)["attributes"].(map[string]any)["request"].(map[string]any)["http"].(map[string]any)
	if hdrs["headers"].(map[string]any)["authorization"] != decisionlog.MaskMarker || hdrs["body"] != decisionlog.MaskMarker {
		t.Errorf("authorization/body not masked: %v", hdrs)
	}
	if first["input"].(map[string]any)["parsed_body"] != decisionlog.MaskMarker {
		t.Error("parsed_body not masked")
	}
	if lines[1]["result"] != "deny" || !strings.Contains(lines[1]["reason"].(string), "has no grant") || lines[1]["http_status"].(float64) != 403 {
		t.Errorf("deny line = %v", lines[1])
	}
	if !strings.Contains(fmt.Sprint(lines[3]["input"].(map[string]any)["nexus"]), "CREDIT_CARD") {
		t.Error("PII classes missing from the logged input")
	}
	v, err := decisionlog.Verify([]string{s.log}, func(n string) (io.ReadCloser, error) { return os.Open(n) })
	if err != nil || v.Lines != len(tests) {
		t.Fatalf("verify: %+v %v", v, err)
	}

	// Metrics count the decisions.
	resp, err := http.Get(s.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`nexus_authz_decisions_total{reason="policy",result="allow"} 2`, `nexus_authz_decisions_total{reason="policy",result="deny"} 4`, `nexus_authz_policy_loads_total{outcome="ok"} 1`, "nexus_authz_decision_duration_seconds_bucket"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func writePolicy(t *testing.T, dir, rego string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "policy.rego"), []byte(rego), 0o644); err != nil {
		t.Fatal(err)
	}
}

func check(t *testing.T, s *running, req *authv3.CheckRequest) *authv3.CheckResponse {
	t.Helper()
	resp, err := s.client.Check(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func allowed(r *authv3.CheckResponse) bool { return r.GetStatus().GetCode() == int32(code.Code_OK) }

// TestFailClosed: every failure is a deny with a reason in the log.
func TestFailClosed(t *testing.T) {
	tests := []struct {
		name   string
		rego   string
		cfg    server.Config
		req    func() *authv3.CheckRequest
		reason string
	}{
		{"policy error", "package envoy.authz\nimport rego.v1\nallow := true if input.attributes\nallow := false if input.attributes\n", server.Config{}, nil, "policy_error: /policy.rego:4: eval_conflict_error"},
		{"builtin error, strict", "package envoy.authz\nimport rego.v1\nallow := 1 / 0 if true\n", server.Config{StrictBuiltinErrors: true}, nil, "policy_error"},
		{"builtin error, as OPA", "package envoy.authz\nimport rego.v1\nallow := 1 / 0 if true\n", server.Config{}, nil, "undefined_decision"},
		{"undefined result", "package envoy.authz\nimport rego.v1\nallow if false\n", server.Config{}, nil, "undefined_decision"},
		{"invalid decision", "package envoy.authz\nimport rego.v1\nallow := {\"allowed\": \"yes\"}\n", server.Config{}, nil, `invalid_decision: decision "allowed" must be a boolean`},
		{"timeout", "package envoy.authz\nimport rego.v1\nallow if count([x | some x in numbers.range(1, 50000000)]) > 0\n", server.Config{DecisionTimeout: 20 * time.Millisecond}, nil, "check_request_timeout"},
		{"oversized input", "package envoy.authz\nimport rego.v1\nallow := true\n", server.Config{MaxInputBytes: 512}, func() *authv3.CheckRequest {
			r := modelCall("spiffe://nexus.local/a", nil, "")
			r.Attributes.Request.Http.Body = strings.Repeat("x", 4096)
			return r
		}, "input_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writePolicy(t, dir, tt.rego)
			tt.cfg.Policies = dir
			s := start(t, tt.cfg)
			req := modelCall("spiffe://nexus.local/a", nil, "")
			if tt.req != nil {
				req = tt.req()
			}
			resp := check(t, s, req)
			if allowed(resp) || resp.GetDeniedResponse().GetStatus().GetCode() != 403 {
				t.Fatalf("not denied: %v", resp)
			}
			if strings.Contains(resp.GetDeniedResponse().GetBody(), tt.reason) {
				t.Error("internal reason leaked to the client")
			}
			line := logLines(t, s.log, 1)[0]
			if !strings.HasPrefix(line["reason"].(string), tt.reason) {
				t.Errorf("logged reason %q, want %q", line["reason"], tt.reason)
			}
		})
	}
}

// TestNoPolicyYet: a broken first set still starts the service, which
// denies everything and is not ready until a good set lands.
func TestNoPolicyYet(t *testing.T) {
	dir := t.TempDir()
	writePolicy(t, dir, "package envoy.authz\nallow if {\n")
	s := start(t, server.Config{Policies: dir})
	if allowed(check(t, s, modelCall("spiffe://nexus.local/a", nil, ""))) {
		t.Fatal("allowed without a policy")
	}
	resp, err := http.Get(s.http + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(fmt.Sprint(st["last_error"]), "policy.rego:") {
		t.Errorf("readyz = %d %v", resp.StatusCode, st)
	}
	hc := healthpb.NewHealthClient(s.conn)
	h, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: "envoy.service.auth.v3.Authorization"})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health = %v %v", h, err)
	}

	// Fix it: hot reload picks it up, readiness and decisions follow.
	writePolicy(t, dir, "package envoy.authz\nimport rego.v1\nallow := true\n")
	deadline := time.Now().Add(5 * time.Second)
	for !allowed(check(t, s, modelCall("spiffe://nexus.local/a", nil, ""))) {
		if time.Now().After(deadline) {
			t.Fatal("fixed policy never served")
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, _ = http.Get(s.http + "/readyz")
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("readyz after fix = %d", resp.StatusCode)
	}
}

func TestDryRun(t *testing.T) {
	s := start(t, server.Config{Policies: "../../../policies", DryRun: true})
	resp := check(t, s, modelCall("spiffe://nexus.local/ns/marketing/sa/x", nil, ""))
	if !allowed(resp) {
		t.Fatal("dry run denied")
	}
	line := logLines(t, s.log, 1)[0]
	if line["result"] != "deny" || line["dry_run"] != true {
		t.Errorf("dry-run line = %v", line)
	}
}

// TestObjectDecisionMapping: every field of an object decision reaches the
// CheckResponse where Envoy expects it.
func TestObjectDecisionMapping(t *testing.T) {
	dir := t.TempDir()
	writePolicy(t, dir, `package envoy.authz
import rego.v1
allow := {
	"allowed": input.nexus.caller.path == "/ok",
	"headers": {"x-tenant": "clinic", "x-multi": ["a", "b"]},
	"response_headers_to_add": {"x-served-by": "nexus"},
	"request_headers_to_remove": ["authorization"],
	"query_parameters_to_set": {"tenant": "clinic"},
	"query_parameters_to_remove": ["debug"],
	"dynamic_metadata": {"tenant": "clinic", "tier": 2},
	"http_status": 429,
	"body": "slow down",
}
`)
	s := start(t, server.Config{Policies: dir})
	ok := check(t, s, modelCall("spiffe://nexus.local/ok", nil, ""))
	o := ok.GetOkResponse()
	if !allowed(ok) || header(o.GetHeaders(), "x-tenant") != "clinic" || header(o.GetResponseHeadersToAdd(), "x-served-by") != "nexus" ||
		len(o.GetHeadersToRemove()) != 1 || o.GetQueryParametersToSet()[0].GetKey() != "tenant" || o.GetQueryParametersToRemove()[0] != "debug" {
		t.Errorf("ok response = %v", ok)
	}
	if ok.GetDynamicMetadata().GetFields()["tenant"].GetStringValue() != "clinic" {
		t.Errorf("dynamic metadata = %v", ok.GetDynamicMetadata())
	}
	no := check(t, s, modelCall("spiffe://nexus.local/no", nil, ""))
	d := no.GetDeniedResponse()
	if allowed(no) || d.GetStatus().GetCode() != 429 || d.GetBody() != "slow down" || header(d.GetHeaders(), "x-multi") != "a" {
		t.Errorf("denied response = %v", no)
	}
}

// hs256 mints a JWT the way an identity provider would for the example.
func hs256(t *testing.T, secret string, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	h := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	p, _ := json.Marshal(claims)
	msg := h + "." + enc.EncodeToString(p)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(msg))
	return msg + "." + enc.EncodeToString(mac.Sum(nil))
}

// TestOpaEnvoyPluginCompatibility runs a policy in the style of
// opa-envoy-plugin's public example — written for the plugin, reading
// input.attributes.request.http, input.parsed_path and a JWT in the
// Authorization header — unchanged, in Rego v0 syntax with
// --v0-compatible, and with the plugin's path form of the query.
func TestOpaEnvoyPluginCompatibility(t *testing.T) {
	dir := t.TempDir()
	writePolicy(t, dir, `package envoy.authz

import input.attributes.request.http as http_request

default allow = false

token = {"valid": valid, "payload": payload} {
	[_, encoded] := split(http_request.headers.authorization, " ")
	[valid, _, payload] := io.jwt.decode_verify(encoded, {"secret": "secret"})
}

allow {
	is_token_valid
	action_allowed
}

is_token_valid {
	token.valid
	now := time.now_ns() / 1000000000
	token.payload.nbf <= now
	now < token.payload.exp
}

action_allowed {
	http_request.method == "GET"
	token.payload.role == "guest"
	glob.match("/people/*", [], http_request.path)
}

action_allowed {
	http_request.method == "GET"
	token.payload.role == "admin"
	glob.match("/people/*", [], http_request.path)
}

action_allowed {
	http_request.method == "POST"
	token.payload.role == "admin"
	glob.match("/people", [], http_request.path)
	lower(input.parsed_body.firstname) != base64url.decode(token.payload.sub)
}
`)
	s := start(t, server.Config{Policies: dir, V0Compatible: true, Query: "envoy/authz/allow"})
	now := time.Now().Unix()
	guest := hs256(t, "secret", map[string]any{"role": "guest", "sub": "YWxpY2U", "nbf": now - 60, "exp": now + 600})
	admin := hs256(t, "secret", map[string]any{"role": "admin", "sub": "Ym9i", "nbf": now - 60, "exp": now + 600})
	forged := hs256(t, "not-the-secret", map[string]any{"role": "admin", "sub": "Ym9i", "nbf": now - 60, "exp": now + 600})
	req := func(method, path, token, body string) *authv3.CheckRequest {
		h := map[string]string{"authorization": "Bearer " + token, ":method": method, ":path": path}
		if body != "" {
			h["content-type"] = "application/json"
		}
		return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: method, Path: path, Headers: h, Body: body, Host: "example-app",
		}}}}
	}
	tests := []struct {
		name string
		req  *authv3.CheckRequest
		want bool
	}{
		{"guest reads a person", req("GET", "/people/1", guest, ""), true},
		{"guest may not create", req("POST", "/people", guest, `{"firstname":"Charlie"}`), false},
		{"admin creates someone else", req("POST", "/people", admin, `{"firstname":"Charlie"}`), true},
		{"admin may not create themself", req("POST", "/people", admin, `{"firstname":"Bob"}`), false},
		{"forged token", req("GET", "/people/1", forged, ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := allowed(check(t, s, tt.req)); got != tt.want {
				t.Errorf("allowed = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestDecisionCache: a request that differs from an earlier one only in
// fields the policy does not read is answered from the cache (the log
// says so), /readyz and /metrics report it, and a reloaded policy set
// starts with an empty cache, so a changed grant takes effect at once.
func TestDecisionCache(t *testing.T) {
	dir := t.TempDir()
	grant := func(caller string) string {
		return "package envoy.authz\nimport rego.v1\nallow if input.nexus.caller.spiffe_id == \"" + caller + "\"\n"
	}
	caller := "spiffe://nexus.local/ns/clinic/sa/a"
	writePolicy(t, dir, grant(caller))
	s := start(t, server.Config{Policies: dir, DecisionCacheSize: 100})

	req := modelCall(caller, nil, "")
	for i := 0; i < 3; i++ {
		req.Attributes.Request.Http.Headers["x-request-id"] = fmt.Sprint(i)
		if !allowed(check(t, s, req)) {
			t.Fatalf("check %d denied", i)
		}
	}
	lines := logLines(t, s.log, 3)
	for i, l := range lines {
		if cached := l["cached"] == true; cached != (i > 0) {
			t.Errorf("log line %d cached = %v", i, l["cached"])
		}
	}
	resp, err := http.Get(s.http + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		DecisionCache struct {
			Enabled    bool     `json:"enabled"`
			InputPaths []string `json:"input_paths"`
		} `json:"decision_cache"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if !st.DecisionCache.Enabled || fmt.Sprint(st.DecisionCache.InputPaths) != "[input.nexus.caller.spiffe_id]" {
		t.Errorf("readyz decision_cache = %+v", st.DecisionCache)
	}
	resp, err = http.Get(s.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`nexus_authz_decision_cache_total{result="hit"} 2`, `nexus_authz_decision_cache_total{result="miss"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	// Revoke the grant: the next decision is evaluated by the new set.
	writePolicy(t, dir, grant("spiffe://nexus.local/ns/clinic/sa/other"))
	deadline := time.Now().Add(5 * time.Second)
	for allowed(check(t, s, req)) {
		if time.Now().After(deadline) {
			t.Fatal("revoked grant still allowed: a cached decision outlived its policy set")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestUnixSocket: --addr unix:///path serves the same service on a Unix
// socket, as opa-envoy-plugin's addr does, for a sidecar on the same host;
// a stale socket from a process that died is replaced.
func TestUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "authz.sock")
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	// Leave the file behind as a crashed process would.
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	s := start(t, server.Config{Policies: "../../../policies", Addr: "unix://" + sock})
	resp := check(t, s, modelCall(clinicCaller, nil, ""))
	if !allowed(resp) {
		t.Fatalf("check over the Unix socket: %v", resp)
	}
}

// TestRequestParseError: a request opa-envoy-plugin cannot parse is a 400
// whose body names the problem, as there, and the policy is never asked
// (here it would allow everything); the decision log has the reason.
func TestRequestParseError(t *testing.T) {
	dir := t.TempDir()
	writePolicy(t, dir, "package envoy.authz\nimport rego.v1\nallow := true\n")
	s := start(t, server.Config{Policies: dir, DryRun: true})
	tests := []struct {
		name string
		edit func(*authv3.AttributeContext_HttpRequest)
		body string
	}{
		{"invalid JSON body quoting the request", func(h *authv3.AttributeContext_HttpRequest) {
			h.Body = `{"a":1}password=hunter2`
			delete(h.Headers, "content-length")
		}, "request_parse_error: invalid character 'p' looking for beginning of value"},
		{"invalid JSON body", func(h *authv3.AttributeContext_HttpRequest) {
			h.Body = `{"model":`
			delete(h.Headers, "content-length")
		}, "request_parse_error: unexpected EOF"},
		{"invalid escape", func(h *authv3.AttributeContext_HttpRequest) { h.Path = "/public/%zz" }, `request_parse_error: invalid URL escape "%zz"`},
		{"semicolon in query", func(h *authv3.AttributeContext_HttpRequest) { h.Path = "/v1/chat?a=1;b=2" }, "request_parse_error: invalid semicolon separator in query"},
		{"content-length not a number", func(h *authv3.AttributeContext_HttpRequest) { h.Headers["content-length"] = "many" }, `request_parse_error: strconv.ParseInt: parsing "many": invalid syntax`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := modelCall("spiffe://nexus.local/a", nil, "")
			tt.edit(req.Attributes.Request.Http)
			resp := check(t, s, req)
			d := resp.GetDeniedResponse()
			if resp.GetStatus().GetCode() != 7 || d.GetStatus().GetCode() != 400 || d.GetBody() != tt.body || resp.GetStatus().GetMessage() != tt.body {
				t.Fatalf("response = %v, want a 400 with %q", resp, tt.body)
			}
			if header(d.GetHeaders(), "x-nexus-decision-id") == "" {
				t.Error("no decision id header")
			}
			// The log keeps the reason, not what it quotes of the request.
			line := logLines(t, s.log, i+1)[i]
			if line["reason"] != decision.SanitizeReason(tt.body) || line["result"] != "deny" {
				t.Errorf("logged %v", line)
			}
		})
	}
}

// TestDryRun: a policy's denial is allowed and logged as dry run, its
// metadata kept; a failure — no decision, an undefined one, no policy —
// is denied even in dry run, as opa-envoy-plugin answers those with an
// error that Envoy denies.
func TestDryRunFailures(t *testing.T) {
	for _, tt := range []struct {
		name, rego string
		allowed    bool
	}{
		{"policy denial", "package envoy.authz\nimport rego.v1\nallow := {\"allowed\": false, \"dynamic_metadata\": {\"why\": \"test\"}}\n", true},
		{"undefined", "package envoy.authz\nimport rego.v1\nallow if false\n", false},
		{"error", "package envoy.authz\nimport rego.v1\nallow := true if input.attributes\nallow := false if input.attributes\n", false},
		{"no policy", "package envoy.authz\nallow if {\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writePolicy(t, dir, tt.rego)
			s := start(t, server.Config{Policies: dir, DryRun: true})
			resp := check(t, s, modelCall("spiffe://nexus.local/a", nil, ""))
			if allowed(resp) != tt.allowed {
				t.Fatalf("allowed = %v, want %v: %v", allowed(resp), tt.allowed, resp)
			}
			if tt.allowed && resp.GetDynamicMetadata().GetFields()["why"].GetStringValue() != "test" {
				t.Errorf("dry run lost the policy's metadata: %v", resp.GetDynamicMetadata())
			}
			line := logLines(t, s.log, 1)[0]
			if line["result"] != "deny" || (line["dry_run"] == true) != tt.allowed {
				t.Errorf("logged %v", line)
			}
		})
	}
}
