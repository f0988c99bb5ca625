package policy_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/secureai-nexus/nexus/authz/internal/policy"
)

func buildSet(t *testing.T, rego string, opts policy.Options) (*policy.Set, error) {
	t.Helper()
	mod, err := ast.ParseModuleWithOpts("authz.rego", rego, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle.Bundle{Modules: []bundle.ModuleFile{{Path: "authz.rego", URL: "authz.rego", Raw: []byte(rego), Parsed: mod}}}
	if opts.Query == "" {
		opts.Query = "envoy/authz/allow"
	}
	opts.RegoVersion = ast.RegoV1
	return policy.Build(context.Background(), b, opts)
}

// A failing builtin is undefined by default, as in OPA and
// opa-envoy-plugin, so the policy's own denial (headers, body) reaches the
// client; --strict-builtin-errors makes it an error.
func TestBuiltinErrors(t *testing.T) {
	const rego = `package envoy.authz

default allow := {"allowed": false, "http_status": 401, "body": "bad token", "headers": {"www-authenticate": "Bearer"}}

allow := {"allowed": true} if {
	claims := base64url.decode(input.token)
	to_number(input.n) > 1
	claims != ""
}
`
	in := map[string]any{"token": "%%%not base64", "n": "abc"}
	lenient, err := buildSet(t, rego, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, defined, _, err := lenient.Decide(context.Background(), in)
	if err != nil || !defined {
		t.Fatalf("non-strict: %v %v", defined, err)
	}
	want := map[string]any{"allowed": false, "http_status": json.Number("401"), "body": "bad token", "headers": map[string]any{"www-authenticate": "Bearer"}}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("non-strict decision = %#v, want the default", out)
	}

	strict, err := buildSet(t, rego, policy.Options{StrictBuiltinErrors: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := strict.Decide(context.Background(), in); err == nil || !strings.Contains(err.Error(), "base64url.decode") {
		t.Errorf("strict: err = %v, want the builtin's error", err)
	}
}

func TestConstantHTTPStatus(t *testing.T) {
	tests := []struct {
		name, rego, err string
	}{
		{"object literal", `package envoy.authz
default allow := {"allowed": false, "http_status": 451}`, `authz.rego:2: http_status 451 is not a status Envoy can send`},
		{"not HTTP", `package envoy.authz
allow := {"allowed": false, "http_status": 999} if input.x`, `http_status 999 is not an HTTP status`},
		// Bound in the body: checked when it is evaluated.
		{"in a rule body", `package envoy.authz
allow := d if {
	input.x
	d := {"allowed": false, "http_status": 999}
}`, ``},
		// Allowing: opa-envoy-plugin never reads the status.
		{"allowing literal", `package envoy.authz
allow := {"allowed": true, "http_status": 451} if input.x
default allow := false`, ``},
		{"partial object", `package envoy.authz
allow.allowed := false
allow.http_status := 451`, `http_status 451 is not a status Envoy can send`},
		{"else branch", `package envoy.authz
allow := {"allowed": true} if input.ok
else := {"allowed": false, "http_status": 451}`, `451`},
		{"fine", `package envoy.authz
default allow := {"allowed": false, "http_status": 429}`, ``},
		// Computed at evaluation time: checked then, not at load.
		{"computed", `package envoy.authz
allow := {"allowed": false, "http_status": s} if s := 400 + to_number(input.n)`, ``},
		{"other rule", `package envoy.authz
other := {"http_status": 451}
default allow := false`, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := buildSet(t, tt.rego, policy.Options{})
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
		})
	}
}
