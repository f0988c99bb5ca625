package policy_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/secureai-nexus/nexus/authz/internal/policy"
)

func loadDir(t testing.TB, dir string, cacheSize int) *policy.Set {
	t.Helper()
	src, err := policy.NewSource(dir, ast.RegoV1, "")
	if err != nil {
		t.Fatal(err)
	}
	m := policy.NewManager(src, policy.Options{Query: "data.envoy.authz.allow", RegoVersion: ast.RegoV1, DecisionCacheSize: cacheSize},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := m.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m.Current()
}

// TestDecisionCachePlan pins what a set's decisions are keyed by, and that
// a policy whose decision can depend on more than named input paths is
// never cached.
func TestDecisionCachePlan(t *testing.T) {
	for _, tc := range []struct {
		name, rego string
		paths      []string
		disabled   string // substring of the reason
	}{
		{
			name: "named fields",
			rego: `allow if { input.nexus.model == "m"; input.parsed_path[0] == "v1"; input.nexus.caller.spiffe_id != "" }`,
			// input.nexus.caller.spiffe_id and input.nexus.model are read, not all of nexus.
			paths: []string{`input.nexus.caller.spiffe_id`, `input.nexus.model`, `input.parsed_path[0]`},
		},
		{
			name:  "a variable step reads everything below it",
			rego:  `allow if { some h; input.attributes.request.http.headers[h] == "x"; input.attributes.request.http.headers.authorization }`,
			paths: []string{`input.attributes.request.http.headers`},
		},
		{
			name:  "an object taken whole through a rule",
			rego:  "req := input.attributes.request.http\nallow if req.method == \"GET\"",
			paths: []string{`input.attributes.request.http`},
		},
		{
			name:  "an else branch and a function",
			rego:  "f(x) := x == input.nexus.model\n\nallow := true if { input.a == 1 } else := input.b if { f(\"m\") }",
			paths: []string{`input.a`, `input.b`, `input.nexus.model`},
		},
		{
			name:  "an import alias",
			rego:  "import input.attributes.request.http as req\n\nallow if req.method == \"GET\"",
			paths: []string{`input.attributes.request.http.method`},
		},
		{
			name:  "an input reference inside a step",
			rego:  `allow if data.grants[input.nexus.model]`,
			paths: []string{`input.nexus.model`},
		},
		{name: "the clock", rego: `allow if time.now_ns() > 0`, disabled: "time.now_ns"},
		{name: "the network", rego: `allow if http.send({"method": "GET", "url": "http://127.0.0.1:1"}).status_code == 200`, disabled: "http.send"},
		{name: "a token checked against now", rego: `allow if { [ok, _, _] := io.jwt.decode_verify(input.token, {"secret": "s"}); ok }`, disabled: "io.jwt.decode_verify"},
		{name: "randomness", rego: `allow if rand.intn("x", 10) > 3`, disabled: "rand.intn"},
		{name: "the whole input", rego: `allow if count(json.marshal(input)) > 2`, disabled: "whole input"},
		{name: "input replaced", rego: "x if input.a\nallow if x with input.a as true", disabled: "with modifier"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, map[string]string{"p.rego": "package envoy.authz\n\nimport rego.v1\n\n" + tc.rego + "\n"})
			info := loadDir(t, dir, 100).CacheInfo()
			if tc.disabled != "" {
				if info.Enabled || !strings.Contains(info.DisabledReason, tc.disabled) || !strings.Contains(info.DisabledReason, "p.rego:") {
					t.Fatalf("cache = %+v, want disabled naming %q and where", info, tc.disabled)
				}
				return
			}
			if !info.Enabled || !slices.Equal(info.InputPaths, tc.paths) {
				t.Fatalf("cache = %+v, want enabled on %q", info, tc.paths)
			}
		})
	}
	t.Run("size 0 turns it off", func(t *testing.T) {
		if info := loadDir(t, "../../../policies", 0).CacheInfo(); info.Enabled {
			t.Fatalf("cache = %+v", info)
		}
	})
}

// TestDecisionCacheShipped checks the shipped policy is cacheable and keyed
// by what it reads, not by request ids or credentials.
func TestDecisionCacheShipped(t *testing.T) {
	info := loadDir(t, "../../../policies", 100).CacheInfo()
	want := []string{
		`input.attributes.request.http.path`,
		`input.nexus`,
		`input.parsed_body.max_tokens`,
		`input.parsed_body.stream`,
		`input.parsed_path[0]`,
	}
	if !info.Enabled || !slices.Equal(info.InputPaths, want) {
		t.Fatalf("cache = %+v, want enabled on %q", info, want)
	}
}

