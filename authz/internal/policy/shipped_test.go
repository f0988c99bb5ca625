package policy_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/secureai-nexus/nexus/authz/internal/policy"
)

// TestShippedPolicies loads policies/ as nexus-authz does: it compiles and
// every Rego unit test in it passes (OPA's tester), or the set is refused.
func TestShippedPolicies(t *testing.T) {
	src, err := policy.NewSource("../../../policies", ast.RegoV1, "")
	if err != nil {
		t.Fatal(err)
	}
	m := policy.NewManager(src, policy.Options{Query: "data.envoy.authz.allow", RegoVersion: ast.RegoV1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := m.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := m.Status()
	if !st.Ready || st.Tests < 15 {
		t.Fatalf("status = %+v, want ready with the shipped Rego tests run", st)
	}
	t.Logf("%d Rego tests passed, revision %s", st.Tests, st.Revision)
}
