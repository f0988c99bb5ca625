package policy

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestPrune pins what evaluation sees of an input: the values at the
// paths, shared, nothing else, and the document itself untouched.
func TestPrune(t *testing.T) {
	docJSON := `{"a":{"x":1,"y":{"z":2},"arr":[1,2]},"b":"s","c":[{"d":1}],"h":{"k":"v","other":"w"}}`
	for _, tc := range []struct {
		name  string
		paths []inputPath
		want  string
	}{
		{"one leaf", []inputPath{{"a", "x"}}, `{"a":{"x":1}}`},
		{"siblings share a parent", []inputPath{{"a", "x"}, {"a", "y", "z"}}, `{"a":{"x":1,"y":{"z":2}}}`},
		{"an index takes the array", []inputPath{{"c", 0}}, `{"c":[{"d":1}]}`},
		{"an index step under an object takes it whole, before or after a key step", []inputPath{{"a", 0}, {"a", "x"}}, `{"a":{"x":1,"y":{"z":2},"arr":[1,2]}}`},
		{"a key under a scalar takes the scalar", []inputPath{{"b", "q"}}, `{"b":"s"}`},
		{"missing stays missing", []inputPath{{"nope"}, {"h", "absent"}}, `{"h":{}}`},
		{"a header by name", []inputPath{{"h", "k"}}, `{"h":{"k":"v"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var doc, before, want map[string]any
			for _, x := range []struct {
				s string
				v *map[string]any
			}{{docJSON, &doc}, {docJSON, &before}, {tc.want, &want}} {
				if err := json.Unmarshal([]byte(x.s), x.v); err != nil {
					t.Fatal(err)
				}
			}
			got := prune(doc, minimalPaths(tc.paths))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("prune = %v, want %v", got, want)
			}
			if !reflect.DeepEqual(doc, before) {
				t.Errorf("prune changed the document: %v", doc)
			}
		})
	}
}

func TestDecisionPath(t *testing.T) {
	for q, want := range map[string]string{
		"data.envoy.authz.allow":       "envoy/authz/allow",
		`data.envoy["authz-v2"].allow`: "envoy/authz-v2/allow",
		"data.istio.authz.allow":       "istio/authz/allow",
		"data":                         "",
	} {
		if got := decisionPath(q); got != want {
			t.Errorf("%s: %q, want %q", q, got, want)
		}
	}
}

func TestWithoutPaths(t *testing.T) {
	data := map[string]any{"nexus": map[string]any{"grants": 1, "consent": map[string]any{"a": 1}, "breakglass": 2}, "other": 3}
	got := withoutPaths(data, []string{"nexus/consent", "/nexus/breakglass/", "missing/path", "other/deeper"})
	nx := got["nexus"].(map[string]any)
	if _, ok := nx["consent"]; ok || nx["grants"] != 1 || got["other"] != 3 {
		t.Fatalf("got %v", got)
	}
	if _, ok := nx["breakglass"]; ok {
		t.Fatalf("breakglass kept: %v", got)
	}
	if _, ok := data["nexus"].(map[string]any)["consent"]; !ok {
		t.Fatal("the input was changed")
	}
}
