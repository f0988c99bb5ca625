package decision_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa/v1/ast"
	"google.golang.org/genproto/googleapis/rpc/code"

	"github.com/secureai-nexus/nexus/authz/internal/decision"
	"github.com/secureai-nexus/nexus/authz/internal/decisionlog"
	"github.com/secureai-nexus/nexus/authz/internal/policy"
)

type discardLog struct{}

func (discardLog) Log(decisionlog.Entry) {}

type noMetrics struct{}

func (noMetrics) Decision(string, string, time.Duration) {}
func (noMetrics) CacheLookup(bool)                       {}

func shippedEngine(tb testing.TB) *decision.Engine {
	tb.Helper()
	src, err := policy.NewSource("../../../policies", ast.RegoV1, "")
	if err != nil {
		tb.Fatal(err)
	}
	m := policy.NewManager(src, policy.Options{Query: "data.envoy.authz.allow", RegoVersion: ast.RegoV1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := m.Reload(context.Background()); err != nil {
		tb.Fatal(err)
	}
	masker, _ := decisionlog.NewMasker(decisionlog.DefaultMasks())
	return &decision.Engine{Policies: m, Log: discardLog{}, Masker: masker, Metrics: noMetrics{}, Timeout: time.Second, MaxInputBytes: 1 << 20, Now: time.Now}
}

// FuzzCheck sends arbitrary headers, bodies, paths and query strings
// through input conversion and the shipped policy: never a panic, always a
// decision (allow or deny), never an error.
func FuzzCheck(f *testing.F) {
	e := shippedEngine(f)
	f.Add("POST", "/v1/chat/completions?a=1&a=2", "application/json", `{"model":"triage","max_tokens":9999}`, "spiffe://nexus.local/ns/clinic/sa/frontdesk", "triage", "treatment")
	f.Add("GET", "/api/v1/admin/models", "", "", "spiffe://nexus.local/ns/nexus/sa/admin", "", "")
	f.Add("\x00", "%%", "application/json", "{\"a\":\xff}", "spiffe://x/\xff", "\xff", "")
	f.Fuzz(func(t *testing.T, method, path, ctype, body, principal, model, purpose string) {
		req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source: &authv3.AttributeContext_Peer{Principal: principal},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: method, Path: path, Body: body,
				Headers: map[string]string{"content-type": ctype, "x-nexus-purpose": purpose, ":path": path},
			}},
			ContextExtensions: map[string]string{"model": model, "policy": "nexus.models." + model},
		}}
		resp, err := e.Check(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		c := resp.GetStatus().GetCode()
		if c != int32(code.Code_OK) && c != int32(code.Code_PERMISSION_DENIED) {
			t.Fatalf("status %d is neither allow nor deny", c)
		}
		if c == int32(code.Code_OK) && resp.GetOkResponse() == nil || c != int32(code.Code_OK) && resp.GetDeniedResponse() == nil {
			t.Fatal("status and response disagree")
		}
	})
}

func benchRequest() *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Principal: "spiffe://nexus.local/ns/clinic/sa/frontdesk"},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "POST", Path: "/v1/chat/completions", Host: "triage.models.nexus.local",
			Headers: map[string]string{":method": "POST", ":path": "/v1/chat/completions", "content-type": "application/json", "authorization": "Bearer x", "x-nexus-model": "triage"},
			Body:    `{"model":"triage","messages":[{"role":"user","content":"patient reports chest pain"}]}`,
		}},
		ContextExtensions: map[string]string{"model": "triage", "policy": "nexus.models.triage"},
	}}
}