func shippedDoc(caller, model, reqID string, maxTokens int, classes ...string) map[string]any {
	cl := []any{}
	counts := map[string]any{}
	for _, c := range classes {
		cl = append(cl, c)
		counts[c] = json.Number("1")
	}
	td, path, _ := strings.Cut(strings.TrimPrefix(caller, "spiffe://"), "/")
	return map[string]any{
		"attributes": map[string]any{"request": map[string]any{"http": map[string]any{
			"method": "POST", "path": "/v1/chat/completions",
			"headers": map[string]any{"x-request-id": reqID, "authorization": "Bearer " + reqID},
		}}},
		"parsed_path": []any{"v1", "chat", "completions"},
		"parsed_body": map[string]any{"model": model, "max_tokens": json.Number(strings.TrimSpace(jsonInt(maxTokens)))},
		"nexus": map[string]any{
			"caller": map[string]any{"spiffe_id": caller, "trust_domain": td, "path": "/" + path},
			"model":  model, "version": "", "policy": "nexus.models." + model, "purpose": "",
			"pii": map[string]any{"classes": cl, "counts": counts, "oversize": false},
		},
	}
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

// evalWhole is the reference: the whole input document evaluated, as OPA
// would without nexus-authz's pruning and cache.
func evalWhole(t testing.TB, set *policy.Set, doc map[string]any) (any, bool, error) {
	v, err := ast.InterfaceToValue(doc)
	if err != nil {
		return nil, false, err
	}
	return set.Eval(context.Background(), v)
}

// TestDecisionCacheAgreesWithEvaluation is differential: the cached set and
// the pruned uncached set give exactly the whole input's decision for every
// request; the cache hits when
// only unread fields (request id, credentials) differ, and tells apart
// requests that differ in anything the policy reads.
func TestDecisionCacheAgreesWithEvaluation(t *testing.T) {
	cached := loadDir(t, "../../../policies", 1000)
	plain := loadDir(t, "../../../policies", 0)
	ctx := context.Background()
	callers := []string{"spiffe://nexus.local/ns/clinic/sa/frontdesk", "spiffe://nexus.local/ns/research/sa/lab", "spiffe://nexus.local/ns/other/sa/x"}
	hits := 0
	for round := 0; round < 3; round++ {
		for i, caller := range callers {
			for _, tokens := range []int{100, 4096} {
				for _, classes := range [][]string{nil, {"EMAIL"}, {"CREDIT_CARD"}, {"MEDICAL_RECORD_NUMBER"}} {
					doc := shippedDoc(caller, "triage", jsonInt(round*1000+i), tokens, classes...)
					want, wantDef, err := evalWhole(t, plain, doc)
					if err != nil {
						t.Fatal(err)
					}
					if got, gotDef, _, err := plain.Decide(ctx, doc); err != nil || gotDef != wantDef || !reflect.DeepEqual(got, want) {
						t.Fatalf("pruned decision %v differs from the whole input's %v", got, want)
					}
					got, gotDef, hit, err := cached.Decide(ctx, doc)
					if err != nil {
						t.Fatal(err)
					}
					if hit != (round > 0) {
						t.Fatalf("round %d %s %d %v: hit = %v", round, caller, tokens, classes, hit)
					}
					if hit {
						hits++
					}
					if gotDef != wantDef || !reflect.DeepEqual(got, want) {
						t.Fatalf("cached decision %v differs from evaluated %v for %s %d %v", got, want, caller, tokens, classes)
					}
				}
			}
		}
	}
	if want := 2 * len(callers) * 2 * 4; hits != want {
		t.Fatalf("hits = %d, want %d", hits, want)
	}
}

// FuzzDecisionCache feeds arbitrary JSON inputs: a decision on the pruned
// input, cached or not, is always the one the whole input gives.
func FuzzDecisionCache(f *testing.F) {
	f.Add(`{"nexus":{"caller":{"spiffe_id":"spiffe://nexus.local/ns/clinic/sa/a","trust_domain":"nexus.local","path":"/ns/clinic/sa/a"},"model":"triage","version":"","policy":"nexus.models.triage","purpose":"","pii":{"classes":["EMAIL"]}},"parsed_body":{"max_tokens":10}}`, `{"nexus":{"model":"triage"}}`)
	f.Add(`{"parsed_path":["admin"],"attributes":{"request":{"http":{"path":"/api/v1/admin/x"}}}}`, `{"parsed_path":"admin"}`)
	cached := loadDir(f, "../../../policies", 64)
	plain := loadDir(f, "../../../policies", 0)
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, s := range []string{a, b, a} {
			var doc map[string]any
			dec := json.NewDecoder(strings.NewReader(s))
			dec.UseNumber()
			if dec.Decode(&doc) != nil || doc == nil {
				continue
			}
			want, wantDef, wantErr := evalWhole(t, plain, doc)
			for _, set := range []*policy.Set{plain, cached} {
				got, gotDef, _, err := set.Decide(context.Background(), doc)
				if (err != nil) != (wantErr != nil) || gotDef != wantDef || !reflect.DeepEqual(got, want) {
					t.Fatalf("input %s: decided %v %v %v, the whole input gives %v %v %v", s, got, gotDef, err, want, wantDef, wantErr)
				}
			}
		}
	})
}

// TestBodyMembers pins which parts of a body a set needs decoded.
func TestBodyMembers(t *testing.T) {
	for _, tc := range []struct {
		name, rego string
		members    []string
		ok         bool
	}{
		{"fields by name", `allow if { input.parsed_body.max_tokens < 10; input.parsed_body.model == "m"; input.parsed_body.max_tokens > 1 }`, []string{"max_tokens", "model"}, true},
		{"no body", `allow if input.nexus.model == "m"`, []string{}, true},
		{"the whole body", `allow if count(input.parsed_body) > 1`, nil, false},
		{"an array body", `allow if input.parsed_body[0] == 1`, nil, false},
		{"the whole input", `allow if count(json.marshal(input)) > 1`, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, map[string]string{"p.rego": "package envoy.authz\n\nimport rego.v1\n\n" + tc.rego + "\n"})
			members, ok := loadDir(t, dir, 0).BodyMembers()
			if ok != tc.ok || ok && !slices.Equal(members, tc.members) {
				t.Fatalf("BodyMembers = %q %v, want %q %v", members, ok, tc.members, tc.ok)
			}
		})
	}
	if members, ok := loadDir(t, "../../../policies", 0).BodyMembers(); !ok || !slices.Equal(members, []string{"max_tokens", "stream"}) {
		t.Fatalf("shipped policies: BodyMembers = %q %v", members, ok)
	}
}
